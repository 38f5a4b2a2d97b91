"""The daemon's wiring in one process (publisher/daemon/process.py): what it says, what it
starts, what its web app is told, and that stop() ends it all. `publisher run` as a process is
tested in test_daemon.py."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from publisher.daemon import process
from publisher.settings import Settings


@pytest.fixture
def hangup() -> Iterator[None]:
    """The daemon's timetable takes SIGHUP; the test process gets its own handler back."""
    previous = signal.getsignal(signal.SIGHUP)
    yield
    signal.signal(signal.SIGHUP, previous)


def test_the_daemon_starts_its_parts_tells_its_web_app_and_stops(
    settings: Settings, tmp_path: Path, hangup: None
) -> None:
    settings.schedules.unlink()  # a fresh site: the daemon writes a starter timetable
    said: list[str] = []
    options = process.Options(actor="test", demo=True, web=False, processes=1)
    daemon = process.Daemon(settings, options, said.append)
    try:
        daemon.start()
        assert daemon.workers.is_alive() and daemon.mail.is_alive() and daemon.children == []
        assert daemon.keeper is not None and signal.getsignal(signal.SIGHUP) == daemon.reload
        client = TestClient(daemon.web_app())
        health = client.get("/healthz").json()
        assert health["scheduler"] == "running" and health["smtp"] == "ok"
        assert 'newsflash_process_events_total{event="feed_builds"}' in client.get("/metrics").text
    finally:
        daemon.stop()
    assert not daemon.workers.is_alive() and not daemon.mail.is_alive()
    assert not daemon.keeper.scheduler.running
    assert said[0] == f"wrote a starter {settings.schedules}"
    assert said[1].startswith("loaded ") and said[1].endswith(" sample articles")


def test_without_a_timetable_the_web_app_keeps_the_feeds_itself(
    settings: Settings, hangup: None
) -> None:
    options = process.Options(actor="test", web=False, scheduler=False, processes=1)
    daemon = process.Daemon(settings, options, print)
    try:
        daemon.start()
        assert daemon.keeper is None
        daemon.reload(signal.SIGHUP, None)  # no timetable to reload: nothing happens
        health = TestClient(daemon.web_app()).get("/healthz").json()
        assert health["scheduler"] == "off" and set(health["digests"]) == {"daily"}
    finally:
        daemon.stop()
    assert not daemon.workers.is_alive() and not daemon.mail.is_alive()
