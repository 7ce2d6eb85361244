"""Account pages: sign-up, login, logout, profiles and settings, as plain HTML forms.

Handlers are thin: they call the same `flows`/`service`/`avatars` functions as the API. A
`Problem` from a form post rolls the transaction back and re-renders the form with the reader's
input (never the passwords), a translated message and the problem's status. Successful posts
redirect with 303 (Post/Redirect/Get).
"""

from __future__ import annotations

from typing import Annotated, Any

from babel.dates import format_date
from fastapi import APIRouter, Query, Request
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from molodets.accounts import avatars, flows, rules, service
from molodets.accounts.auth import Viewer, ViewerDep, clear_session_cookies
from molodets.accounts.models import User
from molodets.errors import Problem
from molodets.http import DbSession, RuntimeDep, get_runtime
from molodets.ids import parse_id
from molodets.pagination import MAX_LIMIT, Page
from molodets.social import privacy
from molodets.social import service as social
from molodets.videos import queries as video_queries
from molodets.videos import service as video_service
from molodets.videos.models import Video
from molodets.videos.pages import plural_forms
from molodets.web import i18n
from molodets.web.forms import (
    PROBLEM_FIELDS,
    FormDep,
    field,
    login_redirect,
    problem_headers,
    safe_next,
    see_other,
    upload,
)
from molodets.web.sections import grid_strings
from molodets.web.templating import render, render_error_page_sync, request_locale

router = APIRouter(include_in_schema=False)

# Where a form post from a logged-out browser (an expired session) is sent: back to the settings.
SETTINGS_LOGIN = "/login?next=/settings"
TOKENS_SHOWN = min(service.MAX_TOKENS_PER_USER, MAX_LIMIT)
NextParam = Annotated[str | None, Query(alias="next", max_length=2000)]


def _problem_context(problem: Problem, field_names: dict[str, str] | None = None) -> dict[str, Any]:
    """What a form needs to show a problem: its code and the field it is about (if any)."""
    error_field = PROBLEM_FIELDS.get(problem.code)
    if field_names and error_field in field_names:
        error_field = field_names[error_field]
    return {"error": problem.code, "error_field": error_field}


def _form_problem(
    request: Request, viewer: Viewer, db: Session, problem: Problem, template: str, context: dict[str, Any]
) -> Response:
    """Undo the failed operation and show the form again with the problem beside its field."""
    db.rollback()
    return render(
        request,
        viewer,
        template,
        {**context, **_problem_context(problem)},
        status=problem.status,
        headers=problem_headers(problem),
    )


# --- sign-up, login, logout ---------------------------------------------------------------------


@router.get("/signup")
def signup_page(request: Request, viewer: ViewerDep, next_url: NextParam = None) -> Response:
    if viewer.is_authenticated:
        return see_other("/")
    context = {"form": {"username": "", "display_name": "", "email": ""}, "next": safe_next(next_url, "")}
    return render(request, viewer, "signup.html", {**context, "error": None, "error_field": None})


@router.post("/signup")
def signup(request: Request, viewer: ViewerDep, db: DbSession, form: FormDep) -> Response:
    if viewer.is_authenticated:
        return see_other("/")
    values = {name: field(form, name) for name in ("username", "display_name", "email")}
    target = safe_next(field(form, "next"))
    try:
        user = flows.sign_up(
            request,
            db,
            username=values["username"],
            password=field(form, "password"),
            display_name=values["display_name"] or None,
            email=values["email"] or None,
            # The language they signed up in becomes the account's, so it follows them.
            locale=request_locale(request, None),
        )
        response = see_other(target)
        flows.start_browser_session(request, response, db, user=user)
    except Problem as problem:
        context = {"form": values, "next": safe_next(field(form, "next"), "")}
        return _form_problem(request, viewer, db, problem, "signup.html", context)
    return response


@router.get("/login")
def login_page(request: Request, viewer: ViewerDep, next_url: NextParam = None) -> Response:
    if viewer.is_authenticated:
        return see_other(safe_next(next_url))
    context = {"form": {"login": ""}, "next": safe_next(next_url, ""), "error": None}
    return render(request, viewer, "login.html", context)


