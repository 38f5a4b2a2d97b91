"""The daemon: catching up after downtime, the timetable's jobs, and `publisher run` itself as
a process (SIGTERM, SIGHUP), with a real SMTP server."""

from __future__ import annotations

import gzip
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest
from sqlalchemy import Engine

from publisher import store
from publisher.articles import publish
from publisher.community import subscriptions
from publisher.daemon.scheduler import Timekeeper
from publisher.delivery import sending
from publisher.editions import making
from publisher.schedules import parse_timetable
from publisher.settings import Settings
from publisher.syndication import feeds
from publisher.templating import make_environment
from tests import support
from tests.browser import free_port
from tests.mailing import ran_before
from tests.processes import cli, daemon_env, start_daemon, stop_daemons
from tests.smtp import SmtpServer
from tests.support import EXAMPLES, SECRET, make_settings


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
    publish.import_articles(engine, settings, [path], now=nominal, actor="test")
    for n in range(3):
        subscriptions.add_subscriber(
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
    ran_before(engine, "daily", nominal)  # a send time passed while no daemon ran
    digest = table.digest("daily")
    said = sending.catch_up(engine, settings, table, make_environment(), digest, now=now)
    [edition, _earlier] = making.list_editions(engine)
    assert edition.status == expected, said
    owed = sending.counts(engine, [edition.id or 0])[edition.id or 0]
    assert owed == ({"pending": 3} if expected == "sending" else {})
    again = sending.catch_up(engine, settings, table, make_environment(), digest, now=now)
    assert len(making.list_editions(engine)) == 2 and str(edition.id) in again


def test_a_first_start_misses_nothing_and_the_timetable_begins_now(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    """Issue 25: a site that never ran recorded its digests' past send times as missed."""
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    table = parse_timetable(timetable_text(now - timedelta(hours=3), "1h"))
    digest = table.digest("daily")
    said = sending.catch_up(engine, settings, table, make_environment(), digest, now=now)
    assert "first start, the timetable begins now" in said
    assert "2026-12-01T09:00:00+00:00" in said  # the first send time to come
    assert making.list_editions(engine) == []
    # Once the digest has run, a send time passed while no daemon ran is missed as before.
    ran_before(engine, "daily", now - timedelta(hours=3))
    said = sending.catch_up(engine, settings, table, make_environment(), digest, now=now)
    assert "recorded as missed" in said


def test_a_missed_edition_is_sent_by_hand_with_digest_send_once(
    engine: Engine, settings: Settings, tmp_path: Path, database_url: str
) -> None:
    """`digest send NAME` made nothing of a missed edition ("nothing more is sent"): it makes
    the current period's edition now and sends it, and says so when it already went out."""
    nominal = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=3)
    schedules = tmp_path / "schedules.yaml"
    schedules.write_text(timetable_text(nominal, "1h"))
    setup_site(engine, settings, tmp_path, nominal)
    ran_before(engine, "daily", nominal)
    table = parse_timetable(schedules.read_text())
    now = datetime.now(UTC)
    said = sending.catch_up(
        engine, settings, table, make_environment(), table.digest("daily"), now=now
    )
    assert "recorded as missed" in said
    smtp = SmtpServer()
    smtp.start()
    try:
        env = {"PUBLISHER_SCHEDULES": str(schedules), "PUBLISHER_SMTP_URL": smtp.url}
        sent = cli(tmp_path, database_url, "digest", "send", "daily", **env)
        assert sent.returncode == 0, sent.stderr
        assert "was missed: made now, by hand" in sent.stdout
        assert smtp.recorder.counts() == {f"m{n}@example.com": 1 for n in range(3)}
        again = cli(tmp_path, database_url, "digest", "send", "daily", **env)
    finally:
        smtp.stop()
    assert again.returncode == 0, again.stderr
    assert "already went out to 3 reader(s)" in again.stdout
    assert len(smtp.recorder.received) == 3
    made = {e.period_key: e for e in making.list_editions(engine)}[
        nominal.strftime("%Y-%m-%dT%H:%M")
    ]
    assert made.status == "sending" and made.article_count == 1  # the daemon marks it sent


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
    [edition] = making.list_editions(engine)
    assert sending.counts(engine, [edition.id or 0])[edition.id or 0] == {"pending": 3}
    assert keeper.status()["scheduler"] == "stopped"
    assert set(keeper.status()["digests"]) == {"daily"}


@pytest.mark.slow  # a process
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
    ran_before(engine, "daily", nominal)  # the daemon was down at today's send time
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


@pytest.mark.slow  # processes
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
    ran_before(engine, "daily", nominal)  # the daemons start after today's send time
    members = [f"m{n}@example.com" for n in range(3)]
    for n in range(3, 300):
        subscriptions.add_subscriber(
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
    assert len(making.list_editions(engine)) == 2  # today's, and last week's


@pytest.mark.slow  # a process
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_scheduled_article_appears_in_the_feeds_at_its_time(
    engine: Engine, tmp_path: Path, database_url: str
) -> None:
    smtp = SmtpServer()
    port = free_port()
    schedules = tmp_path / "schedules.yaml"
    schedules.write_text(timetable_text(datetime.now(UTC) - timedelta(hours=2), "1h"))
    settings = make_settings(tmp_path, PUBLISHER_DATABASE_URL=database_url)
    env = daemon_env(tmp_path, database_url, smtp, schedules, port)
    # Scheduled while the daemon runs (from outside it): it must not wait for a restart, and
    # the daemon's start-up time (long on a busy machine) cannot eat the ten seconds.
    proc = start_daemon(env, port, tmp_path)
    try:
        due = datetime.now(UTC) + timedelta(seconds=10)
        path = tmp_path / "embargo.jsonl"
        path.write_text(
            json.dumps({"title": "Embargoed budget story", "published_at": due.isoformat()})
        )
        publish.import_articles(engine, settings, [path], now=datetime.now(UTC), actor="test")
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


@pytest.mark.slow  # a minute of real time
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
    ran_before(engine, "daily", due)  # the site ran before: yesterday's send time is missed
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
    made = {e.period_key: e.status for e in making.list_editions(engine)}
    assert made[due.strftime("%Y-%m-%dT%H:%M")] == "sent"
    # Yesterday's send time was long before the 1-minute catch-up window: recorded, not sent.
    assert made[(due - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")] == "missed"


# ---------------------------------------------------------------- feeds changed from outside

API_TOKEN = "feeds-test-token-0123456789"


class RecordingHub:
    """A WebSub hub as a real HTTP server: records each publish notification's topic."""

    def __init__(self) -> None:
        self.topics: list[str] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
                if body.get("hub.mode") == ["publish"]:
                    with outer.lock:
                        outer.topics.extend(body["hub.url"])
                self.send_response(202)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def take(self) -> set[str]:
        with self.lock:
            taken, self.topics = set(self.topics), []
        return taken

    def wait_for(self, wanted: set[str], seconds: float) -> set[str]:
        """Every topic received until ``wanted`` all came (or the time is up)."""
        deadline = time.monotonic() + seconds
        seen: set[str] = set()
        while True:
            seen |= self.take()
            if wanted <= seen or time.monotonic() > deadline:
                return seen
            time.sleep(0.1)


class FeedSite:
    """One `publisher run` daemon, as a reader, a hub and the export folder see it."""

    def __init__(self, engine: Engine, settings: Settings, port: int, out: Path) -> None:
        self.engine, self.settings, self.out = engine, settings, out
        self.base = f"http://127.0.0.1:{port}"

    def paths(self) -> set[str]:
        """Every feed path the site has now (built here from the same database)."""
        with store.reading(self.engine) as session:
            built = feeds.FeedBuilder(self.settings).build(session, now=datetime.now(UTC))
        return set(built.documents)

    def get(self, path: str, **headers: str) -> httpx.Response:
        return httpx.get(
            f"{self.base}/{path}", headers={"Accept-Encoding": "identity", **headers}, timeout=5
        )

    def served(self) -> dict[str, httpx.Response]:
        return {path: self.get(path) for path in self.paths()}

    def wait_until(self, shows: Callable[[bytes], bool], seconds: float) -> float:
        """Seconds until every site-wide feed shows the change."""
        start = time.monotonic()
        while not all(shows(self.get(p).content) for p in ("feed.xml", "atom.xml", "feed.json")):
            assert time.monotonic() - start < seconds, f"{self.base}: no change in {seconds} s"
            time.sleep(0.1)
        return time.monotonic() - start

    def assert_exported(self, served: dict[str, httpx.Response]) -> None:
        for path, response in served.items():
            assert response.status_code == 200, path
            assert (self.out / path).read_bytes() == response.content, path
            assert gzip.decompress((self.out / f"{path}.gz").read_bytes()) == response.content
        names = {p for p in self.out.rglob("*") if p.name in feeds.FEED_NAMES}
        assert {str(p.relative_to(self.out)) for p in names} == set(served)


def feeds_env(tmp_path: Path, database_url: str, hub: RecordingHub, out: Path) -> dict[str, str]:
    """Production settings: nothing shortened (no lease, retry or check period)."""
    schedules = tmp_path / "schedules.yaml"
    if not schedules.exists():  # a digest whose last send time is past its catch-up window
        schedules.write_text(timetable_text(datetime.now(UTC) - timedelta(hours=2), "1h"))
    return {k: v for k, v in os.environ.items() if not k.startswith("PUBLISHER_")} | {
        "PUBLISHER_DATABASE_URL": database_url,
        "PUBLISHER_SECRET_KEY": SECRET,
        "PUBLISHER_VAR_DIR": str(tmp_path / "var"),
        "PUBLISHER_SCHEDULES": str(schedules),
        "PUBLISHER_SITE_URL": "https://news.example.com",
        "PUBLISHER_API_TOKEN": API_TOKEN,
        "PUBLISHER_WEBSUB_HUB": hub.url,
        "PUBLISHER_FEEDS_EXPORT_DIR": str(out),
    }


def change_and_check(
    sites: list[FeedSite],
    hub: RecordingHub,
    change: Callable[[], None],
    shows: Callable[[bytes], bool],
) -> set[str]:
    """Make ``change`` outside the daemons; every daemon serves it within 15 s with moved
    ETags (an old ETag's 304 becomes a 200), the hub hears of exactly the feeds that changed,
    and each export folder holds the served bytes. The paths that changed."""
    before = sites[0].served()
    old = before["feed.xml"].headers["etag"]
    for site in sites:
        assert site.get("feed.xml", **{"If-None-Match": old}).status_code == 304
        assert not shows(site.get("feed.xml").content)
    change()
    for site in sites:
        assert site.wait_until(shows, 15) < 15
    after = sites[0].served()
    changed = {p for p, r in after.items() if before.get(p) is None or
               before[p].headers["etag"] != r.headers["etag"]}  # fmt: skip
    assert {"feed.xml", "atom.xml", "feed.json"} <= changed
    assert changed != set(after)  # the feeds without the story stay as they were
    for site in sites:
        served = site.served()
        assert {p: r.headers["etag"] for p, r in served.items()} == {
            p: r.headers["etag"] for p, r in after.items()
        }
        assert site.get("feed.xml", **{"If-None-Match": old}).status_code == 200
        site.assert_exported(served)
    wanted = {f"https://news.example.com/{p}" for p in changed}
    assert hub.wait_for(wanted, 30) == wanted
    return changed


def _owed_pings(engine: Engine) -> bool:
    """Whether any WebSub ping is still queued, due now or later."""
    with store.reading(engine) as session:
        return bool(store.due_pings(session, now=datetime.now(UTC) + timedelta(days=30)))


@pytest.mark.slow
def test_a_running_daemon_serves_changes_made_from_outside(
    engine: Engine, tmp_path: Path, database_url: str
) -> None:
    """Issue 11, with `publisher run` at its default settings: a correction from the CLI, one
    through the admin API and a withdrawn story each reach the feeds, the hub and the
    export folder."""
    settings = make_settings(tmp_path, PUBLISHER_DATABASE_URL=database_url,
                             PUBLISHER_SITE_URL="https://news.example.com")  # fmt: skip
    publish.import_articles(engine, settings, [EXAMPLES], now=datetime.now(UTC), actor="test")
    hub = RecordingHub()
    port = free_port()
    out = tmp_path / "public"
    env = feeds_env(tmp_path, database_url, hub, out)
    proc = start_daemon(env, port, tmp_path)
    site = FeedSite(engine, settings, port, out)
    try:
        # At start every feed is new to the database: the hub hears of all of them once.
        everything = {f"https://news.example.com/{p}" for p in site.paths()}
        assert hub.wait_for(everything, 30) == everything
        site.assert_exported(site.served())

        def cli_correction() -> None:
            subprocess.run(
                [sys.executable, "-m", "publisher", "articles", "correct",
                 "durian-exports-rail", "--note", "The corridor opens in May."],
                env=env, cwd=tmp_path, check=True, capture_output=True,
            )  # fmt: skip

        changed = change_and_check(
            [site], hub, cli_correction, lambda body: b"The corridor opens in May." in body
        )
        assert "categories/trade/feed.xml" in changed
        assert "categories/culture/feed.xml" not in changed

        def api_correction() -> None:
            response = httpx.post(
                f"{site.base}/api/articles/second-link-lane-closures/corrections",
                json={"note": "Closures start at 10pm."},
                headers={"Authorization": f"Bearer {API_TOKEN}"},
            )
            assert response.status_code == 200, response.text

        changed = change_and_check(
            [site], hub, api_correction, lambda body: b"Closures start at 10pm." in body
        )
        assert "categories/transport/atom.xml" in changed

        def withdraw() -> None:
            subprocess.run(
                [sys.executable, "-m", "publisher", "articles", "withdraw",
                 "penang-culture-forum", "--reason", "it was called off"],
                env=env, cwd=tmp_path, check=True, capture_output=True,
            )  # fmt: skip

        changed = change_and_check(
            [site], hub, withdraw, lambda body: b"Penang culture forum" not in body
        )
        assert "categories/culture/feed.json" in changed
        # Penang had only that story: its feed is gone, from the site and the folder.
        assert site.get("categories/penang/feed.xml").status_code == 404
        assert not (out / "categories" / "penang" / "feed.xml").exists()
    finally:
        stop_daemons(proc)
        hub.server.shutdown()


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_daemons_on_postgresql_serve_a_change_made_through_one(
    engine: Engine, tmp_path: Path, database_url: str
) -> None:
    settings = make_settings(tmp_path, PUBLISHER_DATABASE_URL=database_url,
                             PUBLISHER_SITE_URL="https://news.example.com")  # fmt: skip
    publish.import_articles(engine, settings, [EXAMPLES], now=datetime.now(UTC), actor="test")
    hub = RecordingHub()
    ports = [free_port(), free_port()]
    outs = [tmp_path / "public-a", tmp_path / "public-b"]
    procs = []
    try:
        for port, out in zip(ports, outs, strict=True):
            procs.append(start_daemon(feeds_env(tmp_path, database_url, hub, out), port, tmp_path))
        sites = [FeedSite(engine, settings, p, o) for p, o in zip(ports, outs, strict=True)]
        everything = {f"https://news.example.com/{p}" for p in sites[0].paths()}
        assert hub.wait_for(everything, 30) == everything
        # Both daemons built the feeds at start and may both have queued the same pings:
        # what either still owes goes out before the change, not into the change's window.
        for site in sites:
            site.served()
        support.wait_for(lambda: not _owed_pings(engine), "the start's pings sent")
        hub.take()

        def through_the_first() -> None:
            response = httpx.post(
                f"{sites[0].base}/api/articles/durian-exports-rail/corrections",
                json={"note": "Two daemons, one correction."},
                headers={"Authorization": f"Bearer {API_TOKEN}"},
            )
            assert response.status_code == 200, response.text

        changed = change_and_check(
            sites, hub, through_the_first, lambda body: b"Two daemons, one correction." in body
        )
        assert "categories/trade/feed.xml" in changed
    finally:
        stop_daemons(*procs)
        hub.server.shutdown()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_port_in_use_is_said_before_serving_with_what_to_look_for(
    tmp_path: Path, database_url: str
) -> None:
    """Issue 25: `publisher run` said "serving ... on :18765" and only then the bind error."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ran = cli(tmp_path, database_url, "run", "--port", str(port))
    assert ran.returncode == 1
    assert "serving" not in ran.stdout
    assert f"port {port} is in use: another `publisher run`?" in ran.stderr
    assert f"ss -ltnp 'sport = :{port}'" in ran.stderr


def _links(text: str) -> set[str]:
    """Every absolute http(s) address in a page, feed or mail."""
    return set(re.findall(r"https?://[^\s\"'<>)]+", text))


@pytest.mark.slow  # a daemon process, SMTP and several commands
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_without_a_site_url_every_link_points_where_the_daemon_listens(
    engine: Engine, tmp_path: Path, database_url: str
) -> None:
    """Issue 25: on :18765 without PUBLISHER_SITE_URL, every link but the first-admin one
    pointed at :8000 (pages, feeds, the confirmation mail, the digest, List-Unsubscribe and
    the link `users add` prints)."""
    nominal = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=2)
    schedules = tmp_path / "schedules.yaml"
    schedules.write_text(timetable_text(nominal, "1h"))
    settings = make_settings(tmp_path, PUBLISHER_DATABASE_URL=database_url)
    setup_site(engine, settings, tmp_path, nominal)
    smtp = SmtpServer()
    smtp.start()
    port = free_port()
    site = f"http://127.0.0.1:{port}"
    env = daemon_env(tmp_path, database_url, smtp, schedules, port)
    del env["PUBLISHER_SITE_URL"]
    proc = start_daemon(env, port, tmp_path)
    try:
        seen: set[str] = set()
        for path in ("/", "/articles/rail-freight-opens", "/feed.xml", "/atom.xml", "/feed.json"):
            answer = httpx.get(site + path, timeout=10)
            assert answer.status_code == 200, path
            seen |= _links(answer.text)
        assert f"{site}/articles/rail-freight-opens" in seen
        assert httpx.post(f"{site}/subscribe", data={"email": "ann@example.com"}).status_code == 200
        [confirmation] = smtp.recorder.wait_for(1)
        mail = confirmation.data.decode()
        seen |= _links(mail)
        token = re.search(rf"{re.escape(site)}/confirm/([A-Za-z0-9._-]+)", mail)
        assert token, mail
        assert httpx.post(f"{site}/confirm/{token[1]}").status_code == 200
        env["PUBLISHER_SMTP_URL"] = smtp.url
        beside = {k: v for k, v in env.items() if k.startswith("PUBLISHER_")}
        sent = cli(tmp_path, database_url, "digest", "send", "daily", **beside)
        assert sent.returncode == 0, sent.stderr
        digest = smtp.recorder.wait_for(2 + 3)[-1]  # three members of setup_site and Ann
        unsubscribe = digest.parsed()["List-Unsubscribe"]
        assert unsubscribe.startswith(f"<{site}/unsubscribe/"), unsubscribe
        seen |= _links(b"\n".join(m.data for m in smtp.recorder.received).decode())
        added = cli(tmp_path, database_url, "users", "add", "ed@example.com", **beside)
        assert f"  {site}/admin/welcome/" in added.stdout, added.stderr
        assert f"site URL {site} (where `publisher run` last listened" in added.stdout
        checked = cli(tmp_path, database_url, "check", **beside)
        assert f"site URL {site} (where `publisher run` last listened" in checked.stdout
    finally:
        [output] = stop_daemons(proc)
        smtp.stop()
    assert f"site URL {site} (where this daemon listens; set PUBLISHER_SITE_URL" in output
    ours = {link for link in seen if "127.0.0.1" in link or "localhost" in link}
    assert ours and all(link.startswith(site + "/") for link in ours), sorted(ours)
