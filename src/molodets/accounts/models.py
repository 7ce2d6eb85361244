"""Tables of the accounts domain: users, their browser sessions and their API tokens."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from molodets.db import Base, IdMixin, TimestampMixin, utcnow


class Role(enum.StrEnum):
    USER = "user"
    MODERATOR = "moderator"
    ADMIN = "admin"


class User(IdMixin, TimestampMixin, Base):
    __tablename__ = "users"
    # Private accounts are few: feeds leave their videos out with an anti-join on this index,
    # which stays tiny instead of scanning every user.
    __table_args__ = (
        Index(
            "ix_users_private",
            "id",
            sqlite_where=text("is_private"),
            postgresql_where=text("is_private"),
        ),
    )

    # Stored lower-case (the allowed alphabet has no capitals), so uniqueness is case-insensitive.
    username: Mapped[str] = mapped_column(String(24), unique=True)
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    bio: Mapped[str] = mapped_column(Text, default="")
    links: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default=Role.USER.value)
    locale: Mapped[str | None] = mapped_column(String(8))
    # Storage key prefix of the current avatar set (content-addressed), or None.
    avatar_key: Mapped[str | None] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(default=True)
    password_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Whether anyone may see the videos this user liked (off by default, as the big apps do).
    likes_public: Mapped[bool] = mapped_column(default=False)
    # A private account approves each follower; only approved followers see its videos.
    is_private: Mapped[bool] = mapped_column(default=False)

    # Kept by the social domain in the same transaction as the rows they count, so profiles
    # never count rows; `molodets counters rebuild` recomputes them.
    follower_count: Mapped[int] = mapped_column(BigInteger, default=0)
    following_count: Mapped[int] = mapped_column(BigInteger, default=0)
    like_count: Mapped[int] = mapped_column(BigInteger, default=0)  # likes on this user's videos

    @property
    def is_moderator(self) -> bool:
        return self.role in {Role.MODERATOR.value, Role.ADMIN.value}

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN.value


class UserSession(IdMixin, Base):
    """A browser session. The cookie holds a random token; we keep only its SHA-256."""

    __tablename__ = "user_sessions"
    __table_args__ = (Index("ix_user_sessions_user_id", "user_id"),)

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    ip_address: Mapped[str] = mapped_column(String(64), default="")


class ApiToken(IdMixin, Base):
    """A personal Bearer token for apps and scripts. Only its SHA-256 is stored; the token has
    256 bits of entropy, so a fast hash is enough (unlike passwords)."""

    __tablename__ = "api_tokens"
    __table_args__ = (Index("ix_api_tokens_user_id", "user_id"),)

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    # The first characters, shown in lists so a person can tell tokens apart.
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
