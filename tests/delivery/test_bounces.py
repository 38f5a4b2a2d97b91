"""Issue 28's rules, on SQLite and PostgreSQL, with reports built around messages the product
really sent (a real SMTP server captured them): a hard bounce suppresses at once, soft
bounces after the limit, a complaint unsubscribes and says why; each action recorded with
its report (the subscriber's page, the edition's figures, the trail); an admin clears a
suppressed member; a forged report changes nobody; the same report twice counts once."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from publisher import store
from publisher.community import subscribers
from publisher.delivery import bounces
from publisher.delivery.bounces import Target
from publisher.editions import stats
from publisher.mail.bounces import Finding
from publisher.settings import Settings
from publisher.tokens import Signer
from tests import bouncing
from tests.mailing import audience, mail_site, now, run_until_done, start_edition
from tests.processes import cli
from tests.smtp import SmtpServer


@pytest.fixture
def mail_settings(tmp_path: Path, database_url: str, smtp: SmtpServer) -> Settings:
    return mail_site(tmp_path, database_url, smtp)


@pytest.fixture
def sent(
    engine: Engine, mail_settings: Settings, tmp_path: Path, smtp: SmtpServer
) -> dict[str, bytes]:
    """An edition sent to member0..member5: each one's message as the server took it."""
    audience(engine, mail_settings, tmp_path, 6)
    run_until_done(engine, mail_settings, start_edition(engine, mail_settings))
    return {r.recipient: r.data for r in smtp.recorder.received}


def status_of(engine: Engine, address: str) -> str:
    with store.reading(engine) as session:
        row = store.subscriber_by_email(session, address)
        assert row is not None
        return row.status


def apply(engine: Engine, settings: Settings, *mails: bytes) -> bounces.Applied:
    signer = Signer.of(settings.secret_key)
    return bounces.apply_mails(engine, settings, signer, list(mails), source="mailbox", now=now())


def report_count(engine: Engine) -> int:
    with store.reading(engine) as session:
        return int(session.scalar(select(func.count()).select_from(store.bounce_reports_t)) or 0)


def test_a_hard_bounce_suppresses_once_and_is_recorded(
    engine: Engine, mail_settings: Settings, sent: dict[str, bytes]
) -> None:
    gone = "member1@example.com"
    report = bouncing.dsn(sent[gone], gone)
    applied = apply(engine, mail_settings, report)
    assert applied.suppressed == 1 and status_of(engine, gone) == "bounced"
    again = apply(engine, mail_settings, report)  # the same report read twice counts once
    assert (again.suppressed, again.duplicate) == (0, 1) and report_count(engine) == 1
    with store.reading(engine) as session:
        member = store.subscriber_by_email(session, gone)
        assert member is not None
    person = subscribers.person(engine, member.id or 0)
    assert [(r.kind, r.action, r.source) for r in person.reports] == [
        ("hard", "suppressed", "mailbox")
    ]
    assert "5.1.1" in person.reports[0].detail
    entry = person.trail[0]
    assert (entry.action, entry.actor) == ("subscriber.bounce", "mailbox report")
    assert "hard" in (entry.after or "") and "bounced" in (entry.after or "")
    figures = stats.figures(engine, mail_settings, person.reports[0].edition_id or 0, now=now())
    assert (figures.bounced, figures.complained) == (1, 0)
    assert status_of(engine, "member2@example.com") == "confirmed"


def test_reports_in_the_common_shapes_are_read(
    engine: Engine, mail_settings: Settings, sent: dict[str, bytes]
) -> None:
    """Postfix's, Exim's and an older Exchange's own shapes, and a DSN quoting only the
    headers (as Gmail's and Office 365's DSNs may)."""
    applied = apply(
        engine,
        mail_settings,
        bouncing.postfix_plain(sent["member1@example.com"], "member1@example.com"),
        bouncing.exim(sent["member2@example.com"], "member2@example.com"),
        bouncing.dsn(sent["member3@example.com"], "member3@example.com", headers_only=True),
        bouncing.exchange(sent["member4@example.com"], "member4@example.com"),
    )
    assert applied.suppressed == 4, applied
    assert {status_of(engine, f"member{n}@example.com") for n in (1, 2, 3, 4)} == {"bounced"}


