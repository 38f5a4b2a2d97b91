"""Marks a package's conftest.py puts on its tests from a table, where the marks cannot sit on
the tests themselves yet (their modules are being edited in parallel)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

__all__ = ["mark_slow"]


def mark_slow(items: list[pytest.Item], folder: Path, why: Mapping[str, str]) -> None:
    """Mark ``slow`` the items of ``folder`` that ``why`` names, by ``test_x.py`` (all its
    tests) or ``test_x.py::test_name`` (every parametrization); the values say why."""
    for item in items:
        if item.path.parent != folder:
            continue
        name = getattr(item, "originalname", item.name)
        if item.path.name in why or f"{item.path.name}::{name}" in why:
            item.add_marker(pytest.mark.slow)
