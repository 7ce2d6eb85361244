"""Request and response shapes of the accounts API. IDs travel as strings: JavaScript numbers
lose precision past 2**53 and our IDs are 64-bit."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from molodets.accounts.avatars import avatar_urls
from molodets.accounts.models import ApiToken, User
from molodets.storage import Storage


class StrictModel(BaseModel):
    # A misspelt field must be an error, not silently ignored (think "pasword").
    model_config = ConfigDict(extra="forbid")


class SignUpIn(StrictModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=1024)
    display_name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    locale: str | None = Field(default=None, max_length=8)


class LoginIn(StrictModel):
    login: str = Field(max_length=320)
    password: str = Field(max_length=1024)


class TokenCreateIn(StrictModel):
    name: str = Field(max_length=100)
    login: str | None = Field(default=None, max_length=320)
    password: str | None = Field(default=None, max_length=1024)


class LinkIn(StrictModel):
    title: str = Field(default="", max_length=200)
    url: str = Field(max_length=1000)


class ProfilePatchIn(StrictModel):
    display_name: str | None = Field(default=None, max_length=200)
    bio: str | None = Field(default=None, max_length=2000)
    links: list[LinkIn] | None = Field(default=None, max_length=20)
    locale: str | None = Field(default=None, max_length=8)
    email: str | None = Field(default=None, max_length=320)
    likes_public: bool | None = None
    # Private: only approved followers see the videos; going public approves pending requests.
    is_private: bool | None = None


class PasswordChangeIn(StrictModel):
    current_password: str = Field(max_length=1024)
    new_password: str = Field(max_length=1024)


class Link(BaseModel):
    title: str
    url: str


class UserCountsOut(BaseModel):
    followers: int
    following: int
    likes: int  # likes on this user's videos


class PublicUserOut(BaseModel):
    id: str
    username: str
    display_name: str
    bio: str
    links: list[Link]
    avatar_url: str | None
    avatar_urls: dict[str, str] | None
    role: str
    counts: UserCountsOut
    # Only approved followers see a private account's videos and lists; its header is public.
    is_private: bool
    created_at: datetime

    @classmethod
    def of(cls, user: User, storage: Storage) -> PublicUserOut:
        urls = avatar_urls(storage, user)
        return cls(
            id=str(user.id),
            username=user.username,
            display_name=user.display_name,
            bio=user.bio,
            links=[Link(**link) for link in user.links],
            avatar_url=urls["256"] if urls else None,
            avatar_urls=urls,
            role=user.role,
            counts=UserCountsOut(
                followers=user.follower_count, following=user.following_count, likes=user.like_count
            ),
            is_private=user.is_private,
            created_at=user.created_at,
        )


class AccountOut(PublicUserOut):
    email: str | None
    locale: str | None
    likes_public: bool

    @classmethod
    def of(cls, user: User, storage: Storage) -> AccountOut:
        public = PublicUserOut.of(user, storage)
        return cls(
            **public.model_dump(), email=user.email, locale=user.locale, likes_public=user.likes_public
        )


class SessionOut(BaseModel):
    user: AccountOut
    csrf_token: str


class TokenOut(BaseModel):
    id: str
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None

    @classmethod
    def of(cls, token: ApiToken) -> TokenOut:
        return cls(
            id=str(token.id),
            name=token.name,
            prefix=token.prefix,
            created_at=token.created_at,
            expires_at=token.expires_at,
        )


class TokenCreatedOut(TokenOut):
    token: str = Field(description="The secret, shown once; send it as 'Authorization: Bearer <token>'.")


class TokenListOut(BaseModel):
    items: list[TokenOut]
    next_cursor: str | None