@router.post("/login")
def login(request: Request, viewer: ViewerDep, db: DbSession, form: FormDep) -> Response:
    if viewer.is_authenticated:
        return see_other("/")
    login_value = field(form, "login")
    try:
        user = flows.check_login(request, db, login=login_value, password=field(form, "password"))
        response = see_other(safe_next(field(form, "next")))
        flows.start_browser_session(request, response, db, user=user)
    except Problem as problem:
        context = {"form": {"login": login_value}, "next": safe_next(field(form, "next"), "")}
        return _form_problem(request, viewer, db, problem, "login.html", context)
    return response


@router.get("/logout")
def logout_page(request: Request, viewer: ViewerDep) -> Response:
    # Logging out changes state, so it is a POST; this page is the form for it.
    if not viewer.is_authenticated:
        return see_other("/")
    return render(request, viewer, "logout.html")


@router.post("/logout")
def logout(viewer: ViewerDep, db: DbSession) -> Response:
    if viewer.session is not None:
        service.do_end_session(db, session_id=viewer.session.id)
    response = see_other("/")
    clear_session_cookies(response)
    return response


# --- profiles -----------------------------------------------------------------------------------


PROFILE_TABS = ("videos", "liked", "saved")
TAB_APIS = {
    "videos": "/api/v1/users/{username}/videos",
    "liked": "/api/v1/users/{username}/liked",
    "saved": "/api/v1/me/bookmarks",
}
# Six rows of three: a phone screen and a half, so the next page is asked for before the end shows.
GRID_PAGE = 18
TabParam = Annotated[str, Query(max_length=16)]
CursorParam = Annotated[str | None, Query(max_length=512)]


@router.get("/@{username}")
def profile(
    username: str,
    request: Request,
    viewer: ViewerDep,
    db: DbSession,
    runtime: RuntimeDep,
    tab: TabParam = "videos",
    cursor: CursorParam = None,
) -> Response:
    try:
        user = social.require_visible_user(db, username=username, viewer=viewer.user)
    except Problem as problem:
        return render_error_page_sync(request, problem.status, problem.code, viewer=viewer)
    if user.username != username:
        # One address per profile: /@Anna and /@@anna lead to /@anna.
        return RedirectResponse(f"/@{user.username}", status_code=301)
    is_owner = viewer.user is not None and viewer.user.id == user.id
    # Saved videos are private to their owner; anyone else asking sees the videos tab.
    if tab not in PROFILE_TABS or (tab == "saved" and not is_owner):
        tab = "videos"
    locale = request_locale(request, viewer.user)
    urls = avatars.avatar_urls(runtime.storage, user)
    follow = _follow_context(db, user=user, viewer=viewer.user, is_owner=is_owner)
    try:
        if follow["locked"]:  # a private account: its header, and a way to ask to follow
            page, likes_hidden = Page[Video](items=[], next_cursor=None), False
        else:
            page, likes_hidden = _profile_tab(db, tab=tab, user=user, viewer=viewer.user, cursor=cursor)
    except Problem as problem:  # a cursor we did not make
        return render_error_page_sync(request, problem.status, problem.code, viewer=viewer)
    authors = {user.id: user} if tab == "videos" else None  # liked and saved: many authors
    videos = video_queries.video_outs(db, runtime.storage, page.items, authors, viewer=viewer.user)
    next_cursor = page.next_cursor
    context = {
        **follow,
        "profile": user,
        "avatar_url": urls["256"] if urls else None,
        "is_owner": is_owner,
        # Whether the viewer blocked this person (the "⋯" menu offers to unblock): one query.
        "blocked": viewer.user is not None
        and not is_owner
        and social.is_blocked_by(db, viewer_id=user.id, owner_id=viewer.user.id),
        "joined": format_date(user.created_at, format="long", locale=locale),
        "counts": {
            "following": user.following_count,
            "followers": user.follower_count,
            "likes": user.like_count,
        },
        # The follow button's script rewords the count from these (plural forms of the locale).
        "followers_forms": plural_forms(locale, *i18n.COUNTERS["followers"]),
        "tab": tab,
        "videos": videos,
        "next_cursor": next_cursor,
        "likes_hidden": likes_hidden,
        "continued": cursor is not None,
        "grid_config": {
            "api": TAB_APIS[tab].format(username=user.username),
            "limit": GRID_PAGE,
            # A profile's own videos open the player on that profile's list; liked and saved
            # ones (of many authors) continue with For You.
            "link_suffix": "?source=profile" if tab == "videos" else "",
            "strings": grid_strings(locale),
        },
    }
    return render(request, viewer, "profile.html", context)


