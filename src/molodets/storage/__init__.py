"""Object storage for media: a local folder (embedded mode) or an S3-compatible bucket (scale-out).

Code that stores or serves media takes a `Storage` and never asks which one it got; `open_storage`
picks the implementation from `settings.resolved_storage_url`.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit
from urllib.request import url2pathname

from molodets.storage.base import (
    DEFAULT_CHUNK_SIZE,
    IMMUTABLE,
    MAX_KEY_LENGTH,
    MAX_SEGMENT_LENGTH,
    InvalidKey,
    InvalidRange,
    ObjectInfo,
    ObjectNotFound,
    Storage,
    StorageError,
    StorageUnavailable,
    check_key,
    check_prefix,
    is_valid_key,
)
from molodets.storage.local import MEDIA_PATH, LocalStorage
from molodets.storage.s3 import S3Storage

if TYPE_CHECKING:
    from molodets.settings import Settings

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "IMMUTABLE",
    "MAX_KEY_LENGTH",
    "MAX_SEGMENT_LENGTH",
    "MEDIA_PATH",
    "InvalidKey",
    "InvalidRange",
    "LocalStorage",
    "ObjectInfo",
    "ObjectNotFound",
    "S3Storage",
    "Storage",
    "StorageError",
    "StorageUnavailable",
    "check_key",
    "check_prefix",
    "is_valid_key",
    "open_storage",
]


def open_storage(settings: Settings) -> Storage:
    """The store named by `settings.resolved_storage_url` (file:///path or s3://bucket[/prefix]).

    Nothing is created or contacted here: buckets are made by operators (or `S3Storage.ensure_bucket`),
    and `check()` is what tells whether the store is usable.
    """
    url = settings.resolved_storage_url
    parts = urlsplit(url)
    if parts.scheme == "file":
        # A purpose-bound key: a leaked media signature must not be usable for anything else.
        signing_key = hmac.new(settings.key.encode(), b"molodets.storage.local-url", hashlib.sha256).digest()
        return LocalStorage(
            Path(url2pathname(parts.path)), base_url=settings.cdn_base_url or "", signing_key=signing_key
        )
    if parts.scheme == "s3":
        return S3Storage(
            parts.netloc,
            parts.path.strip("/"),
            endpoint_url=settings.s3_endpoint_url,
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key,
            region=settings.s3_region,
            cdn_base_url=settings.cdn_base_url,
        )
    raise StorageError(f"unsupported storage URL scheme {parts.scheme!r} (use file:// or s3://)")
