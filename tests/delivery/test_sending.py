"""Delivery against a real SMTP server (aiosmtpd), on SQLite and PostgreSQL: every confirmed
member gets each edition once, whatever fails; crashes lose nothing."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from publisher import store
from publisher.delivery import sending
from publisher.delivery.sending import Sender
from publisher.settings import Settings
from tests.mailing import audience, lease_holders, mail_site, now, run_until_done, start_edition
from tests.processes import cli_env, deliver_process
from tests.smtp import SmtpServer


@pytest.fixture
def mail_settings(tmp_path: Path, database_url: str, smtp: SmtpServer) -> Settings:
    return mail_site(
        tmp_path,
        database_url,
        smtp,
        PUBLISHER_SEND_RETRY_BASE="0.2",
        PUBLISHER_SEND_LEASE="2",
    )


def test_every_confirmed_member_gets_it_once(
    engine: Engine, mail_settings: Settings, tmp_path: Path, smtp: SmtpServer
) -> None:
    members = audience(engine, mail_settings, tmp_path, 30)
    edition_id = start_edition(engine, mail_settings)
    run_until_done(engine, mail_settings, edition_id)
    assert smtp.recorder.counts() == {address: 1 for address in members}
    message = smtp.recorder.received[0].parsed()
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["List-Unsubscribe"].startswith("<https://news.example.com/unsubscribe/")
    assert message["Message-ID"].endswith("@news.example.com>")
    assert "Story 0" in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    tally = sending.counts(engine, [edition_id])[edition_id]
    assert tally == {"sent": 30}
    with store.reading(engine) as session:
        assert store.edition_by_id(session, edition_id).status == "sent"
    # Run again in the same period: nothing more is owed, nothing is sent twice.
    start_edition(engine, mail_settings)
    run_until_done(engine, mail_settings, edition_id)
    assert smtp.recorder.counts() == {address: 1 for address in members}


def test_temporary_failures_are_retried_and_a_dead_mailbox_bounces(
    engine: Engine, mail_settings: Settings, tmp_path: Path, smtp: SmtpServer
) -> None:
    members = audience(engine, mail_settings, tmp_path, 12)
    smtp.recorder.plans["member1@example.com"] = ["451 4.3.0 greylisted", "421 4.7.0 busy"]
    smtp.recorder.plans["member2@example.com"] = ["451 4.3.0 greylisted"]
    smtp.recorder.plans["member3@example.com"] = ["550 5.1.1 <member3@example.com>: user unknown"]
    edition_id = start_edition(engine, mail_settings)
    run_until_done(engine, mail_settings, edition_id)
    expected = {address: 1 for address in members if address != "member3@example.com"}
    assert smtp.recorder.counts() == expected
    assert sending.counts(engine, [edition_id])[edition_id] == {"sent": 11, "failed": 1}
    with store.reading(engine) as session:
        gone = store.subscriber_by_email(session, "member3@example.com")
    assert gone is not None and gone.status == "bounced"
    with store.reading(engine) as session:
        assert store.audience_size(session, "daily") == 11


@pytest.mark.slow
def test_a_server_that_goes_down_mid_send_loses_nothing(
    engine: Engine, mail_settings: Settings, tmp_path: Path, smtp: SmtpServer
) -> None:
    members = audience(engine, mail_settings, tmp_path, 60)
    smtp.recorder.delay = 0.01
    edition_id = start_edition(engine, mail_settings)
    stop = threading.Event()
    sender = Sender(engine, mail_settings, clock=now)
    worker = threading.Thread(target=sender.run, args=(stop,))
    worker.start()
    while len(smtp.recorder.received) < 15:
        time.sleep(0.01)
    smtp.stop()
    time.sleep(1.0)  # sends fail and are rescheduled while the server is away
    smtp.start()
    deadline = time.monotonic() + 60
    while sum(
        sending.counts(engine, [edition_id])[edition_id].get(s, 0)
        for s in ("pending", "sending", "retry")
    ):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    stop.set()
    worker.join()
    counts = smtp.recorder.counts()
    assert set(counts) == set(members)  # nobody lost
    # Only a message in flight on a connection when the server died can arrive twice.
    assert sum(counts.values()) - len(members) <= mail_settings.send_concurrency
    assert sending.counts(engine, [edition_id])[edition_id] == {"sent": 60}


@pytest.mark.slow
def test_a_long_outage_fails_nobody(
    engine: Engine, tmp_path: Path, database_url: str, smtp: SmtpServer
) -> None:
    """The server is away for more tries than send_max_attempts: those tries are not the
    readers' fault, so nobody is marked failed and everyone gets it once it is back."""
    settings = mail_site(
        tmp_path,
        database_url,
        smtp,
        PUBLISHER_SEND_RETRY_BASE="0.05",
        PUBLISHER_SEND_MAX_ATTEMPTS="2",
        PUBLISHER_SEND_CONCURRENCY="2",
    )
    members = audience(engine, settings, tmp_path, 20)
    smtp.stop()
    edition_id = start_edition(engine, settings)
    stop = threading.Event()
    sender = Sender(engine, settings, clock=now)
    worker = threading.Thread(target=sender.run, args=(stop,))
    worker.start()
    deadline = time.monotonic() + 30
    while sender.tally.deferred < 6:  # three times send_max_attempts, at least
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert sending.counts(engine, [edition_id])[edition_id].get("failed") is None
    assert sender.mail_status().startswith("unavailable since ")
    smtp.start()
    while sending.counts(engine, [edition_id])[edition_id] != {"sent": 20}:
        assert time.monotonic() < deadline + 30, sending.counts(engine, [edition_id])
        time.sleep(0.1)
    stop.set()
    worker.join()
    assert smtp.recorder.counts() == {address: 1 for address in members}
    assert sender.tally.failed == 0 and sender.tally.snapshot()["messages_deferred"] >= 6
    assert sender.mail_status() == "ok"


