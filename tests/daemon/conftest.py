"""The daemon's tests: which are slow (the marks sit here, not on the tests, while
test_daemon.py is being edited in parallel; they can move onto the tests afterwards)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.marks import mark_slow

__all__ = ["pytest_collection_modifyitems"]

SLOW = {
    "test_daemon.py::test_publisher_run_catches_up_sends_reloads_and_stops_cleanly": "a process",
    "test_daemon.py::test_three_daemons_on_postgresql_one_killed_every_member_once": "processes",
    "test_daemon.py::test_a_scheduled_article_appears_in_the_feeds_at_its_time": "a process",
    "test_daemon.py::test_a_digest_due_after_start_goes_out_once_at_its_time": "a minute",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests SLOW names ``slow``: `make check` leaves them to `make test`."""
    mark_slow(items, Path(__file__).resolve().parent, SLOW)
