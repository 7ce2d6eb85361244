"""Demo content for a newcomer's first `make run`: a few creators now; their clips come with
the media pipeline."""

from __future__ import annotations

from sqlalchemy import func, select

from molodets.accounts import service
from molodets.accounts.models import User
from molodets.db import Database, transaction
from molodets.settings import Settings

DEMO_PASSWORD = "molodets-demo-2026"  # noqa: S105 - documented demo login, printed to the operator

DEMO_CREATORS = (
    ("anna.travel", "Анна Путешественница", "Города, горы и поезда. 🚆", "ru"),
    ("chef.ivan", "Шеф Иван", "Готовлю за 60 секунд.", "ru"),
    ("dance.lab", "Dance Lab", "Short choreography every day.", "en"),
    ("cat.boris", "Кот Борис", "Официальный аккаунт кота.", "ru"),
)


def seed_demo(settings: Settings, *, only_if_empty: bool = False) -> str:
    db = Database(settings.resolved_database_url)
    try:
        with transaction(db.sessions) as session:
            if only_if_empty and session.scalar(select(func.count()).select_from(User)):
                return "demo: accounts exist already; nothing seeded"
            created = []
            for username, display_name, bio, locale in DEMO_CREATORS:
                if service.get_user_by_username(session, username) is not None:
                    continue
                user = service.do_sign_up(
                    session,
                    username=username,
                    password=DEMO_PASSWORD,
                    display_name=display_name,
                    locale=locale,
                )
                service.do_update_profile(session, user=user, bio=bio)
                created.append(username)
    finally:
        db.dispose()
    if not created:
        return "demo: demo creators exist already"
    return f"demo: created {', '.join('@' + name for name in created)} (password: {DEMO_PASSWORD})"