def _follow_context(db: Session, *, user: User, viewer: User | None, is_owner: bool) -> dict[str, Any]:
    """The follow button's state ("guest", "owner", "following", "requested", "none"), whether
    the profile's videos are hidden from the viewer (a private account they do not follow), and
    for the owner of a private account how many people wait for approval. No query for guests."""
    if viewer is None:
        state, following = "guest", False
    elif is_owner:
        state, following = "owner", False
    else:
        relation = privacy.follow_state(db, viewer=viewer, user=user)
        following = relation.following
        state = "following" if following else "requested" if relation.requested else "none"
    pending = privacy.count_requests(db, user=user) if is_owner and user.is_private else 0
    return {
        "follow_state": state,
        "locked": not privacy.can_see_account(db, owner=user, viewer=viewer, following=following),
        "pending_requests": pending,
        "pending_capped": pending >= privacy.REQUESTS_COUNT_CAP,
    }


def _profile_tab(
    db: Session, *, tab: str, user: User, viewer: User | None, cursor: str | None
) -> tuple[Page[Video], bool]:
    """The first page of a profile tab, and whether the tab is hidden from this viewer."""
    if tab == "videos":
        return video_service.list_user_videos(
            db, author=user, viewer=viewer, cursor=cursor, limit=GRID_PAGE
        ), False
    if tab == "liked":
        try:
            social.check_likes_visible(owner=user, viewer=viewer)
        except Problem:
            return Page(items=[], next_cursor=None), True
        return social.list_liked(db, user=user, viewer=viewer, cursor=cursor, limit=GRID_PAGE), False
    return social.list_bookmarks(db, user=user, cursor=cursor, limit=GRID_PAGE), False


# --- settings -----------------------------------------------------------------------------------


def _profile_form(user: User) -> dict[str, Any]:
    links = [{"title": link.get("title", ""), "url": link.get("url", "")} for link in user.links]
    return {
        "display_name": user.display_name,
        "bio": user.bio,
        "email": user.email or "",
        "locale": user.locale or "",
        "links": _pad_links(links),
        "is_private": user.is_private,
    }


def _pad_links(links: list[dict[str, str]]) -> list[dict[str, str]]:
    return links + [{"title": "", "url": ""}] * max(0, rules.LINKS_MAX - len(links))


