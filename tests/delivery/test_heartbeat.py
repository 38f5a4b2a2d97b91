"""Sending processes' heartbeats, with real processes killed and stopped: a dead sender's
claims come back at once (no lease wait), a live one that is only late keeps them. Every test
here runs at the default lease (300 s) and heartbeat (5 s), so a finished run proves no lease
ran out."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from publisher import store
from publisher.delivery import sending
from publisher.delivery.heartbeat import MISSED_BEATS, Heartbeat, process_alive, process_start
from publisher.settings import Settings
from tests.mailing import audience, lease_holders, mail_site, start_edition
from tests.processes import cli_env
from tests.processes import deliver_process as deliver
from tests.smtp import SmtpServer

DEFAULT_HEARTBEAT = Settings.model_fields["send_heartbeat"].default
DEFAULT_LEASE = Settings.model_fields["send_lease"].default


def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def mail_settings(tmp_path: Path, database_url: str, smtp: SmtpServer) -> Settings:
    """Default lease and heartbeat."""
    return mail_site(
        tmp_path,
        database_url,
        smtp,
        # Shortened so a dropped connection's retry comes within the test, not a minute later;
        # the outbox back-off runs at its default in test_membership (the delivery one: not yet).
        PUBLISHER_SEND_RETRY_BASE="0.2",
    )


def default_env(
    settings: Settings, database_url: str, smtp: SmtpServer, tmp: Path
) -> dict[str, str]:
    env = cli_env(settings, database_url, smtp, tmp)
    del env["PUBLISHER_SEND_LEASE"]  # the default: 300 s
    return env


def wait_for(condition: object, what: str, limit: float = 60) -> None:
    deadline = time.monotonic() + limit
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def leased(engine: Engine) -> dict[str, int]:
    """Leased deliveries per lease owner."""
    d = store.deliveries_t
    with store.reading(engine) as session:
        rows = session.execute(select(d.c.lease_owner).where(d.c.status == "sending")).all()
    out: dict[str, int] = {}
    for (owner,) in rows:
        out[owner] = out.get(owner, 0) + 1
    return out


def beat_of(engine: Engine, pid: int) -> datetime | None:
    w = store.workers_t
    with store.reading(engine) as session:
        return session.scalar(select(w.c.beat_at).where(w.c.pid == pid))


def test_a_process_is_alive_only_while_its_pid_runs_the_same_process() -> None:
    me = os.getpid()
    assert process_start(me) != ""
    assert process_alive(me, process_start(me))
    assert not process_alive(me, "1")  # the pid was reused by a later process
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    assert not process_alive(int(child.stdout), "")


def test_a_worker_elsewhere_is_dead_after_missed_beats_and_alive_while_only_late(
    engine: Engine,
) -> None:
    """Another host's worker cannot be looked for: only its heartbeat tells."""
    t = now()
    period = DEFAULT_HEARTBEAT
    with store.writing(engine) as session:
        for name, age in (("late", 2 * period), ("dead", (MISSED_BEATS + 1) * period)):
            store.register_worker(
                session,
                f"elsewhere:1:{name}",
                host="elsewhere",
                pid=1,
                proc_start="",
                now=t - timedelta(seconds=age),
            )
    edition_rows(
        engine,
        {"elsewhere:1:late": 3, "elsewhere:1:dead": 2},
        lease_until=t + timedelta(seconds=DEFAULT_LEASE),
    )
    me = Heartbeat(engine, period, clock=now)
    assert me.start() == 2  # the dead one's two rows, at once
    me.stop()
    assert leased(engine) == {"elsewhere:1:late": 3, "elsewhere:1:dead": 2}
    with store.writing(engine) as session:
        claimed = store.claim_deliveries(
            session, "next", now=now(), lease=timedelta(seconds=60), limit=50
        )
    assert len(claimed) == 2  # claimable now, not when the 300 s lease runs out
    assert leased(engine) == {"elsewhere:1:late": 3, "next": 2}


def edition_rows(engine: Engine, owners: dict[str, int], *, lease_until: datetime) -> None:
    """Deliveries leased by ``owners`` (owner: how many), for one bare edition."""
    from sqlalchemy import insert

    t = now()
    with store.writing(engine) as session:
        edition, _ = store.create_edition(session, "daily", "2026-12-01", nominal_at=t, now=t)
        n = 0
        for owner, count in owners.items():
            for _ in range(count):
                n += 1
                session.execute(
                    insert(store.subscribers_t).values(
                        id=n,
                        email=f"m{n}@example.com",
                        name="M",
                        status="confirmed",
                        created_at=t,
                        updated_at=t,
                    )
                )
                session.execute(
                    insert(store.deliveries_t).values(
                        edition_id=edition.id,
                        subscriber_id=n,
                        email=f"m{n}@example.com",
                        status="sending",
                        attempts=0,
                        next_attempt_at=t,
                        lease_owner=owner,
                        lease_until=lease_until,
                        last_error="",
                    )
                )


