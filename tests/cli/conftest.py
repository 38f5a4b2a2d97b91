"""The command line's tests: which are slow (the marks sit here, not on the tests, while
test_cli.py is being edited in parallel; they can move onto the tests afterwards)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.marks import mark_slow

__all__ = ["pytest_collection_modifyitems"]

SLOW = {"test_cli.py": "every test runs `publisher` as a process, a second or two each"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests SLOW names ``slow``: `make check` leaves them to `make test`."""
    mark_slow(items, Path(__file__).resolve().parent, SLOW)
