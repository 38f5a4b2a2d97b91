"""Sends under control (issue 13) against a real SMTP server (aiosmtpd), on SQLite and
PostgreSQL: review before sending, approve with edits, the review deadline (also passing
while no daemon runs), pause and resume, cancel, test sends, and each bad input."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from publisher import store
from publisher.articles import publish
from publisher.community import subscriptions
from publisher.delivery import sending
from publisher.delivery.sending import Sender
from publisher.editions import making, sends
from publisher.errors import ConflictError, InputError, NotFoundError
from publisher.models import Edition
from publisher.schedules import Timetable, load_timetable
from publisher.settings import Settings
from publisher.templating import make_environment
from publisher.web import create_app
from tests.mailing import lease_holders, ran_before
from tests.processes import cli_env
from tests.smtp import SmtpServer
from tests.support import make_settings

EDITOR = "editor@news.example.com"
TOKEN = "editor-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def now() -> datetime:
    return datetime.now(UTC)


def timetable_text(**review: str) -> str:
    keys = "".join(f"    {key}: {value}\n" for key, value in review.items())
    return f'timezone: Asia/Singapore\ndigests:\n  daily:\n    cron: "0 7 * * *"\n{keys}'


def settings_for(tmp_path: Path, database_url: str, smtp: SmtpServer, **review: str) -> Settings:
    (tmp_path / "schedules.yaml").write_text(timetable_text(**review))
    return make_settings(
        tmp_path,
        PUBLISHER_DATABASE_URL=database_url,
        PUBLISHER_SMTP_URL=smtp.url,
        # Shortened so that a worker's given-back or dead rows come back within the test;
        # the lease's default is tested in test_delivery/test_heartbeat.
        PUBLISHER_SEND_RETRY_BASE="0.2",
        PUBLISHER_SEND_LEASE="2",
        PUBLISHER_MAIL_FROM="Newsflash Asia <newsletter@news.example.com>",
        PUBLISHER_API_TOKEN=TOKEN,
    )


@pytest.fixture
def reviewed(tmp_path: Path, database_url: str, smtp: SmtpServer) -> Settings:
    return settings_for(tmp_path, database_url, smtp, review="true")


@pytest.fixture
def plain(tmp_path: Path, database_url: str, smtp: SmtpServer) -> Settings:
    return settings_for(tmp_path, database_url, smtp)


def timetable_of(settings: Settings) -> Timetable:
    return load_timetable(settings.schedules)


def audience(engine: Engine, settings: Settings, tmp_path: Path, confirmed: int) -> list[str]:
    """Three stories for this period, and ``confirmed`` members of the daily digest."""
    digest = timetable_of(settings).digest("daily")
    nominal = digest.last_time(now())
    assert nominal is not None
    path = tmp_path / "stories.jsonl"
    path.write_text(
        "\n".join(
            json.dumps(
                {
                    "title": f"Story {n}",
                    "summary": f"Summary of story {n}.",
                    "published_at": (nominal - timedelta(hours=n + 1)).isoformat(),
                }
            )
            for n in range(3)
        )
    )
    publish.import_articles(engine, settings, [path], now=now(), actor="test")
    addresses = [f"member{n}@example.com" for n in range(confirmed)]
    for address in addresses:
        subscriptions.add_subscriber(
            engine,
            address,
            confirmed=True,
            digests=["daily"],
            known_digests=["daily"],
            now=now(),
        )
    return addresses


def make_edition(engine: Engine, settings: Settings, *, at: datetime | None = None) -> int:
    timetable = timetable_of(settings)
    plan = sending.prepare_send(
        engine, settings, timetable, make_environment(), timetable.digest("daily"), now=at or now()
    )
    return plan.edition.id or 0


def edition(engine: Engine, edition_id: int) -> Edition:
    with store.reading(engine) as session:
        return store.edition_by_id(session, edition_id)


def tally(engine: Engine, edition_id: int) -> dict[str, int]:
    return sending.counts(engine, [edition_id])[edition_id]


def from_(moment: datetime) -> Callable[[], datetime]:
    """A clock that reads ``moment`` (or the real time, when later) and runs on from there:
    for a test that acts at a send time which may still be hours ahead of the real clock."""
    started = now()
    return lambda: max(now(), moment + (now() - started))


def run_until_done(
    engine: Engine,
    settings: Settings,
    edition_id: int,
    limit: float = 60,
    clock: Callable[[], datetime] = now,
) -> None:
    deadline = time.monotonic() + limit
    while True:
        Sender(engine, settings, clock=clock).run(threading.Event(), once=True)
        if not any(tally(engine, edition_id).get(s) for s in ("pending", "sending", "retry")):
            return
        assert time.monotonic() < deadline, tally(engine, edition_id)
        time.sleep(0.2)


def trail(engine: Engine, edition_id: int | None) -> list[tuple[str, str]]:
    audit = store.audit_t
    with store.reading(engine) as session:
        rows = session.execute(
            select(audit.c.action, audit.c.actor)
            .where(audit.c.subject_kind == "edition")
            .where(audit.c.subject_id == edition_id if edition_id else audit.c.subject_id.is_(None))
            .order_by(audit.c.id)
        ).all()
    return [(r.action, r.actor) for r in rows]


def story_ids(engine: Engine, edition_id: int) -> list[int]:
    return [v.article.id or 0 for v in making.edition_stories(engine, edition_id)]


def approve(engine: Engine, settings: Settings, edition_id: int, **changes: object) -> Edition:
    return sends.approve(
        engine,
        settings,
        timetable_of(settings),
        make_environment(),
        edition_id,
        actor=EDITOR,
        now=now(),
        **changes,  # type: ignore[arg-type]
    )


# ---------------------------------------------------------------- review


def test_a_reviewed_digest_is_held_edited_approved_and_everyone_gets_the_approved_version(
    engine: Engine, reviewed: Settings, tmp_path: Path, smtp: SmtpServer
) -> None:
    members = audience(engine, reviewed, tmp_path, 12)
    edition_id = make_edition(engine, reviewed)
    held = edition(engine, edition_id)
    assert held.status == "awaiting_review"
    assert held.review_deadline_at == held.nominal_at + timedelta(hours=2)  # the default
    assert tally(engine, edition_id) == {}
    Sender(engine, reviewed, clock=now).run(threading.Event(), once=True)
    assert smtp.recorder.received == []  # held: nothing goes out
    assert [e.id for e in sends.pending_review(engine, now())] == [edition_id]

    stories = story_ids(engine, edition_id)
    titles = [v.article.title for v in making.edition_stories(engine, edition_id)]
    assert titles == ["Story 0", "Story 1", "Story 2"]
    # Story 1 taken out, the other two swapped, another subject and intro line.
    kept = [stories[2], stories[0]]
    approved = approve(
        engine,
        reviewed,
        edition_id,
        subject="Our pick of the day",
        intro="Two stories worth your morning.",
        article_ids=kept,
    )
    assert approved.status == "sending" and approved.approved_by == EDITOR
    assert approved.approved_at is not None and approved.article_count == 2
    assert story_ids(engine, edition_id) == kept
    run_until_done(engine, reviewed, edition_id)

    assert smtp.recorder.counts() == {address: 1 for address in members}
    for received in smtp.recorder.received:
        message = received.parsed()
        assert message["Subject"] == "Our pick of the day"
        text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
        assert "Story 1" not in text and "Story 1" not in html
        assert text.index("Story 2") < text.index("Story 0")
        assert "Two stories worth your morning." in text
    assert tally(engine, edition_id) == {"sent": 12}
    assert edition(engine, edition_id).status == "sent"
    assert trail(engine, edition_id) == [("edition.approve", EDITOR)]

    # The story taken out was never sent; it is not in this edition any more.
    with pytest.raises(ConflictError, match="already sent"):
        approve(engine, reviewed, edition_id)


def test_approving_an_edition_as_it_is_records_no_change_that_did_not_happen(
    engine: Engine, reviewed: Settings, tmp_path: Path
) -> None:
    # Issue 25: approving logged "subject: X -> X"; only what changed is in the trail.
    audience(engine, reviewed, tmp_path, 2)
    edition_id = make_edition(engine, reviewed)
    subject = edition(engine, edition_id).subject
    approve(engine, reviewed, edition_id, subject=f"  {subject}  ")  # the same, as typed
    with store.reading(engine) as session:
        [entry] = store.audit_entries(session, kind="edition", subject_id=edition_id)
    assert entry.action == "edition.approve"
    assert entry.before == "" and json.loads(entry.after) == {"deliveries": 2}


def test_a_reader_of_one_category_gets_the_approved_version_too(
    engine: Engine, reviewed: Settings, tmp_path: Path, smtp: SmtpServer
) -> None:
    nominal = timetable_of(reviewed).digest("daily").last_time(now())
    assert nominal is not None
    path = tmp_path / "topics.jsonl"
    path.write_text(
        "\n".join(
            json.dumps(
                {
                    "title": f"{topic} story",
                    "categories": [topic],
                    "published_at": (nominal - timedelta(hours=n + 1)).isoformat(),
                }
            )
            for n, topic in enumerate(["Economy", "Culture", "Sport"])
        )
    )
    publish.import_articles(engine, reviewed, [path], now=now(), actor="test")
    subscriptions.add_subscriber(
        engine,
        "economy@example.com",
        confirmed=True,
        digests=["daily"],
        known_digests=["daily"],
        categories=["economy", "sport"],
        now=now(),
    )
    edition_id = make_edition(engine, reviewed)
    views = making.edition_stories(engine, edition_id)
    sport = next(v.article.id for v in views if v.article.title == "Sport story")
    culture = next(v.article.id for v in views if v.article.title == "Culture story")
    approve(
        engine,
        reviewed,
        edition_id,
        subject="Edited",
        intro="Edited intro.",
        article_ids=[
            culture,
            sport,
        ],
    )
    run_until_done(engine, reviewed, edition_id)
    (received,) = smtp.recorder.received
    message = received.parsed()
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert message["Subject"] == "Edited"
    assert "Sport story" in text and "Economy story" not in text and "Culture story" not in text
    assert "Edited intro." in text
    # The review preview shows the same, whole and per category.
    timetable = timetable_of(reviewed)
    whole = sends.review_preview(engine, reviewed, timetable, make_environment(), edition_id)
    assert "Culture story" in whole and "Economy story" not in whole
    sport_only = sends.review_preview(
        engine, reviewed, timetable, make_environment(), edition_id, variant=["sport"]
    )
    assert "Sport story" in sport_only and "Culture story" not in sport_only
    with pytest.raises(InputError, match="unknown category"):
        sends.review_preview(
            engine, reviewed, timetable, make_environment(), edition_id, variant=["nope"]
        )


def test_approving_bad_changes_is_refused_and_changes_nothing(
    engine: Engine, reviewed: Settings, tmp_path: Path, smtp: SmtpServer
) -> None:
    audience(engine, reviewed, tmp_path, 2)
    edition_id = make_edition(engine, reviewed)
    stories = story_ids(engine, edition_id)
    before = edition(engine, edition_id)
    with pytest.raises(InputError, match="at least one story"):
        approve(engine, reviewed, edition_id, article_ids=[])
    with pytest.raises(InputError, match="not in this edition"):
        approve(engine, reviewed, edition_id, article_ids=[stories[0], 999_999])
    with pytest.raises(InputError, match="twice"):
        approve(engine, reviewed, edition_id, article_ids=[stories[0], stories[0]])
    with pytest.raises(InputError, match="subject cannot be empty"):
        approve(engine, reviewed, edition_id, subject="  ")
    with pytest.raises(ConflictError, match="only an edition that is sending"):
        sends.pause(engine, edition_id, actor=EDITOR, now=now())
    with pytest.raises(ConflictError, match="not paused"):
        sends.resume(engine, edition_id, actor=EDITOR, now=now())
    after = edition(engine, edition_id)
    assert (after.status, after.subject, after.html) == (before.status, before.subject, before.html)
    assert story_ids(engine, edition_id) == stories
    assert tally(engine, edition_id) == {} and trail(engine, edition_id) == []
    # Approved once, a second approval (another editor at the same time) is refused.
    approve(engine, reviewed, edition_id)
    with pytest.raises(ConflictError, match="already sending"):
        approve(engine, reviewed, edition_id, subject="Too late")
    assert edition(engine, edition_id).subject == before.subject


def test_without_review_editions_go_out_as_before(
    engine: Engine, plain: Settings, tmp_path: Path, smtp: SmtpServer
) -> None:
    members = audience(engine, plain, tmp_path, 3)
    edition_id = make_edition(engine, plain)
    assert edition(engine, edition_id).status == "sending"
    run_until_done(engine, plain, edition_id)
    assert smtp.recorder.counts() == {address: 1 for address in members}


@pytest.mark.parametrize("outcome", ["skip", "send"])
def test_a_review_deadline_that_passed_while_no_daemon_ran_is_decided_at_catch_up(
    engine: Engine,
    tmp_path: Path,
    database_url: str,
    smtp: SmtpServer,
    outcome: str,
) -> None:
    settings = settings_for(
        tmp_path, database_url, smtp, review="true", review_deadline="1h", unreviewed=outcome
    )
    members = audience(engine, settings, tmp_path, 4)
    timetable = timetable_of(settings)
    digest = timetable.digest("daily")
    nominal = digest.last_time(now())
    assert nominal is not None
    edition_id = make_edition(engine, settings, at=nominal + timedelta(minutes=1))
    assert edition(engine, edition_id).review_deadline_at == nominal + timedelta(hours=1)
    # Before the deadline a start changes nothing.
    said = sending.catch_up(
        engine, settings, timetable, make_environment(), digest, now=nominal + timedelta(minutes=59)
    )
    assert "awaiting_review" in said and edition(engine, edition_id).status == "awaiting_review"
    # The daemon was down over the deadline; it starts again 3 hours after the send time.
    said = sending.catch_up(
        engine, settings, timetable, make_environment(), digest, now=nominal + timedelta(hours=3)
    )
    assert "review deadline" in said
    assert trail(engine, edition_id) == [("edition.review-expired", sends.SYSTEM_ACTOR)]
    held = edition(engine, edition_id)
    if outcome == "skip":
        assert held.status == "skipped" and tally(engine, edition_id) == {}
        Sender(engine, settings, clock=now).run(threading.Event(), once=True)
        assert smtp.recorder.received == []
        # Its stories were never sent: the next edition may carry them.
        assert story_ids(engine, edition_id) == []
        next_one = making.preview(
            engine, settings, timetable, make_environment(), digest, now=now()
        )
        assert next_one.stories == 3
    else:
        assert held.status == "sending"
        run_until_done(engine, settings, edition_id, clock=from_(nominal + timedelta(hours=3)))
        assert smtp.recorder.counts() == {address: 1 for address in members}
    # Decided once: a second start (or another daemon) does nothing more.
    sending.catch_up(
        engine, settings, timetable, make_environment(), digest, now=nominal + timedelta(hours=4)
    )
    assert len(trail(engine, edition_id)) == 1


def test_the_review_deadline_on_the_daemons_clock_at_its_default(
    engine: Engine, reviewed: Settings, tmp_path: Path, smtp: SmtpServer
) -> None:
    """``review_deadline`` defaults to 2h: nothing happens at 1h59, the edition is skipped
    (``unreviewed`` defaults to skip) once 2h have passed."""
    audience(engine, reviewed, tmp_path, 2)
    timetable = timetable_of(reviewed)
    nominal = timetable.digest("daily").last_time(now())
    assert nominal is not None
    edition_id = make_edition(engine, reviewed, at=nominal)
    assert sends.expire_reviews(engine, timetable, now=nominal + timedelta(minutes=119)) == []
    done = sends.expire_reviews(engine, timetable, now=nominal + timedelta(hours=2))
    assert len(done) == 1 and "skipped" in done[0]
    assert edition(engine, edition_id).status == "skipped"
    # An approval after the deadline decided is refused: nothing is sent.
    with pytest.raises(ConflictError, match="skipped"):
        approve(engine, reviewed, edition_id)


# ---------------------------------------------------------------- pause, resume, cancel


class Running:
    """A Sender working in a thread, as a daemon's workers do."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.stop = threading.Event()
        self.sender = Sender(engine, settings, clock=now)
        self.errors: list[BaseException] = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.sender.run(self.stop)
        except BaseException as exc:
            self.errors.append(exc)

    def __enter__(self) -> Running:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=30)
        assert not self.errors, self.errors


