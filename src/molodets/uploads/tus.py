"""The tus 1.0 wire format: header names, what we announce, and strict parsers for what
clients send. Every parse error is a 4xx `Problem` with a stable code; nothing here touches
the database or the disk."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from typing import TYPE_CHECKING

from molodets.errors import Problem

if TYPE_CHECKING:
    from hashlib import _Hash

TUS_VERSION = "1.0.0"
# No creation-defer-length: a length is what lets us refuse an oversize upload before any byte.
TUS_EXTENSIONS = "creation,creation-with-upload,termination,expiration,checksum"
OFFSET_CONTENT_TYPE = "application/offset+octet-stream"
CHECKSUM_ALGORITHMS = ("sha1", "md5", "sha256")
# 460 is tus's own status for a failed Upload-Checksum; it is not in the HTTP registry.
CHECKSUM_MISMATCH_STATUS = 460

MAX_METADATA_HEADER = 4096
MAX_METADATA_PAIRS = 32
_DIGITS = re.compile(r"[0-9]{1,19}")
_METADATA_KEY = re.compile(r"[!-+\--~]{1,100}")  # visible ASCII without ',' (0x2C); no spaces


def tus_headers() -> dict[str, str]:
    """Headers every tus response but OPTIONS carries, errors included."""
    return {"Tus-Resumable": TUS_VERSION}


def check_tus_resumable(value: str | None) -> None:
    if value != TUS_VERSION:
        raise Problem(
            412,
            "tus_version_unsupported",
            f"Send 'Tus-Resumable: {TUS_VERSION}'; it is the only tus version this server speaks.",
            headers={"Tus-Version": TUS_VERSION},
        )


def _parse_count(value: str | None, *, code: str, name: str) -> int:
    if value is None or not _DIGITS.fullmatch(value):
        raise Problem(400, code, f"{name} must be a non-negative whole number of bytes.")
    number = int(value)
    if number > 2**63 - 1:
        raise Problem(400, code, f"{name} is too large.")
    return number


def parse_upload_length(value: str | None, *, deferred: str | None) -> int:
    if value is None and deferred is not None:
        raise Problem(
            400, "invalid_upload_length", "Upload-Defer-Length is not supported; send Upload-Length."
        )
    return _parse_count(value, code="invalid_upload_length", name="Upload-Length")


def parse_upload_offset(value: str | None) -> int:
    return _parse_count(value, code="invalid_upload_offset", name="Upload-Offset")


def parse_content_length(value: str | None) -> int | None:
    """The declared body size, or None when absent (chunked) or unusable; the stream is
    counted anyway, so a lying Content-Length can only make us refuse earlier."""
    if value is None or not _DIGITS.fullmatch(value):
        return None
    return int(value)


def is_offset_stream(content_type: str | None) -> bool:
    return (content_type or "").split(";", 1)[0].strip().lower() == OFFSET_CONTENT_TYPE


def parse_metadata(value: str | None) -> dict[str, str | None]:
    """Decode `Upload-Metadata: key base64value,key2,...` into text values (None for a bare
    key). Values must be UTF-8: they end up in JSON and in pages."""
    if value is None or not value.strip():
        return {}
    invalid = "Upload-Metadata must be comma-separated 'key base64value' pairs with UTF-8 values."
    if len(value) > MAX_METADATA_HEADER:
        raise Problem(400, "invalid_metadata", f"Upload-Metadata is longer than {MAX_METADATA_HEADER}.")
    pairs = value.split(",")
    if len(pairs) > MAX_METADATA_PAIRS:
        raise Problem(400, "invalid_metadata", f"Upload-Metadata has more than {MAX_METADATA_PAIRS} keys.")
    decoded: dict[str, str | None] = {}
    for pair in pairs:
        parts = pair.strip().split(" ")
        key = parts[0]
        if len(parts) > 2 or not _METADATA_KEY.fullmatch(key) or key in decoded:
            raise Problem(400, "invalid_metadata", invalid)
        if len(parts) == 1:
            decoded[key] = None
            continue
        try:
            decoded[key] = base64.b64decode(parts[1], validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise Problem(400, "invalid_metadata", invalid) from None
    return decoded


def encode_metadata(metadata: dict[str, str | None]) -> str:
    return ",".join(
        key if value is None else f"{key} {base64.b64encode(value.encode()).decode('ascii')}"
        for key, value in metadata.items()
    )


@dataclass(frozen=True)
class Checksum:
    """An `Upload-Checksum` to verify the PATCH body against."""

    algorithm: str
    digest: bytes

    def new_hash(self) -> _Hash:
        # Integrity of a transfer, not security: say so, for FIPS builds and linters.
        return hashlib.new(self.algorithm, usedforsecurity=False)

    def matches(self, computed: _Hash) -> bool:
        return computed.digest() == self.digest


def parse_checksum(value: str | None) -> Checksum | None:
    if value is None:
        return None
    algorithm, _, encoded = value.strip().partition(" ")
    algorithm = algorithm.lower()
    if algorithm not in CHECKSUM_ALGORITHMS:
        raise Problem(
            400,
            "unsupported_checksum",
            f"Upload-Checksum algorithm must be one of {', '.join(CHECKSUM_ALGORITHMS)}.",
        )
    try:
        digest = base64.b64decode(encoded.strip(), validate=True)
    except binascii.Error:
        digest = b""
    if len(digest) != hashlib.new(algorithm, usedforsecurity=False).digest_size:
        raise Problem(400, "invalid_checksum", "Upload-Checksum must be '<algorithm> <base64 digest>'.")
    return Checksum(algorithm=algorithm, digest=digest)


def http_date(moment: datetime) -> str:
    """RFC 7231 IMF-fixdate, as Upload-Expires wants it."""
    return format_datetime(moment, usegmt=True)
