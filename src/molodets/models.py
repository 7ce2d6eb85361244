"""Every domain's tables, imported in one place so Alembic sees the whole schema."""

from molodets.accounts.models import ApiToken, User, UserSession
from molodets.db import Base

__all__ = ["ApiToken", "Base", "User", "UserSession"]