def wait_until(condition: object, limit: float = 30) -> None:
    deadline = time.monotonic() + limit
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def sent_addresses(engine: Engine, edition_id: int) -> list[str]:
    d = store.deliveries_t
    with store.reading(engine) as session:
        return sorted(
            session.scalars(
                select(d.c.email).where(d.c.edition_id == edition_id, d.c.status == "sent")
            ).all()
        )


@pytest.fixture
def slow_smtp(smtp: SmtpServer) -> Iterator[SmtpServer]:
    # 50 ms a message: 4 connections send about 80 a second, so an edition of 200 is still
    # sending when it is paused after 20, and a worker sees a pause within HELD_CHECK (1 s).
    smtp.recorder.delay = 0.05
    yield smtp


@pytest.mark.slow
def test_pause_mid_send_then_resume_everyone_once_nobody_twice(
    engine: Engine, plain: Settings, tmp_path: Path, slow_smtp: SmtpServer
) -> None:
    members = audience(engine, plain, tmp_path, 200)
    edition_id = make_edition(engine, plain)
    recorder = slow_smtp.recorder
    with Running(engine, plain):
        recorder.wait_for(20)
        paused = sends.pause(engine, edition_id, actor=EDITOR, now=now())
        assert paused.status == "paused" and paused.paused_by == EDITOR
        # The workers end the message in hand and give the rest back (within seconds).
        wait_until(lambda: tally(engine, edition_id).get("sending", 0) == 0)
        at_pause = len(recorder.received)
        assert at_pause < 200
        with pytest.raises(ConflictError, match="already paused"):
            sends.pause(engine, edition_id, actor=EDITOR, now=now())
        # Still running, the workers claim nothing of it: the mail server got exactly what
        # is recorded as sent, and it stays so while paused (a full claim cycle later).
        assert sorted(r.recipient for r in recorder.received) == sent_addresses(engine, edition_id)
        idle = Sender(engine, plain, clock=now)
        idle.run(threading.Event(), once=True)
        assert idle.tally.sent == 0 and len(recorder.received) == at_pause
        resumed = sends.resume(engine, edition_id, actor=EDITOR, now=now())
        assert resumed.status == "sending" and resumed.resumed_by == EDITOR
        wait_until(lambda: edition(engine, edition_id).status == "sent", limit=60)
    assert recorder.counts() == {address: 1 for address in members}
    assert tally(engine, edition_id) == {"sent": 200}
    assert [a for a, _ in trail(engine, edition_id)] == ["edition.pause", "edition.resume"]


