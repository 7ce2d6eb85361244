"""Named operations on accounts, sessions and tokens. No HTTP here and no commit: the caller
(request, job or command) owns the transaction."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from molodets.accounts import passwords, rules
from molodets.accounts.models import ApiToken, Role, User, UserSession
from molodets.db import utcnow
from molodets.errors import Problem
from molodets.pagination import Page, paginate_newest_first

TOKEN_PREFIX = "mld_"  # noqa: S105 - a public marker that lets scanners spot leaked tokens
MAX_TOKENS_PER_USER = 50
SUPPORTED_LOCALES = ("ru", "en")


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# --- sign-up and lookup ---------------------------------------------------------------------


def do_sign_up(
    session: Session,
    *,
    username: str,
    password: str,
    display_name: str | None = None,
    email: str | None = None,
    role: Role = Role.USER,
    locale: str | None = None,
) -> User:
    clean_username = rules.check_username(username)
    clean_email = rules.check_email(email)
    name = rules.check_display_name(display_name, fallback=clean_username)
    passwords.check_new_password(password, username=clean_username, email=clean_email)
    # Hash before the first query: on SQLite the first query of a write takes the database's one
    # write lock, and argon2's ~0.1 s must not be spent holding it.
    password_hash = passwords.hash_password(password)
    if get_user_by_username(session, clean_username) is not None:
        raise Problem(409, "username_taken", "This username is already taken.")
    if clean_email and get_user_by_email(session, clean_email) is not None:
        raise Problem(409, "email_taken", "An account with this email already exists.")
    user = User(
        username=clean_username,
        email=clean_email,
        display_name=name,
        password_hash=password_hash,
        role=role.value,
        locale=locale if locale in SUPPORTED_LOCALES else None,
        bio="",
        links=[],
    )
    # A savepoint, so that losing a race to the same name leaves the caller's transaction usable.
    try:
        with session.begin_nested():
            session.add(user)
    except IntegrityError:
        raise Problem(409, "username_taken", "This username or email is already taken.") from None
    return user


def get_user_by_username(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == rules.normalise_username(username)))


def get_user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email.strip().casefold()))


def require_user_by_username(session: Session, username: str) -> User:
    user = get_user_by_username(session, username)
    if user is None or not user.is_active:
        raise Problem(404, "user_not_found", "No such user.")
    return user


def check_credentials(session: Session, *, login: str, password: str) -> User:
    """The user whose username or email is `login` and whose password matches, else 401.

    Unknown logins spend the same argon2 time as wrong passwords, so timing does not reveal
    which usernames exist. Only reads: callers may run it in a read-only session.
    """
    login = login.strip()
    user = get_user_by_email(session, login) if "@" in login.lstrip("@") else None
    if user is None:
        user = get_user_by_username(session, login)
    if user is None or not user.is_active:
        passwords.burn_verification_time(password)
        raise Problem(401, "invalid_credentials", "Wrong username, email or password.")
    if not passwords.verify_password(user.password_hash, password):
        raise Problem(401, "invalid_credentials", "Wrong username, email or password.")
    return user


def do_upgrade_password_hash(session: Session, *, user: User, password: str) -> None:
    """Re-hash a verified password stored with older argon2 parameters."""
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
        session.flush()


# --- browser sessions -------------------------------------------------------------------------


def do_start_session(
    session: Session, *, user: User, days: int, user_agent: str = "", ip_address: str = ""
) -> tuple[UserSession, str]:
    """Open a browser session; returns the row and the secret for the cookie (never stored)."""
    token = secrets.token_urlsafe(32)
    user_session = UserSession(
        token_hash=_sha256(token),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        expires_at=utcnow() + timedelta(days=days),
        user_agent=user_agent[:300],
        ip_address=ip_address[:64],
    )
    session.add(user_session)
    session.flush()
    return user_session, token


def find_session(session: Session, token: str) -> tuple[UserSession, User] | None:
    row = session.execute(
        select(UserSession, User)
        .join(User, User.id == UserSession.user_id)
        .where(UserSession.token_hash == _sha256(token))
    ).first()
    if row is None:
        return None
    user_session, user = row
    if user_session.expires_at <= utcnow() or not user.is_active:
        return None
    return user_session, user


def do_end_session(session: Session, *, session_id: int) -> None:
    session.execute(delete(UserSession).where(UserSession.id == session_id))


def do_end_all_sessions(session: Session, *, user_id: int, keep_session_id: int | None = None) -> int:
    """Log out everywhere (but the current browser when `keep_session_id` is given)."""
    statement = delete(UserSession).where(UserSession.user_id == user_id)
    if keep_session_id is not None:
        statement = statement.where(UserSession.id != keep_session_id)
    return session.execute(statement).rowcount  # type: ignore[attr-defined, no-any-return]


def do_change_password(
    session: Session, *, user: User, current_password: str, new_password: str, keep_session_id: int | None
) -> None:
    """Change the password and end every other session, so a thief holding one is cut off."""
    if not passwords.verify_password(user.password_hash, current_password):
        raise Problem(403, "wrong_password", "The current password is wrong.")
    passwords.check_new_password(new_password, username=user.username, email=user.email)
    user.password_hash = passwords.hash_password(new_password)
    user.password_changed_at = utcnow()
    do_end_all_sessions(session, user_id=user.id, keep_session_id=keep_session_id)
    session.flush()


def do_purge_expired_sessions(session: Session, *, now: datetime | None = None) -> int:
    statement = delete(UserSession).where(UserSession.expires_at <= (now or utcnow()))
    return session.execute(statement).rowcount  # type: ignore[attr-defined, no-any-return]


# --- API tokens -------------------------------------------------------------------------------


def do_create_token(
    session: Session, *, user: User, name: str, expires_in_days: int | None = None
) -> tuple[ApiToken, str]:
    name = " ".join(name.split())[:100]
    if not name:
        raise Problem(422, "invalid_token_name", "Give the token a name, such as the app that will use it.")
    active = session.scalar(
        select(func.count())
        .select_from(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    )
    if (active or 0) >= MAX_TOKENS_PER_USER:
        raise Problem(
            409, "too_many_tokens", f"At most {MAX_TOKENS_PER_USER} active tokens; revoke one first."
        )
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        token_hash=_sha256(secret),
        user_id=user.id,
        name=name,
        prefix=secret[:12],
        expires_at=utcnow() + timedelta(days=expires_in_days) if expires_in_days else None,
    )
    session.add(token)
    session.flush()
    return token, secret


def list_tokens(
    session: Session, *, user_id: int, cursor: str | None = None, limit: int | None = None
) -> Page[ApiToken]:
    statement = select(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
    return paginate_newest_first(
        session, statement, model=ApiToken, keys=[ApiToken.id], cursor=cursor, limit=limit
    )


def do_revoke_token(session: Session, *, user_id: int, token_id: int) -> None:
    result = session.execute(
        update(ApiToken)
        .where(ApiToken.id == token_id, ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise Problem(404, "token_not_found", "No such token.")


# Built once: every API request runs it, and building a statement costs more than running it.
_TOKEN_WITH_USER = (
    select(ApiToken, User)
    .join(User, User.id == ApiToken.user_id)
    .where(ApiToken.token_hash == bindparam("hash"))
)


def find_token(session: Session, secret: str) -> tuple[ApiToken, User] | None:
    if not secret.startswith(TOKEN_PREFIX):
        return None
    row = session.execute(_TOKEN_WITH_USER, {"hash": _sha256(secret)}).first()
    if row is None:
        return None
    token, user = row
    now = utcnow()
    if token.revoked_at is not None or (token.expires_at and token.expires_at <= now) or not user.is_active:
        return None
    return token, user


# --- profile ----------------------------------------------------------------------------------


def do_update_profile(
    session: Session,
    *,
    user: User,
    display_name: str | None = None,
    bio: str | None = None,
    links: list[tuple[str, str]] | None = None,
    locale: str | None = None,
    email: str | None = None,
    likes_public: bool | None = None,
) -> User:
    """Apply the fields that were given (None = leave as is)."""
    if likes_public is not None:
        user.likes_public = likes_public
    if display_name is not None:
        user.display_name = rules.check_display_name(display_name, fallback=user.username)
    if bio is not None:
        user.bio = rules.check_bio(bio)
    if links is not None:
        user.links = rules.check_links(links)
    if locale is not None:
        if locale not in (*SUPPORTED_LOCALES, ""):
            raise Problem(422, "invalid_locale", f"Language must be one of: {', '.join(SUPPORTED_LOCALES)}.")
        user.locale = locale or None
    if email is not None:
        clean_email = rules.check_email(email)
        if clean_email and clean_email != user.email:
            other = get_user_by_email(session, clean_email)
            if other is not None and other.id != user.id:
                raise Problem(409, "email_taken", "An account with this email already exists.")
        user.email = clean_email
    session.flush()
    return user


def do_set_role(session: Session, *, user: User, role: Role) -> None:
    user.role = role.value
    session.flush()
