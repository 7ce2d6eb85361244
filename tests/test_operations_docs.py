"""Keeps the production artefacts honest: docs/operations.md lists exactly the settings there are,
with their real defaults; compose.yaml, its env example and the Dockerfile use only variables
the code reads and commands the CLI has; the proxy points at the web services compose runs."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from molodets.cli import build_parser
from molodets.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "operations.md"
COMPOSE = ROOT / "compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
ENV_EXAMPLE = ROOT / "deploy" / "compose" / "env.example"
NGINX_CONF = ROOT / "deploy" / "compose" / "nginx.conf"

VARIABLE = re.compile(r"MOLODETS_[A-Z0-9_]+")
SETTINGS = {f"MOLODETS_{name.upper()}": field for name, field in Settings.model_fields.items()}
SERVICES = {"postgres", "redis", "s3", "migrate", "web-a", "web-b", "worker", "proxy"}


def _read_outside_settings() -> set[str]:
    """MOLODETS_* variables the code reads from the environment itself, not through Settings."""
    found = set()
    pattern = re.compile(r"""os\.environ(?:\.get\(|\[)\s*["'](MOLODETS_[A-Z0-9_]+)["']""")
    for path in (ROOT / "src" / "molodets").rglob("*.py"):
        found.update(pattern.findall(path.read_text(encoding="utf-8")))
    return found - set(SETTINGS)


def _section(text: str, heading: str) -> str:
    """The lines under `heading` up to the next heading of any level."""
    lines = text.splitlines()
    start = lines.index(heading) + 1
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("#")), len(lines))
    return "\n".join(lines[start:end])


def _table_rows(section: str) -> dict[str, list[str]]:
    """Rows of the markdown tables in `section` whose first cell is one `MOLODETS_*` name."""
    rows: dict[str, list[str]] = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        match = re.fullmatch(r"`(MOLODETS_[A-Z0-9_]+)`", cells[0]) if line.startswith("|") else None
        if match:
            assert match.group(1) not in rows, f"{match.group(1)} has two rows"
            rows[match.group(1)] = cells[1:]
    return rows


def _configuration_rows() -> dict[str, list[str]]:
    return _table_rows(_section(DOCS.read_text(encoding="utf-8"), "## Configuration"))


def _compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def _dockerfile_instruction(name: str) -> str:
    """The last `name` instruction of the Dockerfile, its continuation lines joined."""
    joined = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    found = [line[len(name) :].strip() for line in joined.splitlines() if line.startswith(f"{name} ")]
    assert found, f"the Dockerfile has no {name}"
    return found[-1]


def _interpolated(value: str) -> str:
    """`value` as compose would fill it in: `${X:-default}` gives the default, any other
    `${...}` (a required secret) a stand-in long enough for every secret's minimum."""

    def fill(match: re.Match[str]) -> str:
        default = re.fullmatch(r"[A-Z0-9_]+:?-(.*)", match.group(1))
        return default.group(1) if default else "x" * 48

    return re.sub(r"\$\{([^}]*)\}", fill, value)


# --- docs/operations.md ------------------------------------------------------------------------


def test_every_setting_has_exactly_one_row_in_the_configuration_table() -> None:
    documented = set(_configuration_rows())
    assert sorted(set(SETTINGS) - documented) == [], "settings missing from docs/operations.md"
    assert sorted(documented - set(SETTINGS)) == [], "rows in docs/operations.md for no setting"


@pytest.mark.parametrize("variable", sorted(SETTINGS))
def test_documented_default_is_the_real_default(variable: str) -> None:
    field = SETTINGS[variable]
    cell = _configuration_rows()[variable][0]
    default = field.get_default(call_default_factory=True)
    if default is None:
        assert cell.startswith("none"), f"{variable}: the default is unset, the docs say {cell!r}"
        return
    token = re.match(r"`([^`]*)`", cell)
    assert token, f"{variable}: the default cell should start with the value in backticks: {cell!r}"
    shown = token.group(1)
    if isinstance(default, bool):
        assert shown == str(default).lower()
    elif isinstance(default, Path):
        assert Path(shown) == default
    elif isinstance(default, dict):
        assert json.loads(shown) == default
    else:
        assert shown == str(default)


def test_other_variables_in_the_docs_are_read_by_the_code() -> None:
    text = DOCS.read_text(encoding="utf-8")
    others = _table_rows(_section(text, "### Other environment variables"))
    assert set(others) <= _read_outside_settings()
    unknown = set(VARIABLE.findall(text)) - set(SETTINGS) - _read_outside_settings()
    assert sorted(unknown) == [], "docs/operations.md names variables nothing reads"


# --- compose.yaml and its env example ----------------------------------------------------------


def test_compose_has_the_stack_and_its_order() -> None:
    services = _compose()["services"]
    assert set(services) >= SERVICES
    assert services["postgres"]["image"].startswith("postgres:16")
    assert "healthcheck" in services["postgres"]
    assert services["redis"]["image"].startswith("redis:7")
    named_volumes = set(_compose()["volumes"])
    assert any(volume.split(":")[0] in named_volumes for volume in services["postgres"]["volumes"])
    for name in ("web-a", "web-b", "worker"):
        after = services[name]["depends_on"]["migrate"]["condition"]
        assert after == "service_completed_successfully", name
        assert services[name]["image"] == services["migrate"]["image"], name
    assert services["proxy"]["depends_on"].keys() == {"web-a", "web-b"}


def test_compose_variables_are_real_settings() -> None:
    used = set(VARIABLE.findall(COMPOSE.read_text(encoding="utf-8")))
    assert used, "compose.yaml configures Molodets through MOLODETS_* variables"
    assert sorted(used - set(SETTINGS) - _read_outside_settings()) == []


def test_env_example_variables_are_real_settings() -> None:
    used = set(VARIABLE.findall(ENV_EXAMPLE.read_text(encoding="utf-8")))
    assert "MOLODETS_SECRET_KEY" in used
    assert sorted(used - set(SETTINGS)) == []


@pytest.mark.parametrize("service", ["migrate", "web-a", "web-b", "worker"])
def test_compose_environment_passes_validation(service: str) -> None:
    environment = _compose()["services"][service]["environment"]
    values = {
        name.removeprefix("MOLODETS_").lower(): _interpolated(str(value))
        for name, value in environment.items()
        if name in SETTINGS
    }
    assert values["secret_key"], "MOLODETS_SECRET_KEY must reach every Molodets process"
    # Given values win over the process environment; no .env file is read.
    settings = Settings(_env_file=None, **values)  # type: ignore[arg-type]
    assert settings.database_url is not None
    assert settings.database_url.startswith("postgresql+psycopg://")
    assert settings.redis_url is not None
    assert settings.storage_url is not None
    assert settings.storage_url.startswith("s3://")
    assert settings.s3_endpoint_url


def test_compose_requires_the_secret_key() -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    assert re.search(r"MOLODETS_SECRET_KEY: \$\{MOLODETS_SECRET_KEY:\?", text)


@pytest.mark.parametrize("service", ["migrate", "worker"])
def test_compose_commands_exist_in_the_cli(service: str) -> None:
    command = _compose()["services"][service]["command"]
    assert command[0] == "molodets"
    args = build_parser().parse_args(command[1:])
    assert args.command == service
    if service == "worker":
        assert sorted(args.queue) == ["default", "media"]


def test_proxy_sends_requests_to_the_web_services() -> None:
    services = _compose()["services"]
    mounted = [volume.split(":") for volume in services["proxy"]["volumes"]]
    assert ["./deploy/compose/nginx.conf", "/etc/nginx/nginx.conf", "ro"] in mounted
    upstreams = re.findall(r"^\s*server\s+([\w.-]+):(\d+)", NGINX_CONF.read_text(encoding="utf-8"), re.M)
    assert {host for host, _port in upstreams} == {name for name in services if name.startswith("web-")}
    assert {port for _host, port in upstreams} == {"8000"}


# --- Dockerfile ---------------------------------------------------------------------------------


def test_dockerfile_command_exists_in_the_cli() -> None:
    command = json.loads(_dockerfile_instruction("CMD"))
    assert command[0] == "molodets"
    args = build_parser().parse_args(command[1:])
    assert args.command == "web"
    assert (args.host, args.port) == ("0.0.0.0", 8000)  # noqa: S104 - a container listens on all
    healthcheck = _dockerfile_instruction("HEALTHCHECK")
    assert f"http://127.0.0.1:{args.port}/healthz" in healthcheck
    assert f"EXPOSE {args.port}" in DOCKERFILE.read_text(encoding="utf-8")


def test_dockerfile_environment_and_context() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert sorted(set(VARIABLE.findall(text)) - set(SETTINGS)) == []
    assert "MOLODETS_DATA_DIR=/data" in text
    assert 'VOLUME ["/data"]' in text
    assert re.search(r"^USER (?!root)\w+", text, re.M), "the image must not run as root"
    # Everything the builder copies from the context must be let through by .dockerignore.
    copied = {
        part
        for line in text.splitlines()
        if line.startswith("COPY ") and "--from" not in line
        for part in shlex.split(line)[1:-1]
    }
    allowed = {line[1:].rstrip("/") for line in DOCKERIGNORE.read_text().splitlines() if line.startswith("!")}
    assert copied
    assert copied <= allowed