def test_cancel_mid_send_the_rest_is_cancelled_and_never_sent(
    engine: Engine, plain: Settings, tmp_path: Path, slow_smtp: SmtpServer
) -> None:
    members = audience(engine, plain, tmp_path, 200)
    edition_id = make_edition(engine, plain)
    recorder = slow_smtp.recorder
    with Running(engine, plain):
        recorder.wait_for(20)
        cancelled = sends.cancel(engine, edition_id, actor=EDITOR, now=now())
        assert cancelled > 0
        wait_until(lambda: not any(tally(engine, edition_id).get(s) for s in delivery_open()))
        with pytest.raises(ConflictError, match="cannot be resumed"):
            sends.resume(engine, edition_id, actor=EDITOR, now=now())
    run_until_done(engine, plain, edition_id)  # another worker later: still nothing more
    counts = tally(engine, edition_id)
    assert counts["sent"] + counts["cancelled"] == 200 and set(counts) == {"sent", "cancelled"}
    # Every row owed was counted; a few in the workers' hands as it happened went anyway.
    assert 0 < counts["cancelled"] <= cancelled
    got = sorted(r.recipient for r in recorder.received)
    assert got == sent_addresses(engine, edition_id)  # exactly the ones recorded as sent
    assert len(set(got)) == len(got) and set(got) < set(members)  # nobody cancelled got it
    done = edition(engine, edition_id)
    assert done.status == "cancelled" and done.cancelled_by == EDITOR
    # "View in your browser" still works for those who got it.
    assert "Story 0" in archived(engine, plain, edition_id)
    with pytest.raises(ConflictError):
        sends.cancel(engine, edition_id, actor=EDITOR, now=now())


