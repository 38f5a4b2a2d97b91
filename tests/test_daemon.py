"""The daemon: catching up after downtime, the timetable's jobs, and `publisher run` itself as
a process (SIGTERM, SIGHUP), with a real SMTP server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from publisher import community, delivery, editions, publish
from publisher.scheduler import Timekeeper
from publisher.schedules import parse_timetable
from publisher.settings import Settings
from publisher.templating import make_environment
from tests.browser import free_port
from tests.conftest import SECRET, make_settings
from tests.smtp import SmtpServer


def timetable_text(nominal: datetime, catch_up: str) -> str:
    """A daily digest whose last send time is ``nominal`` (UTC)."""
    return (
        f'timezone: UTC\ndigests:\n  daily:\n    cron: "{nominal.minute} {nominal.hour} * * *"\n'
        f"    catch_up: {catch_up}\n"
    )


def setup_site(engine: Engine, settings: Settings, tmp_path: Path, nominal: datetime) -> None:
    path = tmp_path / "story.jsonl"
    path.write_text(
        json.dumps(
            {
                "title": "Rail freight opens",
                "published_at": (nominal - timedelta(hours=1)).isoformat(),
            }
        )
    )
    publish.import_articles(engine, settings, [path], now=nominal)
    for n in range(3):
        community.add_subscriber(
            engine,
            f"m{n}@example.com",
            confirmed=True,
            digests=["daily"],
            known_digests=["daily"],
            now=nominal,
        )


@pytest.mark.parametrize(
    ("late", "window", "expected"), [(30, "6h", "sending"), (120, "1h", "missed")]
)
def test_catch_up_sends_within_the_window_and_records_older_misses(
    engine: Engine, settings: Settings, tmp_path: Path, late: int, window: str, expected: str
) -> None:
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    nominal = now - timedelta(minutes=late)
    table = parse_timetable(timetable_text(nominal, window))
    setup_site(engine, settings, tmp_path, nominal)
    digest = table.digest("daily")
    said = delivery.catch_up(engine, settings, table, make_environment(), digest, now=now)
    [edition] = editions.list_editions(engine)
    assert edition.status == expected, said
    owed = delivery.counts(engine, [edition.id or 0])[edition.id or 0]
    assert owed == ({"pending": 3} if expected == "sending" else {})
    again = delivery.catch_up(engine, settings, table, make_environment(), digest, now=now)
    assert len(editions.list_editions(engine)) == 1 and str(edition.id) in again


def test_the_job_fires_once_per_period_however_often_it_runs(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
    table = parse_timetable(timetable_text(now, "6h"))
    setup_site(engine, settings, tmp_path, now)
    keeper = Timekeeper(
        engine, settings, table, make_environment(), clock=lambda: datetime.now(UTC)
    )
    keeper.fire("daily")
    keeper.fire("daily")  # a second daemon, a retry, a DST double fire
    [edition] = editions.list_editions(engine)
    assert delivery.counts(engine, [edition.id or 0])[edition.id or 0] == {"pending": 3}
    assert keeper.status()["scheduler"] == "stopped"
    assert set(keeper.status()["digests"]) == {"daily"}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_publisher_run_catches_up_sends_reloads_and_stops_cleanly(
    engine: Engine, tmp_path: Path, database_url: str
) -> None:
    smtp = SmtpServer()
    smtp.start()
    nominal = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=10)
    schedules = tmp_path / "schedules.yaml"
    schedules.write_text(timetable_text(nominal, "6h"))
    settings = make_settings(tmp_path, PUBLISHER_DATABASE_URL=database_url)
    setup_site(engine, settings, tmp_path, nominal)
    port = free_port()
    env = daemon_env(tmp_path, database_url, smtp, schedules, port) | {
        "PUBLISHER_LOG_FORMAT": "json"
    }

    def start() -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "publisher", "run", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def health() -> httpx.Response:
        deadline = time.monotonic() + 30
        while True:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
            except httpx.TransportError:
                assert time.monotonic() < deadline
                time.sleep(0.2)

    proc = start()
    try:
        first = health()
        assert first.status_code == 200, first.text
        body = first.json()
        assert body["scheduler"] == "running" and body["database"] == "ok"
        assert body["smtp"] == "ok"
        assert body["digests"]["daily"]["next_send"].startswith(
            (nominal + timedelta(days=1)).date().isoformat()
        )
        deadline = time.monotonic() + 30
        while len(smtp.recorder.received) < 3:
            assert time.monotonic() < deadline, smtp.recorder.counts()
            time.sleep(0.1)
        # A broken timetable on SIGHUP keeps the daemon and its old timetable.
        schedules.write_text("digests:\n  daily:\n    cron: 'not a cron'\n")
        proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        assert (
            health().json()["digests"]["daily"]["next_send"]
            == body["digests"]["daily"]["next_send"]
        )
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=15)
        assert proc.returncode == 0, output
        assert "caught up on" in output
        logged = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
        reload_error = [r for r in logged if "not reloaded" in r["message"]]
        assert reload_error and reload_error[0]["levelname"] == "ERROR"
        assert "keeping the old timetable" in reload_error[0]["message"]
        # Restarted: the edition exists and is sent; nothing goes twice.
        schedules.write_text(timetable_text(nominal, "6h"))
        proc = start()
        health()
        time.sleep(1.5)
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=15)
        assert proc.returncode == 0, output
        assert smtp.recorder.counts() == {f"m{n}@example.com": 1 for n in range(3)}
    finally:
        if proc.poll() is None:
            proc.kill()
        smtp.stop()


def daemon_env(
    tmp_path: Path, database_url: str, smtp: SmtpServer, schedules: Path, port: int
) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PUBLISHER_")} | {
        "PUBLISHER_DATABASE_URL": database_url,
        "PUBLISHER_SECRET_KEY": SECRET,
        "PUBLISHER_VAR_DIR": str(tmp_path / "var"),
        "PUBLISHER_SCHEDULES": str(schedules),
        "PUBLISHER_SMTP_URL": smtp.url,
        "PUBLISHER_SITE_URL": f"http://127.0.0.1:{port}",
        "PUBLISHER_MAIL_FROM": "Newsflash Asia <newsletter@news.example.com>",
        "PUBLISHER_SEND_LEASE": "2",
        "PUBLISHER_SEND_RETRY_BASE": "0.2",
    }


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_three_daemons_on_postgresql_one_killed_every_member_once(
    engine: Engine, tmp_path: Path, database_url: str
) -> None:
    smtp = SmtpServer()
    smtp.recorder.delay = 0.005
    smtp.start()
    nominal = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=5)
    schedules = tmp_path / "schedules.yaml"
    schedules.write_text(timetable_text(nominal, "6h"))
    settings = make_settings(tmp_path, PUBLISHER_DATABASE_URL=database_url)
    setup_site(engine, settings, tmp_path, nominal)
    members = [f"m{n}@example.com" for n in range(3)]
    for n in range(3, 300):
        community.add_subscriber(
            engine,
            f"m{n}@example.com",
            confirmed=True,
            digests=["daily"],
            known_digests=["daily"],
            now=nominal,
        )
        members.append(f"m{n}@example.com")
    env = daemon_env(tmp_path, database_url, smtp, schedules, free_port())
    command = [sys.executable, "-m", "publisher", "run", "--no-web"]
    daemons = [
        subprocess.Popen(
            command,
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(3)
    ]
    try:
        deadline = time.monotonic() + 60
        while len(smtp.recorder.received) < 60:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        daemons[0].send_signal(signal.SIGKILL)
        daemons[0].wait()
        while set(smtp.recorder.counts()) != set(members):
            assert time.monotonic() < deadline, len(smtp.recorder.counts())
            time.sleep(0.1)
        time.sleep(0.5)
    finally:
        for proc in daemons[1:]:
            proc.send_signal(signal.SIGTERM)
        outputs = [proc.communicate(timeout=30)[0] for proc in daemons[1:]]
        smtp.stop()
    assert [proc.returncode for proc in daemons[1:]] == [0, 0], outputs
    counts = smtp.recorder.counts()
    assert set(counts) == set(members)
    assert sum(counts.values()) - len(members) <= settings.send_concurrency  # the killed one's
    assert len(editions.list_editions(engine)) == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_scheduled_article_appears_in_the_feeds_at_its_time(
    engine: Engine, tmp_path: Path, database_url: str
) -> None:
    smtp = SmtpServer()
    port = free_port()
    schedules = tmp_path / "schedules.yaml"
    schedules.write_text(timetable_text(datetime.now(UTC) - timedelta(hours=2), "1h"))
    settings = make_settings(tmp_path, PUBLISHER_DATABASE_URL=database_url)
    due = datetime.now(UTC) + timedelta(seconds=10)
    path = tmp_path / "embargo.jsonl"
    path.write_text(
        json.dumps({"title": "Embargoed budget story", "published_at": due.isoformat()})
    )
    publish.import_articles(engine, settings, [path], now=datetime.now(UTC))
    env = daemon_env(tmp_path, database_url, smtp, schedules, port)
    proc = subprocess.Popen(
        [sys.executable, "-m", "publisher", "run", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 40
        seen_before = False
        while True:
            try:
                body = httpx.get(f"http://127.0.0.1:{port}/feed.xml", timeout=2).text
            except httpx.TransportError:
                body = ""
            if body and datetime.now(UTC) < due:
                seen_before = seen_before or "Embargoed budget story" not in body
            if "Embargoed budget story" in body:
                break
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert datetime.now(UTC) >= due
        assert seen_before  # it was served before its time, without the story
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, output


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_digest_due_after_start_goes_out_once_at_its_time(
    engine: Engine, tmp_path: Path, database_url: str
) -> None:
    """The timetable's own job, not catch-up: cron minutes are whole, so this waits for the
    next minute boundary (never more than about a minute)."""
    smtp = SmtpServer()
    smtp.start()
    now = datetime.now(UTC)
    due = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    if (due - now).total_seconds() < 8:  # leave the daemon time to start
        due += timedelta(minutes=1)
    schedules = tmp_path / "schedules.yaml"
    schedules.write_text(timetable_text(due, "1m"))
    settings = make_settings(tmp_path, PUBLISHER_DATABASE_URL=database_url)
    setup_site(engine, settings, tmp_path, due)
    env = daemon_env(tmp_path, database_url, smtp, schedules, free_port())
    proc = subprocess.Popen(
        [sys.executable, "-m", "publisher", "run", "--no-web"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = due + timedelta(seconds=30)
        while len(smtp.recorder.received) < 3:
            assert datetime.now(UTC) < deadline, smtp.recorder.counts()
            time.sleep(0.2)
        assert datetime.now(UTC) >= due
        time.sleep(1)
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=20)
        smtp.stop()
    assert proc.returncode == 0, output
    assert smtp.recorder.counts() == {f"m{n}@example.com": 1 for n in range(3)}
    made = {e.period_key: e.status for e in editions.list_editions(engine)}
    assert made[due.strftime("%Y-%m-%dT%H:%M")] == "sent"
    # Yesterday's send time was long before the 1-minute catch-up window: recorded, not sent.
    assert made[(due - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")] == "missed"
