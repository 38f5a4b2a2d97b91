"""The README documents every setting and every command."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import typer

from publisher.cli import app
from publisher.settings import ENV_PREFIX, Settings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_every_setting_is_documented() -> None:
    missing = [
        f"{ENV_PREFIX}{name.upper()}"
        for name in Settings.model_fields
        if f"`{ENV_PREFIX}{name.upper()}`" not in README
    ]
    assert missing == []


def test_every_documented_setting_exists() -> None:
    documented = set(re.findall(r"`PUBLISHER_([A-Z_]+)`", README)) - {"TEST_DATABASE_URL"}
    assert documented <= {name.upper() for name in Settings.model_fields}


def command_paths(group: Any, prefix: str = "publisher") -> list[str]:
    paths = []
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            paths.extend(command_paths(command, f"{prefix} {name}"))
        else:
            paths.append(f"{prefix} {name}")
    return paths


def test_every_command_is_documented() -> None:
    root = typer.main.get_command(app)
    paths = command_paths(root)
    assert "publisher articles add" in paths
    assert [p for p in paths if f"`{p}" not in README] == []


def test_quick_start_shows_the_two_commands() -> None:
    assert "make run" in README and "make test" in README


def test_every_schedules_key_is_documented() -> None:
    from publisher import schedules

    keys = [f"`{name}`" for name in schedules._Timetable.model_fields]
    keys += [f"`digests.NAME.{name}`" for name in schedules._Digest.model_fields]
    keys += [f".{name}`" for name in schedules._BrandStudio.model_fields if name != "label"]
    keys.append("`brand_studio.label`")
    keys += [f"`sources.NAME.{name}`" for name in schedules._SourceSpec.model_fields]
    assert [key for key in keys if key not in README] == []
