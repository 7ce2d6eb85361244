"""The player's pages: the For You feed (`/`), Following (`/following`), one video
(`/@username/video/<id>`, with Open Graph and Twitter card tags) and the embed (`/embed/<id>`).

The first page of the feed goes into the HTML (JSON for the script, plus the first slide's
poster and `<video>` markup), so the first frame never waits for an API call; the script
(`static/js/player.js`) fetches the following pages."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from molodets.accounts.auth import Viewer, ViewerDep
from molodets.accounts.models import User
from molodets.errors import Problem
from molodets.feed import queries
from molodets.feed.api import RankingTurn, viewer_ref
from molodets.feed.captions import caption_parts
from molodets.http import DbSession, RuntimeDep
from molodets.media.derived import POSTER_MAX_SHORT
from molodets.pagination import Page
from molodets.videos import queries as video_queries
from molodets.videos import service as videos
from molodets.videos.models import Video, VideoStatus, Visibility
from molodets.videos.schemas import RenditionOut, VideoOut
from molodets.web.templating import PAGE_HEADERS, render

router = APIRouter(include_in_schema=False)

# Slides in the HTML: the one on screen, the two preloaded after it, and a few to swipe into
# while the script fetches the next page.
FIRST_PAGE = 6
# The first slide is rendered before the script knows the screen: a rendition that starts fast
# everywhere. The script picks by screen size and throughput from the next video on.
FIRST_SLIDE_SHORT_SIDE = 480
# Messengers show shared links with the 720p rendition (or the best one under it).
SHARE_SHORT_SIDE = 720
# Only the embed may be framed by other sites; every other page keeps `frame-ancestors 'none'`.
EMBED_CSP = PAGE_HEADERS["Content-Security-Policy"].replace("frame-ancestors 'none'", "frame-ancestors *")


def best_rendition(renditions: list[RenditionOut], short_side: int) -> RenditionOut | None:
    """The sharpest rendition whose short side is at most `short_side`, else the smallest."""
    fitting = [item for item in renditions if min(item.width, item.height) <= short_side]
    if fitting:
        return max(fitting, key=lambda item: min(item.width, item.height))
    return min(renditions, key=lambda item: item.width * item.height, default=None)


def embeddable(video: Video, author: User) -> bool:
    """Whether anyone at all may watch the video: public, ready, of a public account."""
    return (
        video.visibility == Visibility.PUBLIC.value
        and video.status == VideoStatus.READY.value
        and not author.is_private
    )


def base_url(request: Request, runtime: RuntimeDep) -> str:
    return (runtime.settings.public_base_url or str(request.base_url)).rstrip("/")


def absolute(base: str, url: str) -> str:
    return url if url.startswith(("https://", "http://")) else base + url


def video_path(username: str, video_id: str) -> str:
    return f"/@{quote(username, safe='')}/video/{video_id}"


def _player_context(
    request: Request,
    viewer: Viewer,
    *,
    source: str,
    items: list[VideoOut],
    api: str,
    cursor: str | None,
    wrap: bool,
) -> dict[str, Any]:
    """What `_player.html` needs: the slides' data for the script, and the first slide's markup."""
    first = items[0] if items else None
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    login_url = "/login?next=" + quote(here)
    return {
        "source": source,
        "first": first,
        "first_rendition": best_rendition(first.renditions, FIRST_SLIDE_SHORT_SIDE) if first else None,
        "first_caption": caption_parts(first.caption) if first else [],
        "login_url": login_url,
        "feed_data": {
            "source": source,
            "items": [item.model_dump(mode="json") for item in items],
            "api": api,
            "cursor": cursor,
            # For You never dead-ends: at its end the player starts over from the top.
            "wrap": wrap,
            "viewer": viewer.user.username if viewer.user is not None else None,
            "login_url": login_url,
        },
    }


def _for_you(
    request: Request,
    viewer: Viewer,
    db: Session,
    runtime: RuntimeDep,
    cookies: Response,
    *,
    opened: Video | None = None,
) -> Page[Video]:
    """For You's first page (after the `opened` video, which it leaves out); a new guest's
    cookie goes on `cookies`, to copy to the page."""
    ref = viewer_ref(request, cookies, viewer)
    if opened is None:
        page = queries.for_you(db, runtime.for_you, viewer=ref, cursor=None, limit=FIRST_PAGE)
    else:
        page = runtime.for_you.page(db, viewer=ref, cursor=None, limit=FIRST_PAGE - 1, exclude=[opened.id])
    return Page(items=video_queries.by_ids(db, page.items), next_cursor=page.next_cursor)


def _with_cookies(page: Response, cookies: Response) -> Response:
    for value in cookies.headers.getlist("set-cookie"):
        page.headers.append("set-cookie", value)
    return page


def _feed_page(
    request: Request, viewer: Viewer, db: Session, runtime: RuntimeDep, *, source: str, api: str
) -> Response:
    cookies = Response()
    if source == "following" and viewer.user is not None:
        page = queries.following(db, viewer=viewer.user, cursor=None, limit=FIRST_PAGE)
    else:
        page = _for_you(request, viewer, db, runtime, cookies)
    items = video_queries.video_outs(db, runtime.storage, page.items, viewer=viewer.user)
    # For You never dead-ends (it starts over at its end); Following ends where follows end.
    wrap = source == "for_you"
    context = _player_context(
        request, viewer, source=source, items=items, api=api, cursor=page.next_cursor, wrap=wrap
    )
    page_response = render(request, viewer, "home.html", {**context, "tab": source, "needs_login": False})
    return _with_cookies(page_response, cookies)


@router.get("/")
def home(
    _turn: RankingTurn, request: Request, viewer: ViewerDep, db: DbSession, runtime: RuntimeDep
) -> Response:
    return _feed_page(request, viewer, db, runtime, source="for_you", api="/api/v1/feed/for-you")


@router.get("/following")
def following(request: Request, viewer: ViewerDep, db: DbSession, runtime: RuntimeDep) -> Response:
    """Following; an anonymous viewer gets a prompt to log in instead of a feed."""
    if viewer.user is None:
        context = {
            "tab": "following",
            "first": None,
            "needs_login": True,
            "login_url": "/login?next=/following",
        }
        return render(request, viewer, "home.html", context)
    return _feed_page(request, viewer, db, runtime, source="following", api="/api/v1/feed/following")


@router.get("/@{username}/video/{video_id}")
def video_page(
    _turn: RankingTurn,
    username: str,
    video_id: str,
    request: Request,
    viewer: ViewerDep,
    db: DbSession,
    runtime: RuntimeDep,
    source: str | None = None,
) -> Response:
    """The player opened on one video, continuing with For You, or with `?source=profile` with
    the author's older videos."""
    video = videos.get_visible_video(db, video_id=videos.parse_video_id(video_id), viewer=viewer.user)
    authors = video_queries.authors_of(db, [video])
    opened = video_queries.video_outs(db, runtime.storage, [video], authors, viewer=viewer.user)[0]
    if opened.author.username != username:
        query = f"?{request.url.query}" if request.url.query else ""
        return RedirectResponse(video_path(opened.author.username, opened.id) + query, status_code=301)
    cookies = Response()
    if source == "profile":
        # The same list as the profile's API (followers-only videos included for followers).
        page = videos.list_user_videos(
            db,
            author=authors[video.author_id],
            viewer=viewer.user,
            cursor=video_queries.cursor_after(video),
            limit=FIRST_PAGE - 1,
        )
        api = f"/api/v1/users/{quote(opened.author.username, safe='')}/videos"
        wrap = False
    else:
        page = _for_you(request, viewer, db, runtime, cookies, opened=video)
        api, wrap = "/api/v1/feed/for-you", True
    items = [opened, *video_queries.video_outs(db, runtime.storage, page.items, viewer=viewer.user)]
    context = _player_context(
        request,
        viewer,
        source="profile" if source == "profile" else "for_you",
        items=items,
        api=api,
        cursor=page.next_cursor,
        wrap=wrap,
    )
    context["share"] = _share_tags(request, runtime, video, opened, authors[video.author_id])
    return _with_cookies(render(request, viewer, "video.html", context), cookies)