def archived(engine: Engine, settings: Settings, edition_id: int) -> str:
    """The edition's page in the web archive."""
    timetable = load_timetable(settings.schedules)
    env = make_environment()
    return making.archived(engine, settings, edition_id, timetable=timetable, env=env, now=now())[1]


def delivery_open() -> tuple[str, ...]:
    return store.OPEN_DELIVERY


def test_an_edition_awaiting_review_can_be_cancelled_and_is_never_sent(
    engine: Engine, reviewed: Settings, tmp_path: Path, smtp: SmtpServer
) -> None:
    audience(engine, reviewed, tmp_path, 3)
    edition_id = make_edition(engine, reviewed)
    assert sends.cancel(engine, edition_id, actor=EDITOR, now=now()) == 0
    with pytest.raises(ConflictError, match="cancelled"):
        approve(engine, reviewed, edition_id)
    # `digest send` in the same period sends nothing for it either.
    assert make_edition(engine, reviewed) == edition_id
    run_until_done(engine, reviewed, edition_id)
    assert smtp.recorder.received == [] and tally(engine, edition_id) == {}
    with pytest.raises(NotFoundError):  # never sent: not in the web archive
        archived(engine, reviewed, edition_id)


# ---------------------------------------------------------------- test sends


def test_a_test_send_reaches_only_the_test_addresses_and_changes_no_figure(
    engine: Engine, reviewed: Settings, tmp_path: Path, smtp: SmtpServer
) -> None:
    audience(engine, reviewed, tmp_path, 5)
    edition_id = make_edition(engine, reviewed)
    timetable = timetable_of(reviewed)
    count = sends.test_send(
        engine,
        reviewed,
        timetable,
        make_environment(),
        str(edition_id),
        ["Editor@News.example.com", "chief@news.example.com"],
        actor=EDITOR,
        now=now(),
    )
    assert count == 2
    assert smtp.recorder.counts() == {"editor@news.example.com": 1, "chief@news.example.com": 1}
    message = smtp.recorder.received[0].parsed()
    assert message["Subject"] == "[Test] " + edition(engine, edition_id).subject
    assert tally(engine, edition_id) == {}  # no sending, no figure
    assert edition(engine, edition_id).status == "awaiting_review"
    assert trail(engine, edition_id) == [("edition.test", EDITOR)]

    # Its links work and change nobody.
    unsubscribe = message["List-Unsubscribe"].strip("<>").removeprefix("https://news.example.com")
    app = create_app(reviewed, engine, clock=now, feed_upkeep_every=None)
    client = TestClient(app)
    page = client.get(unsubscribe)
    assert page.status_code == 200 and "test message" in page.text
    posted = client.post(unsubscribe, data={"List-Unsubscribe": "One-Click"})
    assert posted.status_code == 200 and "nobody" in posted.text
    preferences = unsubscribe.replace("/unsubscribe/", "/preferences/")
    assert "test message" in client.get(preferences).text
    statuses = {v.subscriber.status for v in subscriptions.list_subscribers(engine)}
    assert statuses == {"confirmed"}

    # By the digest's name: the edition awaiting review.
    sends.test_send(
        engine,
        reviewed,
        timetable,
        make_environment(),
        "daily",
        ["a@news.example.com"],
        actor=EDITOR,
        now=now(),
    )
    assert smtp.recorder.counts()["a@news.example.com"] == 1
    assert tally(engine, edition_id) == {}


