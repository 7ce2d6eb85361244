"""Objects in an S3-compatible bucket (AWS, MinIO, Ceph, R2, ...): the scale-out mode's store.

Every key is stored as `<prefix><key>` so several deployments can share a bucket. Clients download
straight from the store (presigned URLs) or through a CDN whose origin is the bucket root.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import boto3
from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, ParamValidationError

from molodets.storage.base import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_CONTENT_TYPE,
    InvalidKey,
    InvalidRange,
    ObjectInfo,
    ObjectNotFound,
    StorageError,
    StorageUnavailable,
    check_expires_in,
    check_key,
    check_prefix,
    check_range,
)

if TYPE_CHECKING:
    from botocore.response import StreamingBody
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef

DEFAULT_PRESIGN_SECONDS = 3600
_MiB = 1024 * 1024
_NOT_FOUND = {"NoSuchKey", "404", "NotFound"}

_BASE_CONFIG = Config(
    signature_version="s3v4",
    # Path style works with every S3-compatible server and with bucket names that contain dots.
    s3={"addressing_style": "path"},
    # Newer botocore adds CRC checksums by default, which some S3-compatible servers refuse.
    request_checksum_calculation="when_required",
    response_checksum_validation="when_required",
)
_CONFIG = _BASE_CONFIG.merge(
    Config(
        retries={"max_attempts": 4, "mode": "standard"},
        connect_timeout=5,
        read_timeout=60,
        # Web threads and the transfer manager's workers share the pool; 10 (the default) queues them.
        max_pool_connections=32,
    )
)
# Readiness probes must answer fast and must not hide an outage behind retries.
_PROBE_CONFIG = _BASE_CONFIG.merge(
    Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=2, read_timeout=5)
)
_MULTIPART_THRESHOLD = 8 * _MiB
_TRANSFER = TransferConfig(
    multipart_threshold=_MULTIPART_THRESHOLD, multipart_chunksize=8 * _MiB, max_concurrency=4
)


_SESSION_LOCK = threading.Lock()
_SESSION: boto3.session.Session | None = None


def _new_client(
    endpoint_url: str | None, access_key: str | None, secret_key: str | None, region: str, config: Config
) -> S3Client:
    """A client from one shared session: a fresh session reloads the service model (~100 ms each).

    boto3 sessions are not thread-safe, hence the lock; the clients they make are.
    """
    global _SESSION  # a process-wide cache, filled once
    with _SESSION_LOCK:
        if _SESSION is None:
            _SESSION = boto3.session.Session()
        return _SESSION.client(
            "s3",
            endpoint_url=endpoint_url,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            region_name=region,
            config=config,
        )


@contextmanager
def _translated(key: str) -> Iterator[None]:
    """Turn boto's exceptions into ours so callers never import botocore."""
    try:
        yield
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in _NOT_FOUND:
            raise ObjectNotFound(key) from exc
        if code == "InvalidRange":
            raise InvalidRange(f"{key!r}: range starts past the end of the object") from exc
        if code == "NoSuchBucket":
            raise StorageUnavailable(f"bucket missing ({key!r})") from exc
        raise StorageError(f"{key!r}: S3 error {code}") from exc
    except (NoCredentialsError, ParamValidationError, S3UploadFailedError) as exc:
        raise StorageError(f"{key!r}: {exc}") from exc
    except BotoCoreError as exc:  # connection refused, timeouts, closed connections
        raise StorageUnavailable(f"{key!r}: {exc}") from exc


