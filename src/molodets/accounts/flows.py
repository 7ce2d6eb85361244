"""Sign-up, login and token issue as the API and the pages both run them: the service
operations plus rate limits and cookies, so neither door is weaker than the other."""

from __future__ import annotations

from fastapi import Request, Response
from sqlalchemy.orm import Session

from molodets.accounts import service
from molodets.accounts.auth import set_session_cookies
from molodets.accounts.models import ApiToken, User, UserSession
from molodets.errors import Problem
from molodets.events import guests
from molodets.events import service as events
from molodets.http import client_ip, get_runtime
from molodets.ratelimit import rule

SIGNUP_PER_IP = rule("signup-ip", "20/hour", message="Too many sign-ups from this address; try again later.")
LOGIN_PER_IP = rule("login-ip", "60/10 minutes", message="Too many login attempts; try again later.")
LOGIN_FAILURES_PER_ACCOUNT = rule(
    "login-fail",
    "5/15 minutes",
    code="too_many_attempts",
    message="Too many wrong passwords for this account; try again later.",
)
TOKENS_PER_IP = rule("token-ip", "30/hour", message="Too many tokens created; try again later.")


def sign_up(
    request: Request,
    db: Session,
    *,
    username: str,
    password: str,
    display_name: str | None,
    email: str | None,
    locale: str | None = None,
) -> User:
    get_runtime(request).limiter.hit(SIGNUP_PER_IP, client_ip(request))
    return service.do_sign_up(
        db, username=username, password=password, display_name=display_name, email=email, locale=locale
    )


def check_login(request: Request, db: Session, *, login: str, password: str) -> User:
    """Credentials checked under two limits: per address (spraying many accounts) and per
    account (guessing one password); the per-account lock-out is checked before the password so
    a locked account cannot be probed further."""
    runtime = get_runtime(request)
    account_key = login.strip().casefold()[:254]
    runtime.limiter.hit(LOGIN_PER_IP, client_ip(request))
    runtime.limiter.check(LOGIN_FAILURES_PER_ACCOUNT, account_key)
    # The password is verified in a short read-only session, before the request's own (writing)
    # transaction begins: on SQLite that one holds the only write lock, and argon2 takes ~0.1 s.
    try:
        with runtime.db.statement_reads() as reader:
            user_id = service.check_credentials(reader, login=login, password=password).id
    except Problem:
        runtime.limiter.hit(LOGIN_FAILURES_PER_ACCOUNT, account_key)
        raise
    user = db.get(User, user_id)
    if user is None or not user.is_active:  # deleted or disabled in the meantime
        raise Problem(401, "invalid_credentials", "Wrong username, email or password.")
    service.do_upgrade_password_hash(db, user=user, password=password)
    return user


def start_browser_session(request: Request, response: Response, db: Session, *, user: User) -> UserSession:
    settings = get_runtime(request).settings
    user_session, token = service.do_start_session(
        db,
        user=user,
        days=settings.session_days,
        user_agent=request.headers.get("user-agent", ""),
        ip_address=client_ip(request),
    )
    set_session_cookies(
        request, response, token=token, csrf_token=user_session.csrf_token, days=settings.session_days
    )
    guest = guests.guest_id(request)
    if guest is not None:
        # What this browser watched as a guest now teaches the account's feed; a later guest on
        # this browser starts afresh instead of adding to this account.
        events.adopt_guest_history(db, guest=guest, user_id=user.id)
        response.delete_cookie(guests.GUEST_COOKIE, path="/")
    return user_session


def issue_token(request: Request, db: Session, *, user: User, name: str) -> tuple[ApiToken, str]:
    get_runtime(request).limiter.hit(TOKENS_PER_IP, client_ip(request))
    return service.do_create_token(db, user=user, name=name)