def test_a_test_of_the_next_edition_when_there_is_none(
    engine: Engine, plain: Settings, tmp_path: Path, smtp: SmtpServer
) -> None:
    audience(engine, plain, tmp_path, 2)
    timetable = timetable_of(plain)
    sends.test_send(
        engine,
        plain,
        timetable,
        make_environment(),
        "daily",
        ["chief@news.example.com"],
        actor=EDITOR,
        now=now(),
    )
    (received,) = smtp.recorder.received
    message = received.parsed()
    assert message["Subject"].startswith("[Test] ")
    assert "Story 0" in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert making.list_editions(engine) == []  # nothing made, nothing counted
    assert trail(engine, None) == [("edition.test", EDITOR)]


def test_bad_test_addresses_are_refused_and_nothing_is_sent(
    engine: Engine, reviewed: Settings, tmp_path: Path, smtp: SmtpServer
) -> None:
    audience(engine, reviewed, tmp_path, 1)
    edition_id = make_edition(engine, reviewed)
    timetable = timetable_of(reviewed)

    def test(to: list[str]) -> int:
        return sends.test_send(
            engine,
            reviewed,
            timetable,
            make_environment(),
            str(edition_id),
            to,
            actor=EDITOR,
            now=now(),
        )

    with pytest.raises(InputError, match="not an email address"):
        test(["chief@news.example.com", "not-an-address"])
    with pytest.raises(InputError, match="at most 20"):
        test([f"t{n}@news.example.com" for n in range(21)])
    with pytest.raises(InputError, match="at least one address"):
        test([])
    with pytest.raises(InputError, match="no digest 'weekly'"):
        sends.test_send(
            engine,
            reviewed,
            timetable,
            make_environment(),
            "weekly",
            ["a@news.example.com"],
            actor=EDITOR,
            now=now(),
        )
    assert smtp.recorder.received == [] and trail(engine, edition_id) == []
    assert test([f"t{n}@news.example.com" for n in range(20)]) == 20


