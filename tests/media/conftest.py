"""Fixtures for the media tests: real clips, each made once per test session."""

from __future__ import annotations

import pytest

from tests.mediaclips import ClipCache


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> ClipCache:
    """`clips.get("name.mp4", make_clip, width=...)` returns the clip, making it on first use."""
    return ClipCache(tmp_path_factory.mktemp("clips"))
