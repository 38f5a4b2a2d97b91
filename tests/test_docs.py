"""The documentation site keeps up with the code: every setting, command, schedules.yaml key and
admin API endpoint is in its reference page, the architecture page's layer table is LAYERS, and
the README's quick start shows the two commands."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import typer

from publisher import store
from publisher.cli import app
from publisher.errors import ConfigError
from publisher.schedules import parse_timetable
from publisher.settings import ENV_PREFIX, Settings
from publisher.web import create_app
from tests.layers import LAYERS
from tests.support import make_settings

__all__: list[str] = []

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def page(name: str) -> str:
    """The text of a page of the documentation site, by its path under docs/."""
    return (DOCS / name).read_text()


def test_every_setting_is_documented() -> None:
    settings = page("reference/settings.md")
    missing = [
        f"{ENV_PREFIX}{name.upper()}"
        for name in Settings.model_fields
        if f"`{ENV_PREFIX}{name.upper()}`" not in settings
    ]
    assert missing == []


def test_every_documented_setting_exists() -> None:
    known = {name.upper() for name in Settings.model_fields}
    for path in sorted(DOCS.rglob("*.md")):
        documented = set(re.findall(r"`PUBLISHER_([A-Z_]+)`", path.read_text()))
        assert documented - {"TEST_DATABASE_URL"} <= known, path.name


def command_paths(group: Any, prefix: str = "publisher") -> list[str]:
    """Every leaf command of a Typer/Click group, as the words a user types."""
    paths = []
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            paths.extend(command_paths(command, f"{prefix} {name}"))
        else:
            paths.append(f"{prefix} {name}")
    return paths


def test_every_command_is_documented() -> None:
    cli = page("reference/cli.md")
    root = typer.main.get_command(app)
    paths = command_paths(root)
    assert "publisher articles add" in paths
    assert [p for p in paths if f"`{p}" not in cli] == []


def test_quick_start_shows_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make run" in readme and "make test" in readme
    assert len(readme.splitlines()) < 200


def allowed_keys(text: str) -> list[str]:
    """The keys schedules.yaml allows where ``text`` puts an unknown one, as its error says."""
    with pytest.raises(ConfigError) as refused:
        parse_timetable(text)
    found = re.search(r"unknown key \(allowed: ([^)]*)\)", str(refused.value))
    assert found, str(refused.value)
    return found.group(1).split(", ")


def test_every_schedules_key_is_documented() -> None:
    schedules = page("reference/schedules.md")
    digest = "digests: {d: {cron: '0 7 * * *', bogus: 1}}"
    source = "sources: {s: {url: 'https://example.org/feed', bogus: 1}}"
    keys = [f"`{name}`" for name in allowed_keys("bogus: 1")]
    keys += [f"`digests.NAME.{name}`" for name in allowed_keys(digest)]
    brand = allowed_keys("brand_studio: {bogus: 1}")
    keys += [f".{name}`" for name in brand if name != "label"]
    keys.append("`brand_studio.label`")
    keys += [f"`sources.NAME.{name}`" for name in allowed_keys(source)]
    assert len(keys) > 20
    assert [key for key in keys if key not in schedules] == []


def test_the_architecture_page_lists_the_layers() -> None:
    rows = re.findall(r"^\| `([\w.]+)` \| (\d+) \|$", page("architecture.md"), re.M)
    expected = [f"| `{key}` | {layer} |" for key, layer in LAYERS.items()]
    table = "\n".join(["| key | layer |", "|---|---|", *expected])
    assert [(key, int(layer)) for key, layer in rows] == list(LAYERS.items()), (
        f"docs/architecture.md's layer table is not tests/test_layers.py's LAYERS; paste:\n{table}"
    )


def test_the_pages_the_code_points_to_exist() -> None:
    named = set()
    for path in sorted((ROOT / "publisher").rglob("*.py")):
        named.update(re.findall(r"docs/([\w/-]+\.md)", path.read_text()))
    assert named, "the code names no page"
    assert sorted(name for name in named if not (DOCS / name).exists()) == []


def generic(text: str) -> str:
    """Paths with their parameters' names dropped: ``/api/editions/{edition_id}`` and
    ``/api/editions/{id}`` are one."""
    return re.sub(r"\{\w+\}", "{}", text)


def test_every_api_endpoint_is_documented(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path,
        PUBLISHER_DATABASE_URL=f"sqlite:///{tmp_path}/docs.db",
        PUBLISHER_API_TOKEN="docs-" + "t" * 32,
    )
    engine = store.make_engine(settings.database_url)
    store.migrate(engine)
    schema = create_app(settings, engine, feed_upkeep_every=None).openapi()
    http = generic(page("reference/http.md"))
    endpoints = [
        (method.upper(), generic(path))
        for path, methods in schema["paths"].items()
        if path.startswith("/api/")
        for method in methods
    ]
    assert len(endpoints) > 15
    # A row names an endpoint in full, or (after one in full) by its last segment: `.../publish`.
    missing = [
        f"{method} {path}"
        for method, path in endpoints
        if f"{method} {path}" not in http and f".../{path.rsplit('/', 1)[-1]}`" not in http
    ]
    assert missing == []