def test_test_sends_are_limited_per_person_and_an_hour(
    engine: Engine, reviewed: Settings, tmp_path: Path, smtp: SmtpServer
) -> None:
    """Issue 24: an editor could send tests to 20 addresses a request without end. At most
    TEST_ADDRESSES_PER_HOUR (50) an hour per person, counted in the database; the API says
    429 with why and when."""
    audience(engine, reviewed, tmp_path, 1)
    edition_id = make_edition(engine, reviewed)
    timetable = timetable_of(reviewed)
    start = now()

    def test(n: int, *, actor: str = EDITOR, at: datetime = start, first: int = 0) -> int:
        to = [f"t{first + k}@news.example.com" for k in range(n)]
        return sends.test_send(
            engine,
            reviewed,
            timetable,
            make_environment(),
            str(edition_id),
            to,
            actor=actor,
            now=at,
        )

    assert test(20) + test(20, first=20) == 40
    with pytest.raises(
        sends.OverTestLimit,
        match=r"50 addresses an hour .* 40 in the last hour, so 10 more now, not 20",
    ) as over:
        test(20, first=40)
    assert over.value.http_status == 429
    assert f"can go at {(start + timedelta(hours=1)).astimezone(UTC):%H:%M} UTC" in str(over.value)
    assert len(smtp.recorder.received) == 40  # the refused test sent nothing
    assert test(10, first=40) == 10  # up to the limit
    assert test(20, actor="chief@news.example.com") == 20  # another person's own count
    assert test(20, at=start + timedelta(hours=1, seconds=1)) == 20  # an hour on
    client = TestClient(create_app(reviewed, engine, clock=now, feed_upkeep_every=None))
    to = {"to": ["late@news.example.com"]}
    for _ in range(50):  # the token is a person of its own
        sent = client.post(f"/api/editions/{edition_id}/test", headers=AUTH, json=to)
        assert sent.status_code == 200
    refused = client.post(f"/api/editions/{edition_id}/test", headers=AUTH, json=to)
    assert refused.status_code == 429 and "50 addresses an hour" in refused.json()["detail"]