def _settings_context(
    request: Request, db: Session, user: User, *, form: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    urls = avatars.avatar_urls(get_runtime(request).storage, user)
    locale = request_locale(request, user)
    context: dict[str, Any] = {
        "form": form or _profile_form(user),
        # One page holds them all: the service caps active tokens below a page's maximum.
        "tokens": service.list_tokens(db, user_id=user.id, limit=TOKENS_SHOWN).items,
        "avatar_url": urls["256"] if urls else None,
        "avatar_max_bytes": get_runtime(request).settings.avatar_max_bytes,
        "saved": request.query_params.get("saved"),
        "format_date": lambda value: format_date(value, format="medium", locale=locale),
        "error": None,
        "error_field": None,
        "error_section": None,
        "new_token": None,
    }
    return {**context, **extra}


def _settings_problem(
    request: Request,
    viewer: Viewer,
    db: Session,
    user: User,
    problem: Problem,
    section: str,
    form: dict[str, Any] | None = None,
) -> Response:
    """The settings page again, with the problem shown in the section whose form failed."""
    db.rollback()
    # On this page the new password's field is "new_password", not the sign-up form's "password".
    field_names = {"password": "new_password"} if section == "password" else None
    context = _settings_context(request, db, user, form=form, error_section=section)
    context.update(_problem_context(problem, field_names))
    return render(
        request, viewer, "settings.html", context, status=problem.status, headers=problem_headers(problem)
    )


@router.get("/settings")
def settings_page(request: Request, viewer: ViewerDep, db: DbSession) -> Response:
    if viewer.user is None:
        return login_redirect(request)
    return render(request, viewer, "settings.html", _settings_context(request, db, viewer.user))


@router.post("/settings")
def update_profile(request: Request, viewer: ViewerDep, db: DbSession, form: FormDep) -> Response:
    user = viewer.user
    if user is None:
        return see_other(SETTINGS_LOGIN)
    rows = [(field(form, f"link_title_{i}"), field(form, f"link_url_{i}")) for i in range(rules.LINKS_MAX)]
    # Empty rows are the blanks of the form; a title without an address is an error the rules report.
    links = [(title, url) for title, url in rows if title.strip() or url.strip()]
    values = {name: field(form, name) for name in ("display_name", "bio", "email", "locale")}
    # An unticked checkbox sends nothing: its absence means a public account.
    is_private = field(form, "is_private") == "on"
    try:
        service.do_update_profile(
            db,
            user=user,
            display_name=values["display_name"],
            bio=values["bio"],
            links=links,
            locale=values["locale"],
            email=values["email"],
        )
        if is_private != user.is_private:
            privacy.do_set_private(db, user=user, private=is_private)
    except Problem as problem:
        form_values = {
            **values,
            "links": _pad_links([{"title": t, "url": u} for t, u in rows]),
            "is_private": is_private,
        }
        return _settings_problem(request, viewer, db, user, problem, "profile", form_values)
    return see_other("/settings?saved=profile")


@router.post("/settings/avatar")
def set_avatar(
    request: Request, viewer: ViewerDep, db: DbSession, runtime: RuntimeDep, form: FormDep
) -> Response:
    user = viewer.user
    if user is None:
        return see_other(SETTINGS_LOGIN)
    limit = runtime.settings.avatar_max_bytes
    try:
        file = upload(form, "avatar")
        if file is None or not file.filename:
            raise Problem(422, "not_an_image", "No file was chosen.")
        data = file.file.read(limit + 1)
        if len(data) > limit:
            raise Problem(413, "file_too_large", "The file is too large.")
        avatars.do_set_avatar(db, runtime.storage, user=user, data=data)
    except Problem as problem:
        return _settings_problem(request, viewer, db, user, problem, "avatar")
    return see_other("/settings?saved=avatar#avatar")


@router.post("/settings/avatar/delete")
def remove_avatar(viewer: ViewerDep, db: DbSession, runtime: RuntimeDep) -> Response:
    user = viewer.user
    if user is None:
        return see_other(SETTINGS_LOGIN)
    avatars.do_remove_avatar(db, runtime.storage, user=user)
    return see_other("/settings?saved=avatar_removed#avatar")


@router.post("/settings/password")
def change_password(request: Request, viewer: ViewerDep, db: DbSession, form: FormDep) -> Response:
    user = viewer.user
    if user is None:
        return see_other(SETTINGS_LOGIN)
    try:
        service.do_change_password(
            db,
            user=user,
            current_password=field(form, "current_password"),
            new_password=field(form, "new_password"),
            keep_session_id=viewer.session.id if viewer.session else None,
        )
    except Problem as problem:
        return _settings_problem(request, viewer, db, user, problem, "password")
    return see_other("/settings?saved=password#password")


@router.post("/settings/sessions")
def log_out_everywhere(viewer: ViewerDep, db: DbSession) -> Response:
    user = viewer.user
    if user is None:
        return see_other(SETTINGS_LOGIN)
    service.do_end_all_sessions(db, user_id=user.id)
    response = see_other("/login")
    clear_session_cookies(response)
    return response


@router.post("/settings/tokens")
def create_token(request: Request, viewer: ViewerDep, db: DbSession, form: FormDep) -> Response:
    user = viewer.user
    if user is None:
        return see_other(SETTINGS_LOGIN)
    try:
        token, secret = flows.issue_token(request, db, user=user, name=field(form, "name"))
    except Problem as problem:
        return _settings_problem(request, viewer, db, user, problem, "tokens")
    # Rendered, not redirected: the secret is shown this once and must not travel in a URL or be
    # kept anywhere to show after a redirect.
    new_token = {"name": token.name, "secret": secret}
    return render(request, viewer, "settings.html", _settings_context(request, db, user, new_token=new_token))


@router.post("/settings/tokens/{token_id}/revoke")
def revoke_token(token_id: str, request: Request, viewer: ViewerDep, db: DbSession) -> Response:
    user = viewer.user
    if user is None:
        return see_other(SETTINGS_LOGIN)
    try:
        number = parse_id(token_id)
        if number is None:
            raise Problem(404, "token_not_found", "No such token.")
        service.do_revoke_token(db, user_id=user.id, token_id=number)
    except Problem as problem:
        return _settings_problem(request, viewer, db, user, problem, "tokens")
    return see_other("/settings?saved=token_revoked#tokens")
