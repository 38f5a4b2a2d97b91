"""The bounce mailbox (issue 28) against a real Dovecot, IMAP and POP3, over STARTTLS and TLS,
holding reports built from messages the product really sent: each read once, acted on and
deleted or moved; forged ones change nobody; a refused password or a server that is down is
logged once and shown, and the poller goes on; two pollers on one mailbox act once."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import trustme
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from publisher import store
from publisher.daemon.scheduler import Timekeeper
from publisher.delivery import mailbox
from publisher.delivery.bounces import Applied
from publisher.schedules import load_timetable
from publisher.settings import Settings
from publisher.templating import make_environment
from publisher.web import create_app
from tests import bouncing
from tests.dovecot import USER, Dovecot
from tests.mailing import audience, mail_site, now, run_until_done, start_edition
from tests.smtp import SmtpServer
from tests.support import wait_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def dovecot(ca: trustme.CA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Dovecot]:
    bundle = tmp_path / "ca.pem"  # our CA is the one the client trusts, as a system store
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    server = Dovecot(tmp_path / "dovecot", ca)
    server.start()
    yield server
    server.close()


def settings_for(tmp_path: Path, database_url: str, smtp: SmtpServer, url: str) -> Settings:
    return mail_site(
        tmp_path,
        database_url,
        smtp,
        PUBLISHER_BOUNCE_MAILBOX_URL=url,
    )


def send(engine: Engine, settings: Settings, tmp_path: Path, smtp: SmtpServer) -> dict[str, bytes]:
    audience(engine, settings, tmp_path, 6)
    run_until_done(engine, settings, start_edition(engine, settings))
    return {r.recipient: r.data for r in smtp.recorder.received}


def status_of(engine: Engine, address: str) -> str:
    with store.reading(engine) as session:
        row = store.subscriber_by_email(session, address)
        assert row is not None
        return row.status


def reports(sent: dict[str, bytes]) -> list[bytes]:
    """A hard bounce, a complaint, a mailed unsubscribe, a forged report and a plain mail."""
    return [
        bouncing.dsn(sent["member1@example.com"], "member1@example.com"),
        bouncing.arf(sent["member2@example.com"]),
        bouncing.mailed_unsubscribe(sent["member3@example.com"]),
        bouncing.dsn(sent["member5@example.com"], "member4@example.com"),  # forged
        b"From: reader@example.org\r\nSubject: Thanks\r\n\r\nLoved the digest.\r\n",
    ]


def check_acted_on(engine: Engine) -> None:
    assert [status_of(engine, f"member{n}@example.com") for n in range(6)] == [
        "confirmed",
        "bounced",
        "unsubscribed",
        "unsubscribed",
        "confirmed",  # the forged report changed nobody
        "confirmed",
    ]


def test_imap_over_starttls_reads_each_report_once_and_deletes_it(
    engine: Engine, database_url: str, tmp_path: Path, smtp: SmtpServer, dovecot: Dovecot
) -> None:
    settings = settings_for(
        tmp_path, database_url, smtp, dovecot.url("imap", query="?starttls=true")
    )
    sent = send(engine, settings, tmp_path, smtp)
    # With a mailbox, the digest's List-Unsubscribe names it too (the mailto first).
    header = str(smtp.recorder.received[0].parsed()["List-Unsubscribe"])
    assert header.startswith(f"<mailto:{USER}?subject=unsubscribe%20") and "https://" in header
    dovecot.append(*reports(sent))
    applied = mailbox.poll_mailbox(engine, settings, now=now())
    assert applied is not None
    assert (applied.suppressed, applied.unsubscribed, applied.refused, applied.unread) == (
        1,
        2,
        1,
        1,
    )
    check_acted_on(engine)
    assert dovecot.count() == 0  # processed mail is deleted
    # Not due again yet: the next poll is the interval later.
    assert mailbox.poll_mailbox(engine, settings, now=now()) is None


def test_imaps_moves_processed_mail_to_a_folder(
    engine: Engine, database_url: str, tmp_path: Path, smtp: SmtpServer, dovecot: Dovecot
) -> None:
    settings = settings_for(
        tmp_path, database_url, smtp, dovecot.url("imaps", query="?done=Processed")
    )
    sent = send(engine, settings, tmp_path, smtp)
    dovecot.append(*reports(sent))
    assert mailbox.poll_mailbox(engine, settings, now=now()) is not None
    check_acted_on(engine)
    assert (dovecot.count(), dovecot.count("Processed")) == (0, 5)


@pytest.mark.parametrize("scheme, query", [("pop3s", ""), ("pop3", "?starttls=true")])
def test_pop3_reads_and_deletes(
    engine: Engine,
    database_url: str,
    tmp_path: Path,
    smtp: SmtpServer,
    dovecot: Dovecot,
    scheme: str,
    query: str,
) -> None:
    settings = settings_for(tmp_path, database_url, smtp, dovecot.url(scheme, query=query))
    sent = send(engine, settings, tmp_path, smtp)
    dovecot.append(*reports(sent))
    assert mailbox.poll_mailbox(engine, settings, now=now()) is not None
    check_acted_on(engine)
    assert dovecot.count() == 0


def test_a_refused_password_and_a_mailbox_that_is_down_are_logged_once_and_shown(
    engine: Engine,
    database_url: str,
    tmp_path: Path,
    smtp: SmtpServer,
    dovecot: Dovecot,
    caplog: pytest.LogCaptureFixture,
) -> None:
    wrong = settings_for(
        tmp_path, database_url, smtp, dovecot.url("imaps", password="not the password")
    )
    caplog.set_level(logging.WARNING, logger="publisher.delivery.mailbox")
    every = timedelta(seconds=wrong.bounce_mailbox_every)
    for n in range(2):
        assert mailbox.poll_mailbox(engine, wrong, now=now() + every * n) == Applied()
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1 and "refused the login" in said[0], said
    dovecot.stop()
    right = settings_for(tmp_path, database_url, smtp, dovecot.url("imaps"))
    mailbox.poll_mailbox(engine, right, now=now() + every * 2)
    health = mailbox.health(engine, right)
    assert health.down and health.failures == 3 and "cannot reach" in health.error
    client = TestClient(create_app(right, engine, feed_upkeep_every=None))
    body = client.get("/healthz").json()
    assert body["bounce_mailbox"]["status"] == "down"
    assert body["bounce_mailbox"]["failed_polls"] == 3
    assert "error" not in body["bounce_mailbox"]  # the mail server's name stays in the log
    dovecot.start()
    assert mailbox.poll_mailbox(engine, right, now=now() + every * 3) == Applied()
    assert not mailbox.health(engine, right).down
    assert "back after 3 failed poll(s)" in caplog.records[-1].getMessage()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_pollers_on_one_mailbox_act_on_each_report_once(
    engine: Engine, database_url: str, tmp_path: Path, smtp: SmtpServer, dovecot: Dovecot
) -> None:
    settings = settings_for(tmp_path, database_url, smtp, dovecot.url("imaps"))
    sent = send(engine, settings, tmp_path, smtp)
    mails = reports(sent)
    dovecot.append(*mails, mails[0])  # the same report twice (a copy delivered again)
    start = threading.Barrier(2)
    results: list[Applied | None] = []

    def poller() -> None:
        start.wait()
        results.append(mailbox.poll_mailbox(engine, settings, now=now()))

    threads = [threading.Thread(target=poller) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    polled = [r for r in results if r is not None]
    assert len(polled) == 1 and polled[0].duplicate == 1
    check_acted_on(engine)
    with store.reading(engine) as session:
        rows = session.scalars(store.bounce_reports_t.select()).all()
    assert len(rows) == 2  # the hard bounce and the complaint, once each


def test_the_daemons_clock_polls_the_mailbox(
    engine: Engine, database_url: str, tmp_path: Path, smtp: SmtpServer, dovecot: Dovecot
) -> None:
    settings = settings_for(tmp_path, database_url, smtp, dovecot.url("imaps"))
    sent = send(engine, settings, tmp_path, smtp)
    keeper = Timekeeper(
        engine, settings, load_timetable(settings.schedules), make_environment(), clock=now
    )
    keeper.start()
    try:
        dovecot.append(bouncing.dsn(sent["member1@example.com"], "member1@example.com"))
        wait_for(lambda: status_of(engine, "member1@example.com") == "bounced", "the bounce")
        wait_for(lambda: dovecot.count() == 0, "the report deleted")
    finally:
        keeper.shutdown()