def test_a_burst_of_test_sends_cannot_pass_the_limit(
    engine: Engine, reviewed: Settings, tmp_path: Path, smtp: SmtpServer
) -> None:
    """Eight requests of 20 addresses at once: the count and the record are one step, so
    two go (40) and the rest are refused, on SQLite and PostgreSQL alike."""
    audience(engine, reviewed, tmp_path, 1)
    edition_id = make_edition(engine, reviewed)
    timetable = timetable_of(reviewed)
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def burst(n: int) -> None:
        to = [f"b{n}.{k}@news.example.com" for k in range(20)]
        barrier.wait()
        try:
            sends.test_send(
                engine,
                reviewed,
                timetable,
                make_environment(),
                str(edition_id),
                to,
                actor=EDITOR,
                now=now(),
            )
            outcomes.append("sent")
        except sends.OverTestLimit:
            outcomes.append("over")

    threads = [threading.Thread(target=burst, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["over"] * 6 + ["sent"] * 2
    assert len(smtp.recorder.received) == 40


# ---------------------------------------------------------------- the API


def test_the_api_approves_pauses_resumes_cancels_and_tests(
    engine: Engine, reviewed: Settings, tmp_path: Path, slow_smtp: SmtpServer
) -> None:
    audience(engine, reviewed, tmp_path, 40)
    edition_id = make_edition(engine, reviewed)
    client = TestClient(create_app(reviewed, engine, clock=now, feed_upkeep_every=None))
    base = f"/api/editions/{edition_id}"
    assert client.post(f"{base}/approve").status_code == 401  # the bearer token
    refused = client.post(f"{base}/pause", headers=AUTH)
    assert (
        refused.status_code == 409 and "only an edition that is sending" in refused.json()["detail"]
    )
    bad = client.post(f"{base}/approve", headers=AUTH, json={"article_ids": [999]})
    assert bad.status_code == 400 and "not in this edition" in bad.json()["detail"]
    assert client.post("/api/editions/424242/approve", headers=AUTH).status_code == 404
    tested = client.post(f"{base}/test", headers=AUTH, json={"to": ["chief@news.example.com"]})
    assert tested.status_code == 200 and tested.json()["sent"] == 1
    malformed = client.post(f"{base}/test", headers=AUTH, json={"to": ["nope"]})
    assert malformed.status_code == 400 and "not an email address" in malformed.json()["detail"]
    as_thai = {"to": ["chief@news.example.com"], "language": "th"}
    assert client.post(f"{base}/test", headers=AUTH, json=as_thai).json()["sent"] == 1
    thai = slow_smtp.recorder.wait_for(2)[-1].parsed().get_body(("plain",))
    assert thai is not None and "สวัสดี" in thai.get_content()  # as a Thai reader gets it
    klingon = client.post(f"{base}/test", headers=AUTH, json={**as_thai, "language": "tlh"})
    assert klingon.status_code == 400 and "does not speak 'tlh'" in klingon.json()["detail"]
    many = [f"t{n}@news.example.com" for n in range(21)]
    assert client.post(f"{base}/test", headers=AUTH, json={"to": many}).status_code == 422

    stories = story_ids(engine, edition_id)
    approved = client.post(
        f"{base}/approve",
        headers=AUTH,
        json={"subject": "Through the API", "article_ids": stories[:2]},
    )
    assert approved.status_code == 200, approved.text
    body = approved.json()
    assert body["status"] == "sending" and body["approved_by"] == "api-token"
    again = client.post(f"{base}/approve", headers=AUTH)
    assert again.status_code == 409 and "already sending" in again.json()["detail"]
    paused = client.post(f"{base}/pause", headers=AUTH)
    assert paused.json()["status"] == "paused" and paused.json()["paused_by"] == "api-token"
    assert client.post(f"{base}/pause", headers=AUTH).status_code == 409
    assert client.post(f"{base}/resume", headers=AUTH).json()["status"] == "sending"
    cancelled = client.post(f"{base}/cancel", headers=AUTH)
    assert cancelled.status_code == 200 and cancelled.json()["cancelled"] == 40
    assert cancelled.json()["status"] == "cancelled"
    resumed = client.post(f"{base}/resume", headers=AUTH)
    assert resumed.status_code == 409 and "cannot be resumed" in resumed.json()["detail"]
    run_until_done(engine, reviewed, edition_id)
    assert tally(engine, edition_id) == {"cancelled": 40}
    assert [a for a, _ in trail(engine, edition_id)] == [
        "edition.test",
        "edition.test",  # as a Thai reader
        "edition.approve",
        "edition.pause",
        "edition.resume",
        "edition.cancel",
    ]


# ---------------------------------------------------------------- daemons and the command line


def cli(env: dict[str, str], tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "publisher", *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,  # a loaded machine takes long to start Python
    )


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_pause_with_three_daemons_holds_across_a_sigkill_then_resume_sends_each_once(
    engine: Engine, plain: Settings, tmp_path: Path, smtp: SmtpServer, database_url: str
) -> None:
    members = audience(engine, plain, tmp_path, 600)
    smtp.recorder.delay = 0.1  # 12 connections: about 120 a second, 5 s for everyone
    edition_id = make_edition(engine, plain)
    env = cli_env(plain, database_url, smtp, tmp_path)
    daemons = [
        subprocess.Popen(
            [sys.executable, "-m", "publisher", "deliver"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    try:
        deadline = time.monotonic() + 120
        while len(lease_holders(engine)) < 3 or len(smtp.recorder.received) < 30:
            assert time.monotonic() < deadline and all(p.poll() is None for p in daemons)
            time.sleep(0.05)
        smtp.recorder.gate.clear()  # the server holds each connection's next message
        paused = cli(env, tmp_path, "digest", "pause", str(edition_id))
        smtp.recorder.gate.set()
        assert paused.returncode == 0, paused.stderr
        assert f"edition {edition_id} paused by cli:" in paused.stdout
        # Every daemon's workers end the message in hand and give back the rest.
        wait_until(lambda: tally(engine, edition_id).get("sending", 0) == 0, limit=60)
        at_pause = sorted(r.recipient for r in smtp.recorder.received)
        assert 0 < len(at_pause) < 600
        assert at_pause == sent_addresses(engine, edition_id)
        # A daemon killed while paused: the pause holds, nothing more goes out.
        daemons[0].send_signal(signal.SIGKILL)
        daemons[0].wait()
        twice = cli(env, tmp_path, "digest", "pause", str(edition_id))
        assert twice.returncode == 2 and "already paused" in twice.stderr
        listing = cli(env, tmp_path, "digest", "list")
        assert "paused" in listing.stdout and "(paused by cli:" in listing.stdout
        assert sorted(r.recipient for r in smtp.recorder.received) == at_pause
        resumed = cli(env, tmp_path, "digest", "resume", str(edition_id))
        assert resumed.returncode == 0, resumed.stderr
        wait_until(lambda: edition(engine, edition_id).status == "sent", limit=120)
    finally:
        for proc in daemons:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in daemons:
            proc.communicate(timeout=60)
    assert smtp.recorder.counts() == {address: 1 for address in members}  # once, nobody twice
    assert tally(engine, edition_id) == {"sent": 600}


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_cancel_with_three_daemons_the_rest_is_never_sent(
    engine: Engine, plain: Settings, tmp_path: Path, smtp: SmtpServer, database_url: str
) -> None:
    members = audience(engine, plain, tmp_path, 600)
    smtp.recorder.delay = 0.1
    edition_id = make_edition(engine, plain)
    env = cli_env(plain, database_url, smtp, tmp_path)
    daemons = [
        subprocess.Popen(
            [sys.executable, "-m", "publisher", "deliver"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    try:
        deadline = time.monotonic() + 120
        while len(lease_holders(engine)) < 3 or len(smtp.recorder.received) < 30:
            assert time.monotonic() < deadline and all(p.poll() is None for p in daemons)
            time.sleep(0.05)
        daemons[1].send_signal(signal.SIGKILL)  # one dies holding rows of the edition
        daemons[1].wait()
        smtp.recorder.gate.clear()  # the server holds each connection's next message
        cancelled = cli(env, tmp_path, "digest", "cancel", str(edition_id))
        smtp.recorder.gate.set()
        assert cancelled.returncode == 0, cancelled.stderr
        said = int(cancelled.stdout.split(": ")[1].split()[0])
        wait_until(
            lambda: not any(tally(engine, edition_id).get(s) for s in store.OPEN_DELIVERY),
            limit=60,
        )
        again = cli(env, tmp_path, "digest", "resume", str(edition_id))
        assert again.returncode == 2 and "cannot be resumed" in again.stderr
    finally:
        for proc in daemons:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in daemons:
            proc.communicate(timeout=60)
    counts = tally(engine, edition_id)
    assert set(counts) == {"sent", "cancelled"} and sum(counts.values()) == 600
    assert 0 < counts["cancelled"] <= said
    got = smtp.recorder.counts()
    sent = set(sent_addresses(engine, edition_id))
    # Nobody whose delivery was cancelled got it, but for what the killed daemon had just
    # ended: a message can arrive and its record die with the sender, and cancelled before
    # another daemon sent it again, it stays cancelled (at most one a connection).
    assert sent <= set(got) < set(members)
    assert len(set(got) - sent) <= plain.send_concurrency
    # Only the killed daemon's messages in flight can have gone twice.
    assert sum(got.values()) - len(got) <= plain.send_concurrency


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_review_from_the_command_line(
    engine: Engine, reviewed: Settings, tmp_path: Path, smtp: SmtpServer, database_url: str
) -> None:
    members = audience(engine, reviewed, tmp_path, 3)
    env = cli_env(reviewed, database_url, smtp, tmp_path)
    made = cli(env, tmp_path, "digest", "send", "daily")
    assert made.returncode == 0, made.stderr
    assert "waits for review" in made.stdout and smtp.recorder.received == []
    (held,) = making.list_editions(engine)
    edition_id = held.id or 0
    listing = cli(env, tmp_path, "digest", "list")
    assert "awaiting_review" in listing.stdout and "(review by " in listing.stdout
    tested = cli(env, tmp_path, "digest", "test", str(edition_id), "--to", "chief@news.example.com")
    assert tested.returncode == 0 and "test sent to 1" in tested.stdout
    as_thai = ("digest", "test", str(edition_id), "--to", "chief@news.example.com")
    thai = cli(env, tmp_path, *as_thai, "--language", "th")
    assert thai.returncode == 0, thai.stderr
    thai_mail = smtp.recorder.wait_for(2)[-1].parsed().get_body(("plain",))
    assert thai_mail is not None and "สวัสดี" in thai_mail.get_content()  # the Thai greeting
    klingon = cli(env, tmp_path, *as_thai, "--language", "tlh")
    assert klingon.returncode == 2 and "does not speak 'tlh'" in klingon.stderr
    bad = cli(
        env, tmp_path, "digest", "test", "daily", "--to", "chief@", "--to", "x@news.example.com"
    )
    assert (
        bad.returncode == 2 and bad.stderr.startswith("Error: ") and "Traceback" not in bad.stderr
    )
    dropped = story_ids(engine, edition_id)[1]
    approved = cli(
        env,
        tmp_path,
        "digest",
        "approve",
        str(edition_id),
        "--drop",
        str(dropped),
        "--subject",
        "Approved from the shell",
    )
    assert approved.returncode == 0, approved.stderr
    assert "approved by cli:" in approved.stdout and "2 stories" in approved.stdout
    again = cli(env, tmp_path, "digest", "approve", str(edition_id))
    assert again.returncode == 2 and "already sending" in again.stderr
    missing = cli(env, tmp_path, "digest", "pause", "4242")
    assert missing.returncode == 1 and "no edition 4242" in missing.stderr
    sent = cli(env, tmp_path, "deliver", "--once")
    assert sent.returncode == 0, sent.stderr
    assert {r.recipient for r in smtp.recorder.received} == {*members, "chief@news.example.com"}
    assert all(
        r.parsed()["Subject"] == "Approved from the shell"
        for r in smtp.recorder.received
        if r.recipient in members
    )


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_running_daemon_decides_a_review_deadline_on_its_clock(
    engine: Engine, reviewed: Settings, tmp_path: Path, smtp: SmtpServer, database_url: str
) -> None:
    """At the default check interval (sends are decided within REVIEW_CHECK_SECONDS, 15 s,
    of the deadline) by a daemon that was running when the deadline passed."""
    audience(engine, reviewed, tmp_path, 2)
    edition_id = make_edition(engine, reviewed)
    deadline = now() + timedelta(seconds=5)  # passes after the daemon has started
    with store.writing(engine) as session:
        store.update_edition(session, edition_id, review_deadline_at=deadline)
    env = cli_env(reviewed, database_url, smtp, tmp_path)
    daemon = subprocess.Popen(
        [sys.executable, "-m", "publisher", "run", "--no-web"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: edition(engine, edition_id).status == "skipped", limit=180)
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.communicate(timeout=60)
    assert trail(engine, edition_id) == [("edition.review-expired", sends.SYSTEM_ACTOR)]
    audit = store.audit_t
    with store.reading(engine) as session:
        decided = session.scalar(
            select(audit.c.at).where(
                audit.c.subject_kind == "edition", audit.c.subject_id == edition_id
            )
        )
    assert decided is not None and decided >= deadline
    assert smtp.recorder.received == []


def test_an_edition_made_at_catch_up_after_its_review_deadline_is_decided_at_once(
    engine: Engine, tmp_path: Path, database_url: str, smtp: SmtpServer
) -> None:
    settings = settings_for(
        tmp_path, database_url, smtp, review="true", review_deadline="1h", unreviewed="send"
    )
    members = audience(engine, settings, tmp_path, 2)
    timetable = timetable_of(settings)
    digest = timetable.digest("daily")
    nominal = digest.last_time(now())
    assert nominal is not None
    ran_before(engine, "daily", nominal)
    # The daemon was down at the send time and is back 2 h later (within catch_up, 6 h).
    said = sending.catch_up(
        engine, settings, timetable, make_environment(), digest, now=nominal + timedelta(hours=2)
    )
    assert "review deadline" in said and "sent unreviewed" in said
    (made, _earlier) = making.list_editions(engine)
    assert made.status == "sending"
    run_until_done(engine, settings, made.id or 0, clock=from_(nominal + timedelta(hours=2)))
    assert smtp.recorder.counts() == {address: 1 for address in members}
