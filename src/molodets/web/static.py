"""Static files with caching headers that match how their URLs are built.

A URL from `static_url` carries the file's content hash (`?v=`): its bytes never change under
that URL, so browsers may keep it for a year without asking. Every other URL (the ES modules
that a versioned module imports by relative path, files linked by hand) must be revalidated on
each use (`no-cache`: a cheap 304 against the ETag): left to the browser's heuristic caching, a
deploy would run a new `app.js` against the modules of the previous one."""

from __future__ import annotations

import os

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"


class VersionedStaticFiles(StaticFiles):
    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        versioned = any(part.startswith(b"v=") for part in scope.get("query_string", b"").split(b"&"))
        response.headers["Cache-Control"] = IMMUTABLE if versioned else REVALIDATE
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response
