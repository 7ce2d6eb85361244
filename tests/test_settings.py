"""Settings: embedded defaults, scale-out values, a persistent secret key, one-line errors."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from molodets.feed.ranking import RankWeights
from molodets.settings import Settings, SettingsError, load_settings


def test_embedded_defaults_live_in_the_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "REDIS_URL", "STORAGE_URL"):
        monkeypatch.delenv(f"MOLODETS_{name}", raising=False)
    settings = load_settings(data_dir=tmp_path / "var")
    assert settings.resolved_database_url == f"sqlite:///{(tmp_path / 'var' / 'molodets.sqlite3').resolve()}"
    assert settings.resolved_storage_url == (tmp_path / "var" / "media").resolve().as_uri()
    assert settings.embedded
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert (tmp_path / "var").is_dir()


def test_environment_variables_are_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOLODETS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MOLODETS_DATABASE_URL", "postgres://u:p@db.internal:5432/molodets")
    monkeypatch.setenv("MOLODETS_REDIS_URL", "redis://cache:6379/1")
    monkeypatch.setenv("MOLODETS_STORAGE_URL", "s3://media-bucket/prod")
    monkeypatch.setenv("MOLODETS_S3_ENDPOINT_URL", "http://127.0.0.1:9000")
    monkeypatch.setenv("MOLODETS_CDN_BASE_URL", "https://cdn.example.ru/")
    settings = load_settings()
    assert settings.resolved_database_url == "postgresql+psycopg://u:p@db.internal:5432/molodets"
    assert settings.cdn_base_url == "https://cdn.example.ru"
    assert not settings.embedded


def test_dotenv_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MOLODETS_PORT", raising=False)
    (tmp_path / ".env").write_text("MOLODETS_PORT=9123\n", encoding="utf-8")
    assert load_settings(data_dir=tmp_path).port == 9123


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"database_url": "mysql://x"}, "MOLODETS_DATABASE_URL: "),
        ({"redis_url": "http://cache"}, "MOLODETS_REDIS_URL: "),
        ({"storage_url": "ftp://files"}, "MOLODETS_STORAGE_URL: "),
        ({"storage_url": "s3://bucket"}, "MOLODETS_S3_ENDPOINT_URL: required"),
        ({"port": 70000}, "MOLODETS_PORT: "),
        ({"secret_key": "short"}, "MOLODETS_SECRET_KEY: "),
        ({"rate_limits": "maybe"}, "MOLODETS_RATE_LIMITS: "),
        ({"public_base_url": "example.com"}, "MOLODETS_PUBLIC_BASE_URL: "),
        ({"log_level": "verbose"}, "MOLODETS_LOG_LEVEL: "),
        ({"feed_weights": {"interst": 2.0}}, "MOLODETS_FEED_WEIGHTS: "),
        ({"feed_weights": {"skip": None}}, "MOLODETS_FEED_WEIGHTS: "),
    ],
)
def test_wrong_values_stop_with_one_clear_line(
    tmp_path: Path, overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(data_dir=tmp_path, **overrides)
    text = str(caught.value)
    assert text.startswith(message)
    assert "\n" not in text


def test_feed_weights_are_read_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOLODETS_FEED_WEIGHTS", '{"skip": 0.8, "interest": 2}')
    weights = RankWeights.from_mapping(load_settings(data_dir=tmp_path).feed_weights)
    assert (weights.skip, weights.interest, weights.like) == (0.8, 2.0, RankWeights().like)


@pytest.mark.parametrize(
    ("raw", "named", "listed"),
    [
        ('{"skip": 0.8, "interst": 2}', "'interst'", True),  # a typo would silently keep the default
        ('{"skip": "much"}', "'skip'", False),
        ('{"skip": true}', "'skip'", False),
        ('{"skip": NaN}', "'skip'", False),
        ('{"skip": 0.8', "not valid JSON", False),
    ],
)
def test_a_wrong_feed_weight_stops_start_up_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, raw: str, named: str, listed: bool
) -> None:
    monkeypatch.setenv("MOLODETS_FEED_WEIGHTS", raw)
    with pytest.raises(SettingsError) as caught:
        load_settings(data_dir=tmp_path)
    text = str(caught.value)
    assert text.startswith("MOLODETS_FEED_WEIGHTS: ")
    assert named in text
    assert "\n" not in text
    if listed:
        assert "watch, long_view, complete" in text
        assert "same_topic_penalty" in text


def test_log_level_is_case_insensitive(tmp_path: Path) -> None:
    assert load_settings(data_dir=tmp_path, log_level="warning").log_level == "WARNING"


def test_secret_key_is_generated_once_and_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MOLODETS_SECRET_KEY", raising=False)
    first = load_settings(data_dir=tmp_path).key
    second = load_settings(data_dir=tmp_path).key
    assert first == second
    assert len(first) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    assert load_settings(data_dir=tmp_path, secret_key="k" * 40).key == "k" * 40


def test_processes_starting_at_once_agree_on_one_secret_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`molodets serve --workers N` starts its processes together on a new data dir."""
    monkeypatch.delenv("MOLODETS_SECRET_KEY", raising=False)
    for attempt in range(10):
        data_dir = tmp_path / str(attempt)
        starters = [load_settings(data_dir=data_dir) for _ in range(8)]
        start = threading.Barrier(len(starters))

        def key_of(settings: Settings, start: threading.Barrier = start) -> str:
            start.wait()
            return settings.key

        with ThreadPoolExecutor(len(starters)) as pool:
            keys = set(pool.map(key_of, starters))
        assert len(keys) == 1
        assert len(keys.pop()) >= 32
        assert [path.name for path in data_dir.iterdir()] == ["secret_key"]  # no draft left


def test_a_secret_key_is_kept_where_files_cannot_be_hard_linked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MOLODETS_SECRET_KEY", raising=False)

    def no_links(_source: object, _target: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    key = load_settings(data_dir=tmp_path).key
    assert load_settings(data_dir=tmp_path).key == key
    assert [path.name for path in tmp_path.iterdir()] == ["secret_key"]