def test_once_gives_up_early_while_the_server_is_down(
    engine: Engine, mail_settings: Settings, tmp_path: Path, smtp: SmtpServer
) -> None:
    """`digest send` and `deliver --once` stop at the outage instead of trying every batch;
    everything stays owed, with no attempt counted."""
    audience(engine, mail_settings, tmp_path, 300)  # six batches
    smtp.stop()
    edition_id = start_edition(engine, mail_settings)
    sender = Sender(engine, mail_settings, clock=now)
    worker = threading.Thread(target=sender.run, args=(threading.Event(),), kwargs={"once": True})
    worker.start()
    worker.join(timeout=120)
    assert not worker.is_alive()
    # At most one try per connection, not one per batch.
    assert 1 <= sender.tally.deferred <= mail_settings.send_concurrency < 6
    owed = sending.counts(engine, [edition_id])[edition_id]
    assert owed == {"pending": 300}  # released with no attempt counted
    smtp.start()


def test_someone_who_leaves_during_a_send_is_not_mailed(
    engine: Engine, mail_settings: Settings, tmp_path: Path, smtp: SmtpServer
) -> None:
    audience(engine, mail_settings, tmp_path, 5)
    edition_id = start_edition(engine, mail_settings)
    with store.writing(engine) as session:
        row = store.subscriber_by_email(session, "member4@example.com")
        assert row is not None
        store.set_subscriber_status(session, row.id or 0, "unsubscribed", now=now())
    run_until_done(engine, mail_settings, edition_id)
    assert "member4@example.com" not in smtp.recorder.counts()
    assert sending.counts(engine, [edition_id])[edition_id] == {"sent": 4, "cancelled": 1}


