"""Typed settings from `MOLODETS_*` environment variables (and an optional `.env`).

Embedded defaults need nothing set: everything lives in the data dir. Scale-out is switched on
by pointing `DATABASE_URL`, `REDIS_URL` and `STORAGE_URL` at shared services.
"""

from __future__ import annotations

import math
import os
import re
import secrets
from dataclasses import fields
from functools import cached_property
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from pydantic_settings import SettingsError as SourceError

from molodets.feed.ranking import RankWeights
from molodets.ids import configured_node

SECRET_KEY_FILE = "secret_key"  # noqa: S105 - a file name, not a secret
MIN_SECRET_KEY_LENGTH = 32
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class SettingsError(Exception):
    """A setting is wrong or missing; the message is one line meant for the operator."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MOLODETS_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Path("./var")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)

    database_url: str | None = None
    redis_url: str | None = None
    # Namespaces every Redis key (jobs, rate limits), so several deployments can share a server.
    redis_prefix: str = Field(default="molodets", pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    storage_url: str | None = None
    s3_endpoint_url: str | None = None
    s3_access_key: str | None = None
    s3_secret_key: str | None = None
    s3_region: str = "us-east-1"

    public_base_url: str | None = None
    cdn_base_url: str | None = None
    secret_key: str | None = Field(default=None, repr=False)

    rate_limits: Literal["on", "off"] = "on"
    default_locale: Literal["ru", "en"] = "ru"
    log_format: Literal["console", "json"] = "console"
    log_level: str = "INFO"

    session_days: int = Field(default=30, ge=1, le=365)
    avatar_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    request_max_bytes: int = Field(default=1024 * 1024, ge=1024)
    job_workers: int = Field(default=2, ge=1, le=64)
    # Web processes of `serve` and `web`: the interpreter runs Python on one core at a time.
    web_processes: int = Field(default=1, ge=1, le=64)

    # Media. The bundled static ffmpeg (imageio-ffmpeg) unless a path is given.
    ffmpeg_path: str | None = None
    upload_max_bytes: int = Field(default=4 * 1024**3, ge=1024)
    video_max_seconds: int = Field(default=600, ge=1)
    # Where partial uploads live; in scale-out, a folder every web process shares.
    upload_dir: Path | None = None
    upload_expiry_hours: int = Field(default=24, ge=1)
    keep_originals: bool = True

    # Raw watch events are kept this long (the recommender learns from them as they arrive).
    events_retention_days: int = Field(default=90, ge=1, le=3650)

    # The For You ranker's weights (feed/ranking.py RankWeights), as JSON: only those to change.
    feed_weights: dict[str, float] = Field(default_factory=dict)

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if value.startswith("postgres://") or value.startswith("postgresql://"):
            # psycopg 3 is our only PostgreSQL driver; accept the common short spelling.
            value = "postgresql+psycopg://" + value.split("://", 1)[1]
        if not (value.startswith("postgresql+psycopg://") or value.startswith("sqlite:///")):
            raise ValueError("must start with postgresql+psycopg:// or sqlite:///")
        return value

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if urlsplit(value).scheme not in {"redis", "rediss", "unix"}:
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @field_validator("storage_url")
    @classmethod
    def _check_storage_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        parts = urlsplit(value)
        if parts.scheme == "s3" and parts.netloc:
            return value
        if parts.scheme == "file" and parts.path:
            return value
        raise ValueError("must be file:///absolute/path or s3://bucket[/prefix]")

    @field_validator("public_base_url", "cdn_base_url")
    @classmethod
    def _check_base_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ValueError("must be an absolute http(s) URL")
        return value.rstrip("/")

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
        return level

    @field_validator("secret_key")
    @classmethod
    def _check_secret_key(cls, value: str | None) -> str | None:
        if value is not None and len(value) < MIN_SECRET_KEY_LENGTH:
            raise ValueError(f"must be at least {MIN_SECRET_KEY_LENGTH} characters")
        return value

    @field_validator("feed_weights", mode="before")
    @classmethod
    def _check_feed_weights(cls, value: object) -> object:
        # RankWeights.from_mapping skips names it does not know: a typo would run the feed on the
        # default it meant to change, and nobody would notice.
        if not isinstance(value, dict):
            return value  # pydantic reports that it is not an object
        valid = [field.name for field in fields(RankWeights)]
        for name, weight in value.items():
            if name not in valid:
                raise ValueError(f"unknown weight {name!r}; the names are {', '.join(valid)}")
            if isinstance(weight, bool) or not isinstance(weight, int | float) or not math.isfinite(weight):
                raise ValueError(f"weight {name!r} must be a number, not {weight!r}")
        return value

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'molodets.sqlite3').resolve()}"

    @property
    def resolved_storage_url(self) -> str:
        if self.storage_url:
            return self.storage_url
        return (self.data_dir / "media").resolve().as_uri()

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @property
    def embedded(self) -> bool:
        """True when nothing shared is configured: one process runs web, jobs and scheduler."""
        return self.is_sqlite and self.redis_url is None

    @property
    def resolved_upload_dir(self) -> Path:
        return (self.upload_dir or self.data_dir / "uploads").resolve()

    @property
    def huey_sqlite_path(self) -> Path:
        return (self.data_dir / "jobs.sqlite3").resolve()

    @property
    def rate_limit_path(self) -> Path:
        """Rate-limit windows when there is no Redis (ratelimit.FileStorage)."""
        return (self.data_dir / "limits.sqlite3").resolve()

    @cached_property
    def key(self) -> str:
        """The secret key: from the environment, else generated once and kept in the data dir.

        A new random key per start would log everyone out and break signed URLs at each restart.
        """
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / SECRET_KEY_FILE
        try:
            return path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            pass
        self.data_dir.mkdir(parents=True, exist_ok=True)
        generated = secrets.token_urlsafe(48)
        # Written whole under a name of its own, then linked into place: two processes starting
        # at once agree on one key, and neither can read a file the other has not written yet.
        draft = path.with_name(f"{SECRET_KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(generated)
        try:
            os.link(draft, path)
        except FileExistsError:
            return path.read_text(encoding="ascii").strip()
        except OSError:  # a filesystem without hard links: whole, but the last one to start wins
            draft.replace(path)
            return generated
        finally:
            draft.unlink(missing_ok=True)
        return generated


def load_settings(**overrides: object) -> Settings:
    """Read and validate settings, turning pydantic's report into one line for the operator."""
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "MOLODETS_" + str(first["loc"][0]).upper() if first["loc"] else "settings"
        raise SettingsError(f"{name}: {first['msg']}") from None
    except SourceError as exc:
        # A JSON setting (MOLODETS_FEED_WEIGHTS) that does not parse fails before validation.
        field = re.search(r'field "(\w+)"', str(exc))
        name = "MOLODETS_" + field.group(1).upper() if field else "settings"
        raise SettingsError(f"{name}: not valid JSON") from None
    try:
        configured_node()
    except ValueError as exc:
        raise SettingsError(f"MOLODETS_NODE_ID: {exc}") from None
    if settings.storage_url and settings.storage_url.startswith("s3://") and not settings.s3_endpoint_url:
        # boto3 would fall back to a public cloud endpoint; an operator must say where the store is.
        raise SettingsError("MOLODETS_S3_ENDPOINT_URL: required when MOLODETS_STORAGE_URL is s3://")
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SettingsError(f"MOLODETS_DATA_DIR: cannot create {settings.data_dir}: {exc.strerror}") from None
    return settings
