"""The player's pages announce its whole module graph, so the browser fetches it in one round."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from molodets.web.templating import STATIC_DIR, module_preloads, static_url
from tests.factories.accounts import make_user
from tests.factories.videos import make_ready_video


def test_the_graph_is_every_module_reachable_from_the_player() -> None:
    graph = module_preloads("js/player.js")
    assert len(graph) == len(set(graph))
    assert "/static/js/menu.js" in graph  # player -> comments -> comment_view -> menu
    for url in graph:
        assert (STATIC_DIR / url.removeprefix("/static/")).is_file()
    # Every relative import of every module in the graph is itself in the graph.
    for url in ["/static/js/player.js", *graph]:
        source = (STATIC_DIR / url.removeprefix("/static/")).read_text()
        for name in re.findall(r'from\s+"\./([\w.-]+\.js)"', source):
            assert f"/static/js/{name}" in graph, (url, name)


def test_feed_and_video_pages_preload_the_graph(client: TestClient, db: Session) -> None:
    video = make_ready_video(db, make_user(db, username="preloader"))
    for path in ("/", f"/@preloader/video/{video.id}"):
        html = client.get(path).text
        preloaded = re.findall(r'<link rel="modulepreload" href="([^"?]+)', html)
        assert set(module_preloads("js/player.js")) | {"/static/js/player.js"} == set(preloaded), path


def test_versioned_static_urls_are_immutable_and_the_rest_revalidate(client: TestClient) -> None:
    """A module imported by relative path has no version in its URL: it must not outlive a deploy
    in the browser's cache, while a hashed URL never needs asking again."""
    versioned = client.get(static_url("js/app.js"))
    assert versioned.status_code == 200
    assert versioned.headers["cache-control"] == "public, max-age=31536000, immutable"
    imported = client.get("/static/js/feed.js")
    assert imported.status_code == 200
    assert imported.headers["cache-control"] == "no-cache"
    again = client.get("/static/js/feed.js", headers={"If-None-Match": imported.headers["etag"]})
    assert again.status_code == 304
    assert client.get("/static/js/no-such-module.js").status_code == 404