def test_forged_reports_change_nobody(
    engine: Engine, mail_settings: Settings, sent: dict[str, bytes]
) -> None:
    """A report naming a member must quote the message we signed for that very member."""
    victim = "member1@example.com"
    attacker = sent["member2@example.com"]  # the attacker's own genuine digest
    forged_id = sent[victim].replace(b"Message-ID: <edition-", b"Message-ID: <edition-9")
    other_key = Signer("f" * 40).message_id("edition-1.delivery-1", victim, "news.example.com")
    applied = apply(
        engine,
        mail_settings,
        bouncing.dsn(attacker, victim),  # quotes a message to someone else
        bouncing.dsn(forged_id, victim),  # an id we never made
        bouncing.dsn(b"Message-ID: <" + other_key.encode() + b">\r\n\r\nhi", victim),
        bouncing.arf(b"Message-ID: <made-up@evil.example>\r\n\r\nhi", victim),
        bouncing.exim(b"Subject: no message of ours\r\n\r\nhi", victim),
        b"From: someone@example.org\r\nSubject: hello\r\n\r\nJust a reply to the digest.\r\n",
        b"\xff\xfe not a mail at all \x00",
    )
    assert applied.suppressed == applied.unsubscribed == 0
    assert applied.refused == 5 and applied.unread == 2
    assert status_of(engine, victim) == "confirmed" and report_count(engine) == 0


def test_a_complaint_unsubscribes_at_once_and_says_why(
    engine: Engine, mail_settings: Settings, sent: dict[str, bytes]
) -> None:
    member = "member3@example.com"
    applied = apply(engine, mail_settings, bouncing.arf(sent[member]))  # recipient redacted
    assert applied.unsubscribed == 1 and status_of(engine, member) == "unsubscribed"
    with store.reading(engine) as session:
        row = store.subscriber_by_email(session, member)
        assert row is not None
    person = subscribers.person(engine, row.id or 0)
    assert person.reports[0].kind == "complaint" and "abuse" in person.reports[0].detail
    assert person.trail[0].action == "subscriber.complaint"
    figures = stats.figures(engine, mail_settings, person.reports[0].edition_id or 0, now=now())
    assert figures.complained == 1


def test_soft_bounces_suppress_after_the_limit_and_an_admin_clears(
    engine: Engine, mail_settings: Settings, sent: dict[str, bytes]
) -> None:
    member = "member4@example.com"
    soft = bouncing.dsn(sent[member], member, status="4.2.2", diagnostic="smtp; 452 4.2.2 full")
    delayed = bouncing.dsn(sent[member], member, status="4.4.1", action="delayed")
    assert apply(engine, mail_settings, soft, delayed).counted == 1  # a delay is no bounce
    # The same delivery's bounce reported again (another report, say a webhook's) is one.
    assert apply(engine, mail_settings, bouncing.dsn(sent[member], member, status="4.2.2")).counted
    assert status_of(engine, member) == "confirmed"
    with store.reading(engine) as session:
        row = store.subscriber_by_email(session, member)
        assert row is not None
        first = store.bounce_reports_of(session, row.id or 0)[0]
    later = Target(member, row.id, first.edition_id or 0, (first.delivery_id or 0) + 1000)
    finding = Finding("soft", member, "452 4.2.2 mailbox full")
    outcome = bounces.apply_finding(
        engine, mail_settings, later, finding, key="webhook:1", source="ses", now=now()
    )
    assert outcome.action == "suppressed" and status_of(engine, member) == "bounced"
    subscribers.clear_bounce(engine, member, actor="admin@example.com", now=now())
    assert status_of(engine, member) == "unsubscribed"
    assert subscribers.person(engine, row.id or 0).trail[0].action == "subscriber.clear-bounce"
    # Cleared: the old soft bounces count no more; one new one is below the limit again.
    again = Target(member, row.id, first.edition_id or 0, (first.delivery_id or 0) + 2000)
    outcome = bounces.apply_finding(
        engine, mail_settings, again, finding, key="webhook:2", source="ses", now=now()
    )
    assert outcome.action == "counted"


@pytest.mark.slow
def test_bounces_process_reads_an_mbox_once(
    engine: Engine, database_url: str, tmp_path: Path, sent: dict[str, bytes]
) -> None:
    box = tmp_path / "bounces.mbox"
    mails = [
        bouncing.dsn(sent["member1@example.com"], "member1@example.com"),
        bouncing.arf(sent["member2@example.com"]),
        bouncing.dsn(sent["member4@example.com"], "member3@example.com"),  # forged
    ]
    box.write_bytes(
        b"".join(b"From MAILER-DAEMON Sat Dec  5 10:00:00 2026\n" + m + b"\n" for m in mails)
    )
    first = cli(tmp_path, database_url, "bounces", "process", str(box))
    assert first.returncode == 0, first.stderr
    assert "3 message(s) read: 1 suppressed, 1 unsubscribed" in first.stdout
    assert "1 refused (no message we sent)" in first.stdout
    again = cli(tmp_path, database_url, "bounces", "process", str(box))
    assert "0 suppressed, 0 unsubscribed, 0 soft bounce(s) counted, 2 already done" in again.stdout
    assert [status_of(engine, f"member{n}@example.com") for n in (1, 2, 3)] == [
        "bounced",
        "unsubscribed",
        "confirmed",
    ]
