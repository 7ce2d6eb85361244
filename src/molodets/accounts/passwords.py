"""Password hashing (argon2id) and the rules a new password must pass."""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn.frequency_lists import FREQUENCY_LISTS

from molodets.errors import Problem

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 256

_hasher = PasswordHasher()  # argon2id with the library's current recommended cost

# A password typed on a Russian keyboard layout while meaning Latin keys ("йцукен" is "qwerty").
_RU_TO_LATIN_KEYS = str.maketrans(
    "йцукенгшщзхъфывапролджэячсмитьбю",
    "qwertyuiop[]asdfghjkl;'zxcvbnm,.",
)


@lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    # zxcvbn ships the 30,000 most common leaked passwords; loading it once costs ~10 ms.
    return frozenset(FREQUENCY_LISTS["passwords"])


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


# Spent on unknown logins so that "no such user" takes as long as "wrong password".
_DUMMY_HASH = _hasher.hash("molodets-timing-equaliser")


def burn_verification_time(password: str) -> None:
    verify_password(_DUMMY_HASH, password)


def check_new_password(password: str, *, username: str, email: str | None = None) -> None:
    """Refuse passwords that are short, on the common list, or just the person's own name."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Problem(
            422,
            "password_too_short",
            f"The password must be at least {MIN_PASSWORD_LENGTH} characters long.",
            extra={"min_length": MIN_PASSWORD_LENGTH},
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise Problem(
            422, "password_too_long", f"The password must be at most {MAX_PASSWORD_LENGTH} characters."
        )
    lowered = password.casefold()
    candidates = {lowered, lowered.translate(_RU_TO_LATIN_KEYS)}
    if candidates & _common_passwords() or len(set(lowered)) <= 2:
        raise Problem(
            422, "password_too_common", "This password is too common; choose one that is harder to guess."
        )
    personal = {username.casefold()}
    if email:
        personal.add(email.casefold().split("@", 1)[0])
    if any(part and part in candidates for part in personal):
        raise Problem(422, "password_like_username", "The password must not be your username or email.")