@pytest.mark.slow
def test_sigkill_of_one_of_several_senders_gives_its_rows_back_at_once(
    engine: Engine, mail_settings: Settings, tmp_path: Path, smtp: SmtpServer, database_url: str
) -> None:
    members = audience(engine, mail_settings, tmp_path, 700)
    edition_id = start_edition(engine, mail_settings)
    smtp.recorder.delay = 0.005
    smtp.recorder.gate.clear()  # hold every message until all three senders hold deliveries
    env = default_env(mail_settings, database_url, smtp, tmp_path)
    procs = [deliver(env, tmp_path, "--once") for _ in range(3)]
    wait_for(lambda: len(lease_holders(engine)) == 3, "three senders hold deliveries")
    victim = procs.pop(1)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    smtp.recorder.gate.set()
    outputs = [proc.communicate(timeout=120) for proc in procs]  # well under the 300 s lease
    assert [proc.returncode for proc in procs] == [0, 0], outputs
    counts = smtp.recorder.counts()
    assert set(counts) == set(members)  # nobody lost
    # Only what the killed process had in flight (a message a connection) can go twice.
    assert sum(counts.values()) - len(members) <= mail_settings.send_concurrency
    assert sending.counts(engine, [edition_id])[edition_id] == {"sent": 700}
    assert "took back" in "".join(err for _, err in outputs)


@pytest.mark.slow
def test_sigkill_of_a_whole_daemon_then_restart_resends_only_what_was_in_flight(
    engine: Engine, mail_settings: Settings, tmp_path: Path, smtp: SmtpServer, database_url: str
) -> None:
    members = audience(engine, mail_settings, tmp_path, 300)
    edition_id = start_edition(engine, mail_settings)
    smtp.recorder.delay = 0.01
    env = default_env(mail_settings, database_url, smtp, tmp_path)
    command = [sys.executable, "-m", "publisher", "run", "--no-web", "--no-scheduler"]
    daemon = subprocess.Popen(
        command, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    wait_for(lambda: len(smtp.recorder.received) >= 40, "the daemon sends")
    daemon.send_signal(signal.SIGKILL)
    daemon.wait()
    assert leased(engine), "the killed daemon held deliveries"
    again = subprocess.Popen(
        command, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for(
            lambda: sending.counts(engine, [edition_id])[edition_id] == {"sent": 300},
            "the restarted daemon sends the rest, the dead one's claims included",
            limit=120,  # well under the 300 s lease
        )
    finally:
        again.send_signal(signal.SIGTERM)
        _, err = again.communicate(timeout=30)
    assert again.returncode == 0, err
    assert "took back" in err
    counts = smtp.recorder.counts()
    assert set(counts) == set(members)
    assert sum(counts.values()) - len(members) <= mail_settings.send_concurrency


@pytest.mark.slow
def test_a_stopped_sender_keeps_its_rows_while_late_and_loses_them_when_its_beat_stops(
    engine: Engine, mail_settings: Settings, tmp_path: Path, smtp: SmtpServer, database_url: str
) -> None:
    """At the default heartbeat: SIGSTOP a sender holding deliveries (its process is alive,
    so only its heartbeat tells); after one missed beat it keeps them, after four it does not;
    woken up, it drops what it held and sends nothing of it."""
    members = audience(engine, mail_settings, tmp_path, 200)
    edition_id = start_edition(engine, mail_settings)
    smtp.recorder.gate.clear()
    env = default_env(mail_settings, database_url, smtp, tmp_path)
    proc = deliver(env, tmp_path, "--once")
    wait_for(
        lambda: len(smtp.recorder.received) == 0 and sum(leased(engine).values()) > 0, "it claims"
    )
    wait_for(
        lambda: smtp.recorder.waiting >= mail_settings.send_concurrency,
        "every connection has a message in flight",
    )
    proc.send_signal(signal.SIGSTOP)
    try:
        held = leased(engine)
        stopped_at = now()
        late = stopped_at + timedelta(seconds=2 * DEFAULT_HEARTBEAT)
        wait_for(lambda: now() > late, "two beats are missed")
        me = Heartbeat(engine, DEFAULT_HEARTBEAT, clock=now)
        assert me.start() == 0  # late, not dead: it keeps its rows
        assert leased(engine) == held
        beat = beat_of(engine, proc.pid)
        assert beat is not None and beat < now() - timedelta(seconds=DEFAULT_HEARTBEAT)
        dead_at = beat + timedelta(seconds=MISSED_BEATS * DEFAULT_HEARTBEAT)
        wait_for(lambda: now() > dead_at, "four beats are missed")
        assert me.evict_dead() == sum(held.values())
        me.stop()
        smtp.recorder.gate.set()  # what was in flight is accepted
        sending.Sender(engine, mail_settings, clock=now).run(threading.Event(), once=True)
    finally:
        proc.send_signal(signal.SIGCONT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "taken for dead" in err
    counts = smtp.recorder.counts()
    assert set(counts) == set(members)
    assert sum(counts.values()) - len(members) <= mail_settings.send_concurrency
    assert sending.counts(engine, [edition_id])[edition_id] == {"sent": 200}


@pytest.mark.slow
def test_deliver_with_three_processes_sends_everyone_once(
    engine: Engine, mail_settings: Settings, tmp_path: Path, smtp: SmtpServer, database_url: str
) -> None:
    members = audience(engine, mail_settings, tmp_path, 700)
    edition_id = start_edition(engine, mail_settings)
    smtp.recorder.gate.clear()  # hold every message until all three processes hold deliveries
    env = default_env(mail_settings, database_url, smtp, tmp_path)
    proc = deliver(env, tmp_path, "--once", "--processes", "3")
    wait_for(lambda: len(lease_holders(engine)) == 3, "three processes hold deliveries")
    smtp.recorder.gate.set()
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert out.startswith("sent 700, failed 0,"), out  # the three processes' tallies, summed
    assert smtp.recorder.counts() == {address: 1 for address in members}
    assert sending.counts(engine, [edition_id])[edition_id] == {"sent": 700}