class S3Storage:
    """A `Storage` on an S3-compatible bucket, with one thread-safe boto3 client."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None,
        access_key: str | None,
        secret_key: str | None,
        region: str = "us-east-1",
        cdn_base_url: str | None = None,
        presign_seconds: int = DEFAULT_PRESIGN_SECONDS,
    ) -> None:
        self.bucket = bucket
        self.prefix = check_prefix(prefix.strip("/"))
        self.region = region
        self.cdn_base_url = cdn_base_url.rstrip("/") if cdn_base_url else None
        self.presign_seconds = presign_seconds
        self._client = _new_client(endpoint_url, access_key, secret_key, region, _CONFIG)
        self._probe = _new_client(endpoint_url, access_key, secret_key, region, _PROBE_CONFIG)

    def __repr__(self) -> str:
        return f"S3Storage({self.bucket!r}, {self.prefix!r})"

    def _full(self, key: str) -> str:
        return self.prefix + check_key(key)

    def ensure_bucket(self) -> None:
        """Create the bucket if it is missing (tests and first-time setup; open_storage never does)."""
        with _translated(self.bucket):
            try:
                self._client.head_bucket(Bucket=self.bucket)
                return
            except ClientError as exc:
                if str(exc.response.get("Error", {}).get("Code")) not in {"404", "NoSuchBucket", "NotFound"}:
                    raise
            if self.region == "us-east-1":  # the one region that refuses an explicit LocationConstraint
                self._client.create_bucket(Bucket=self.bucket)
            else:
                self._client.create_bucket(
                    Bucket=self.bucket,
                    # The stubs list known regions as literals; S3-compatible servers have their own names.
                    CreateBucketConfiguration={"LocationConstraint": self.region},  # type: ignore[typeddict-item]
                )

    def put(
        self, key: str, data: bytes | BinaryIO, *, content_type: str, cache_control: str | None = None
    ) -> None:
        """upload_fileobj: one PUT for small data, a parallel multipart upload past 8 MiB."""
        full = self._full(key)
        extra = self._extra(content_type, cache_control)
        if isinstance(data, bytes | bytearray | memoryview) and len(data) < _MULTIPART_THRESHOLD:
            # Posters, manifests, thumbnails: a plain PutObject skips the transfer manager's threads.
            with _translated(key):
                self._client.put_object(Bucket=self.bucket, Key=full, Body=bytes(data), **extra)
            return
        stream: BinaryIO = io.BytesIO(data) if isinstance(data, bytes | bytearray | memoryview) else data
        with _translated(key):
            self._client.upload_fileobj(stream, self.bucket, full, ExtraArgs=extra, Config=_TRANSFER)

    def put_file(self, key: str, path: Path, *, content_type: str, cache_control: str | None = None) -> None:
        """upload_file: like put, and it can re-read parts from the file when one must be retried."""
        full, extra = self._full(key), self._extra(content_type, cache_control)
        with _translated(key):
            self._client.upload_file(str(path), self.bucket, full, ExtraArgs=extra, Config=_TRANSFER)

    @staticmethod
    def _extra(content_type: str, cache_control: str | None) -> dict[str, Any]:
        extra: dict[str, Any] = {"ContentType": content_type}
        if cache_control:
            extra["CacheControl"] = cache_control
        return extra

    def get(self, key: str) -> bytes:
        """Read the whole object."""
        with _translated(key):
            body = self._client.get_object(Bucket=self.bucket, Key=self._full(key))["Body"]
            with body:
                return body.read()

    def open(self, key: str) -> BinaryIO:
        """A buffered reader over the GET response body; the request is made now, the body read lazily."""
        with _translated(key):
            body = self._client.get_object(Bucket=self.bucket, Key=self._full(key))["Body"]
        return io.BufferedReader(_BodyReader(body, key), buffer_size=DEFAULT_CHUNK_SIZE)

    def read_range(self, key: str, start: int, end_inclusive: int) -> bytes:
        """One ranged GET; S3 clamps the end to the last byte."""
        return b"".join(self.iter_range(key, start, end_inclusive))

    def iter_range(
        self, key: str, start: int, end_inclusive: int, chunk_size: int = DEFAULT_CHUNK_SIZE
    ) -> Iterator[bytes]:
        """The ranged GET is sent now (so errors come before a response starts); its body streams later."""
        check_range(start, end_inclusive)
        with _translated(key):
            body = self._client.get_object(
                Bucket=self.bucket, Key=self._full(key), Range=f"bytes={start}-{end_inclusive}"
            )["Body"]
        return _body_chunks(body, key, chunk_size)

    def stat(self, key: str) -> ObjectInfo:
        """HEAD the object."""
        with _translated(key):
            head = self._client.head_object(Bucket=self.bucket, Key=self._full(key))
        return ObjectInfo(
            key=key,
            size=head["ContentLength"],
            etag=head["ETag"].strip('"'),
            content_type=head.get("ContentType") or DEFAULT_CONTENT_TYPE,
            modified_at=head["LastModified"].astimezone(UTC),
            cache_control=head.get("CacheControl") or None,
        )

    def exists(self, key: str) -> bool:
        """HEAD the object; a 404 means no."""
        try:
            self.stat(key)
        except ObjectNotFound:
            return False
        return True

    def delete(self, key: str) -> None:
        """DELETE the object; S3 answers 204 for a missing key too."""
        with _translated(key):
            self._client.delete_object(Bucket=self.bucket, Key=self._full(key))

    def delete_prefix(self, prefix: str) -> int:
        """List the folder page by page (1000 keys) and delete each page with one DeleteObjects call."""
        folder = check_prefix(prefix)
        if not folder:
            raise InvalidKey("refusing to delete the whole store (empty prefix)")
        deleted = 0
        paginator = self._client.get_paginator("list_objects_v2")
        with _translated(prefix):
            pages = paginator.paginate(
                Bucket=self.bucket, Prefix=self.prefix + folder, PaginationConfig={"PageSize": 1000}
            )
            for page in pages:
                objects: list[ObjectIdentifierTypeDef] = [
                    {"Key": item["Key"]} for item in page.get("Contents", [])
                ]
                if not objects:
                    continue
                answer = self._client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": objects, "Quiet": True}
                )
                if errors := answer.get("Errors"):
                    first = errors[0]
                    raise StorageError(
                        f"{len(errors)} objects under {prefix!r} not deleted, "
                        f"first {first.get('Key')!r}: {first.get('Code')}"
                    )
                deleted += len(objects)
        return deleted

    def list(self, prefix: str = "") -> Iterator[str]:
        """Keys under the folder, in S3's (byte-wise sorted) order, without the store's prefix."""
        folder = check_prefix(prefix)
        return self._list(folder)

    def _list(self, folder: str) -> Iterator[str]:
        paginator = self._client.get_paginator("list_objects_v2")
        with _translated(folder):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + folder):
                for item in page.get("Contents", []):
                    yield item["Key"][len(self.prefix) :]

    def url(self, key: str, *, expires_in: int | None = None) -> str:
        """The CDN URL (`{cdn}/{prefix}{key}`) when there is a CDN and no expiry is asked, else presigned."""
        full = self._full(key)
        if expires_in is None and self.cdn_base_url:
            return f"{self.cdn_base_url}/{full}"
        seconds = self.presign_seconds if expires_in is None else expires_in
        check_expires_in(seconds)
        # Signing is local computation: no request is made here.
        return self._client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": full}, ExpiresIn=seconds
        )

    def check(self) -> None:
        """HEAD the bucket with a fast, no-retry client."""
        try:
            self._probe.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            raise StorageUnavailable(f"bucket {self.bucket!r}: S3 error {code}") from exc
        except BotoCoreError as exc:
            raise StorageUnavailable(f"bucket {self.bucket!r}: {exc}") from exc

    def local_path(self, key: str) -> Path | None:
        """Objects in S3 have no local file."""
        check_key(key)
        return None


class _BodyReader(io.RawIOBase):
    """Adapts botocore's StreamingBody to io so callers get a real BinaryIO with our exceptions."""

    def __init__(self, body: StreamingBody, key: str) -> None:
        self._body = body
        self._key = key

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        with _translated(self._key):
            chunk = self._body.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)

    def close(self) -> None:
        self._body.close()
        super().close()


def _body_chunks(body: StreamingBody, key: str, chunk_size: int) -> Iterator[bytes]:
    with body, _translated(key):
        yield from body.iter_chunks(chunk_size)