@pytest.mark.slow
def test_sigkill_at_random_points_loses_nothing(
    engine: Engine, mail_settings: Settings, tmp_path: Path, smtp: SmtpServer, database_url: str
) -> None:
    members = audience(engine, mail_settings, tmp_path, 300)
    smtp.recorder.delay = 0.01
    edition_id = start_edition(engine, mail_settings)
    env = cli_env(mail_settings, database_url, smtp, tmp_path)
    command = [sys.executable, "-m", "publisher", "deliver", "--once"]
    rng = random.Random(7)
    kills = 0
    while kills < 5:
        before = len(smtp.recorder.received)
        proc = subprocess.Popen(
            command, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 30
        # Kill once it is sending, at a random point of the run.
        while len(smtp.recorder.received) < before + rng.randint(5, 40):
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
    final = subprocess.run(
        command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert final.returncode == 0, final.stderr
    counts = smtp.recorder.counts()
    assert set(counts) == set(members)  # none lost
    duplicates = sum(counts.values()) - len(members)
    assert duplicates <= kills * mail_settings.send_concurrency  # only what was in flight
    tally = sending.counts(engine, [edition_id])[edition_id]
    assert tally == {"sent": 300}
    listing = subprocess.run(
        [sys.executable, "-m", "publisher", "digest", "list"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "sent 300  failed 0  owed 0" in listing.stdout


@pytest.mark.slow
def test_sigterm_stops_cleanly_and_the_rest_is_still_owed(
    engine: Engine, mail_settings: Settings, tmp_path: Path, smtp: SmtpServer, database_url: str
) -> None:
    members = audience(engine, mail_settings, tmp_path, 200)
    smtp.recorder.delay = 0.05
    edition_id = start_edition(engine, mail_settings)
    env = cli_env(mail_settings, database_url, smtp, tmp_path)
    proc = deliver_process(env, tmp_path)
    while len(smtp.recorder.received) < 20:
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert out.startswith("sent ")
    tally = sending.counts(engine, [edition_id])[edition_id]
    assert tally.get("sending", 0) == 0  # nothing left leased: released for the next run
    assert 0 < tally["sent"] < 200 and tally["sent"] + tally.get("pending", 0) == 200
    run_until_done(engine, mail_settings, edition_id)
    assert smtp.recorder.counts() == {address: 1 for address in members}


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_deliver_processes_share_one_edition(
    engine: Engine, mail_settings: Settings, tmp_path: Path, smtp: SmtpServer, database_url: str
) -> None:
    """Several delivery processes is the PostgreSQL set-up (FOR UPDATE SKIP LOCKED)."""
    members = audience(engine, mail_settings, tmp_path, 400)
    start_edition(engine, mail_settings)
    smtp.recorder.gate.clear()  # hold every message until both processes hold deliveries
    env = cli_env(mail_settings, database_url, smtp, tmp_path)
    procs = [deliver_process(env, tmp_path, "--once") for _ in range(2)]
    deadline = time.monotonic() + 60
    while len(lease_holders(engine)) < 2:
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs)
        time.sleep(0.05)
    smtp.recorder.gate.set()
    outputs = [proc.communicate(timeout=120) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], outputs
    assert smtp.recorder.counts() == {address: 1 for address in members}
    sent = [int(out.split()[1].rstrip(",")) for out, _ in outputs]
    assert sum(sent) == 400 and min(sent) > 0  # both did part of the work


def test_the_unsubscribe_link_in_the_mail_works_with_one_click(
    engine: Engine, mail_settings: Settings, tmp_path: Path, smtp: SmtpServer
) -> None:
    from urllib.parse import urlsplit

    from fastapi.testclient import TestClient

    from publisher.web import create_app

    audience(engine, mail_settings, tmp_path, 3)
    edition_id = start_edition(engine, mail_settings)
    run_until_done(engine, mail_settings, edition_id)
    message = next(
        r for r in smtp.recorder.received if r.recipient == "member1@example.com"
    ).parsed()
    url = urlsplit(message["List-Unsubscribe"].strip("<>"))
    client = TestClient(create_app(mail_settings, engine, feed_upkeep_every=None))
    response = client.post(
        url.path,
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    with store.reading(engine) as session:
        row = store.subscriber_by_email(session, "member1@example.com")
        assert row is not None and row.status == "unsubscribed"
        assert store.audience_size(session, "daily") == 2
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    preferences = html.split('href="https://news.example.com/preferences/')[1].split('"')[0]
    assert client.get(f"/preferences/{preferences}").status_code == 200


@pytest.mark.parametrize("pipelining", [True, False])
def test_a_connection_dropped_after_a_message_loses_nobody_and_sends_it_twice_at_most(
    engine: Engine,
    mail_settings: Settings,
    tmp_path: Path,
    smtp: SmtpServer,
    pipelining: bool,
) -> None:
    members = audience(engine, mail_settings, tmp_path, 30)
    smtp.recorder.pipelining = pipelining
    smtp.recorder.plans["member3@example.com"] = ["550 5.1.1 no such user"]  # mid-pipeline
    smtp.recorder.drop_after_data.add("member5@example.com")  # taken, the reply never sent
    edition_id = start_edition(engine, mail_settings)
    run_until_done(engine, mail_settings, edition_id)
    counts = smtp.recorder.counts()
    assert set(counts) == set(members) - {"member3@example.com"}  # nobody lost
    # The message in flight when the connection dropped went again: the README's bound, one
    # message a connection.
    assert counts["member5@example.com"] == 2
    assert sum(counts.values()) - len(counts) == 1
    assert sending.counts(engine, [edition_id])[edition_id] == {"sent": 29, "failed": 1}


def test_a_retry_waits_out_its_back_off_at_the_default_setting(
    engine: Engine, tmp_path: Path, smtp: SmtpServer, database_url: str
) -> None:
    # PUBLISHER_SEND_RETRY_BASE left at its default, 60 s
    settings = mail_site(tmp_path, database_url, smtp)
    assert settings.send_retry_base == 60
    members = audience(engine, settings, tmp_path, 5)
    smtp.recorder.plans["member1@example.com"] = ["451 4.3.0 greylisted"]
    edition_id = start_edition(engine, settings)
    start = now()
    clock = [start]  # the senders read the time from here: no sleeping out the back-off

    def send_at(offset: float) -> None:
        clock[0] = start + timedelta(seconds=offset)
        Sender(engine, settings, clock=lambda: clock[0]).run(threading.Event(), once=True)

    send_at(0)
    assert smtp.recorder.counts() == {a: 1 for a in members if a != "member1@example.com"}
    deliveries = store.deliveries_t
    with store.reading(engine) as session:
        retry = session.execute(
            select(deliveries.c.status, deliveries.c.attempts, deliveries.c.next_attempt_at).where(
                deliveries.c.email == "member1@example.com"
            )
        ).one()
    assert (retry.status, retry.attempts) == ("retry", 1)
    # The first back-off is half to all of the base (full jitter): 30 to 60 s.
    wait = (retry.next_attempt_at - start).total_seconds()
    assert 30 <= wait <= 60
    send_at(wait - 1)  # not yet due: --once has nothing to do, and says so by returning
    assert "member1@example.com" not in smtp.recorder.counts()
    send_at(wait + 0.001)
    assert smtp.recorder.counts() == {a: 1 for a in members}
    assert sending.counts(engine, [edition_id])[edition_id] == {"sent": 5}


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting to be reaped does not)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


@pytest.mark.slow
def test_run_with_processes_children_stop_when_the_parent_is_killed(
    engine: Engine, mail_settings: Settings, tmp_path: Path, smtp: SmtpServer, database_url: str
) -> None:
    env = cli_env(mail_settings, database_url, smtp, tmp_path)
    command = ["run", "--no-web", "--no-scheduler", "--processes", "3"]
    parent = subprocess.Popen(
        [sys.executable, "-m", "publisher", *command],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while len(children := children_of(parent.pid)) < 2:
            assert time.monotonic() < deadline and parent.poll() is None
            time.sleep(0.05)
        parent.send_signal(signal.SIGKILL)  # no chance to stop them itself
        parent.wait()
        deadline = time.monotonic() + 30
        while any(alive(child) for child in children):
            assert time.monotonic() < deadline, "a sending process outlived its parent"
            time.sleep(0.05)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()


@pytest.mark.slow
def test_more_connections_than_the_database_pool_holds_by_default(
    engine: Engine, mail_settings: Settings, tmp_path: Path, smtp: SmtpServer, database_url: str
) -> None:
    # Each sending connection's outcome writer keeps a database connection for the whole run:
    # 24 of them, and the batches' queries beside them, fit in the sender's pool (a default
    # pool holds 15 on SQLite: the 16th connection waited, then failed the run).
    members = audience(engine, mail_settings, tmp_path, 1250)  # 24 first claims of 50
    edition_id = start_edition(engine, mail_settings)
    smtp.recorder.gate.clear()  # every message held until all 24 connections are open
    env = cli_env(mail_settings, database_url, smtp, tmp_path)
    env["PUBLISHER_SEND_CONCURRENCY"] = "24"
    proc = deliver_process(env, tmp_path, "--once")
    try:
        deadline = time.monotonic() + 60
        while smtp.recorder.greeted < 24:
            assert time.monotonic() < deadline and proc.poll() is None, smtp.recorder.greeted
            time.sleep(0.05)
    finally:
        smtp.recorder.gate.set()
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert out.startswith("sent 1250,")
    assert smtp.recorder.counts() == {address: 1 for address in members}
    assert sending.counts(engine, [edition_id])[edition_id] == {"sent": 1250}


def test_a_branded_digest_arrives_with_its_logo_and_colour_inlined(
    engine: Engine, mail_settings: Settings, tmp_path: Path, smtp: SmtpServer
) -> None:
    from html.parser import HTMLParser

    from fastapi.testclient import TestClient

    from publisher.look import changes
    from publisher.schedules import load_timetable
    from publisher.web import create_app
    from tests.pictures import png

    studio = load_timetable(mail_settings.schedules).brand_studio
    logo = changes.keep_logo(engine, png(600, 150), actor="chief@example.com", now=now())
    typed = {
        "accent": "#0b5fff",
        "logo": logo.key,
        "title": "Newsflash Asia",
        "reason": 'You get "{digest}" because you asked for it.',
        "postal_address": "1 Harbour Road, Singapore 000001",
    }
    checked = changes.check(typed)
    assert checked.errors == {}
    changes.save(engine, mail_settings, studio, checked.values, version=0, actor="chief", now=now())
    members = audience(engine, mail_settings, tmp_path, 3)
    edition_id = start_edition(engine, mail_settings)
    run_until_done(engine, mail_settings, edition_id)
    # Each member got it (once each is the other tests' subject: with this module's 2 s lease, a
    # machine loaded by other tests can send one in flight twice).
    assert set(smtp.recorder.counts()) == set(members)
    message = smtp.recorder.received[0].parsed()
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["List-Unsubscribe"].startswith("<https://news.example.com/unsubscribe/")
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]

    class Images(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.found: list[dict[str, str | None]] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag == "img":
                self.found.append(dict(attrs))

    images = Images()
    images.feed(html)
    url = f"https://news.example.com/look/logo/{logo.key}.png"
    assert [(i["src"], i["width"], i["height"]) for i in images.found] == [(url, "240", "60")]
    assert "color:#0b5fff" in html.replace(" ", "") and "#c8102e" not in html
    assert 'You get "Join The Community" because you asked for it.' in text  # {digest}
    assert "1 Harbour Road, Singapore 000001" in html
    # The logo is there at that address, for every reader's mail program.
    client = TestClient(create_app(mail_settings, engine, feed_upkeep_every=None))
    served = client.get(f"/look/logo/{logo.key}.png")
    assert served.status_code == 200 and served.content == png(600, 150)
    assert served.headers["content-type"] == "image/png"