def _share_tags(
    request: Request, runtime: RuntimeDep, video: Video, out: VideoOut, author: User
) -> dict[str, Any]:
    """Open Graph and Twitter card values, every URL absolute (messengers fetch them from afar).
    Media and the embed player only for a video anyone may watch (`embeddable`)."""
    base = base_url(request, runtime)
    public = embeddable(video, author)
    rendition = best_rendition(out.renditions, SHARE_SHORT_SIDE) if public else None
    width, height = (out.width or 720, out.height or 1280)
    if rendition is not None:
        width, height = rendition.width, rendition.height
    # The poster is the video's frame with its short side capped (media/derived.py).
    video_w, video_h = out.width or width, out.height or height
    scale = min(1.0, POSTER_MAX_SHORT / max(1, min(video_w, video_h)))
    return {
        "image_width": round(video_w * scale),
        "image_height": round(video_h * scale),
        "url": base + video_path(out.author.username, out.id),
        "embed_url": f"{base}/embed/{out.id}" if public else None,
        "video_url": absolute(base, rendition.url) if rendition else None,
        "image_url": absolute(base, out.poster_url) if public and out.poster_url else None,
        "width": width,
        "height": height,
        # The embed is shown in a box; a 9:16 player 360 wide fits a tweet.
        "player_width": 360,
        "player_height": round(360 * height / width) if width else 640,
    }


@router.get("/embed/{video_id}")
def embed_page(
    video_id: str, request: Request, viewer: ViewerDep, db: DbSession, runtime: RuntimeDep
) -> Response:
    """A bare player other sites may frame. Only public ready videos of public accounts: an
    embed is seen by anyone, so even the author's own private video is not embeddable (404)."""
    video = db.get(Video, videos.parse_video_id(video_id))
    author = db.get(User, video.author_id) if video is not None else None
    if video is None or author is None or not embeddable(video, author):
        raise Problem(404, "video_not_found", "No such video.")
    out = video_queries.video_outs(db, runtime.storage, [video])[0]
    context = {
        "video": out,
        "rendition": best_rendition(out.renditions, FIRST_SLIDE_SHORT_SIDE),
        "video_url": base_url(request, runtime) + video_path(out.author.username, out.id),
    }
    return render(request, viewer, "embed.html", context, headers={"Content-Security-Policy": EMBED_CSP})
