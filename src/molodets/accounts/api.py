"""Accounts API: sign-up, sessions, tokens, the current account and public profiles."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, UploadFile
from starlette.concurrency import run_in_threadpool

from molodets.accounts import avatars, flows, service
from molodets.accounts.auth import CurrentUser, ViewerDep, clear_session_cookies
from molodets.accounts.schemas import (
    AccountOut,
    LoginIn,
    PasswordChangeIn,
    ProfilePatchIn,
    PublicUserOut,
    SessionOut,
    SignUpIn,
    TokenCreatedOut,
    TokenCreateIn,
    TokenListOut,
    TokenOut,
)
from molodets.errors import Problem
from molodets.http import DbSession, RuntimeDep
from molodets.ids import parse_id
from molodets.social import privacy
from molodets.social import service as social

router = APIRouter(prefix="/api/v1", tags=["accounts"])


def _parse_id(raw: str) -> int:
    number = parse_id(raw)
    if number is None:
        raise Problem(404, "not_found", "No such object.")
    return number


@router.post("/accounts", status_code=201, response_model=AccountOut)
def sign_up(
    body: SignUpIn, request: Request, response: Response, db: DbSession, runtime: RuntimeDep
) -> AccountOut:
    user = flows.sign_up(
        request,
        db,
        username=body.username,
        password=body.password,
        display_name=body.display_name,
        email=body.email,
        locale=body.locale,
    )
    flows.start_browser_session(request, response, db, user=user)
    return AccountOut.of(user, runtime.storage)


@router.post("/sessions", response_model=SessionOut)
def log_in(
    body: LoginIn, request: Request, response: Response, db: DbSession, runtime: RuntimeDep
) -> SessionOut:
    user = flows.check_login(request, db, login=body.login, password=body.password)
    user_session = flows.start_browser_session(request, response, db, user=user)
    return SessionOut(user=AccountOut.of(user, runtime.storage), csrf_token=user_session.csrf_token)


@router.delete("/sessions/current", status_code=204)
def log_out(viewer: ViewerDep, db: DbSession, response: Response) -> None:
    if viewer.session is not None:
        service.do_end_session(db, session_id=viewer.session.id)
    clear_session_cookies(response)


@router.delete("/sessions", status_code=204)
def log_out_everywhere(user: CurrentUser, db: DbSession, response: Response) -> None:
    """End every browser session of this account, the current one included."""
    service.do_end_all_sessions(db, user_id=user.id)
    clear_session_cookies(response)


@router.post("/tokens", status_code=201, response_model=TokenCreatedOut)
def create_token(body: TokenCreateIn, request: Request, viewer: ViewerDep, db: DbSession) -> TokenCreatedOut:
    if body.login is not None or body.password is not None:
        if body.login is None or body.password is None:
            raise Problem(422, "validation_error", "Give both login and password, or neither.")
        user = flows.check_login(request, db, login=body.login, password=body.password)
    elif viewer.user is not None:
        user = viewer.user
    else:
        raise Problem(401, "unauthenticated", "Log in or give login and password.")
    token, secret = flows.issue_token(request, db, user=user, name=body.name)
    return TokenCreatedOut(**TokenOut.of(token).model_dump(), token=secret)


@router.get("/tokens", response_model=TokenListOut)
def list_tokens(
    user: CurrentUser, db: DbSession, cursor: str | None = None, limit: int | None = None
) -> TokenListOut:
    page = service.list_tokens(db, user_id=user.id, cursor=cursor, limit=limit)
    return TokenListOut(items=[TokenOut.of(token) for token in page.items], next_cursor=page.next_cursor)


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_token(token_id: str, user: CurrentUser, db: DbSession) -> None:
    service.do_revoke_token(db, user_id=user.id, token_id=_parse_id(token_id))


@router.get("/me", response_model=AccountOut)
def get_me(user: CurrentUser, runtime: RuntimeDep) -> AccountOut:
    return AccountOut.of(user, runtime.storage)


@router.patch("/me", response_model=AccountOut)
def update_me(body: ProfilePatchIn, user: CurrentUser, db: DbSession, runtime: RuntimeDep) -> AccountOut:
    service.do_update_profile(
        db,
        user=user,
        display_name=body.display_name,
        bio=body.bio,
        links=[(link.title, link.url) for link in body.links] if body.links is not None else None,
        locale=body.locale,
        email=body.email,
        likes_public=body.likes_public,
    )
    if body.is_private is not None:
        privacy.do_set_private(db, user=user, private=body.is_private)
    return AccountOut.of(user, runtime.storage)


@router.put("/me/password", status_code=204)
def change_password(body: PasswordChangeIn, viewer: ViewerDep, user: CurrentUser, db: DbSession) -> None:
    service.do_change_password(
        db,
        user=user,
        current_password=body.current_password,
        new_password=body.new_password,
        keep_session_id=viewer.session.id if viewer.session else None,
    )


async def read_limited(upload: UploadFile, limit: int) -> bytes:
    """Read an uploaded file, refusing it as soon as it passes `limit` bytes."""
    chunks, total = [], 0
    while chunk := await upload.read(256 * 1024):
        total += len(chunk)
        if total > limit:
            raise Problem(413, "file_too_large", f"The file is larger than {limit // (1024 * 1024)} MB.")
        chunks.append(chunk)
    return b"".join(chunks)


@router.put("/me/avatar", response_model=AccountOut)
async def set_avatar(file: UploadFile, user: CurrentUser, db: DbSession, runtime: RuntimeDep) -> AccountOut:
    data = await read_limited(file, runtime.settings.avatar_max_bytes)
    # Decoding and resizing take tens of milliseconds of CPU: keep them off the event loop.
    await run_in_threadpool(avatars.do_set_avatar, db, runtime.storage, user=user, data=data)
    return AccountOut.of(user, runtime.storage)


@router.delete("/me/avatar", response_model=AccountOut)
def remove_avatar(user: CurrentUser, db: DbSession, runtime: RuntimeDep) -> AccountOut:
    avatars.do_remove_avatar(db, runtime.storage, user=user)
    return AccountOut.of(user, runtime.storage)


@router.get("/users/{username}", response_model=PublicUserOut)
def get_user(username: str, viewer: ViewerDep, db: DbSession, runtime: RuntimeDep) -> PublicUserOut:
    user = social.require_visible_user(db, username=username, viewer=viewer.user)
    return PublicUserOut.of(user, runtime.storage)
