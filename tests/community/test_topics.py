"""Readers choose categories: on the preferences page, in the CSV and on the command line; each
gets only the stories in their categories, rendered once per edition and set of stories, and
nothing when none of an edition's stories is theirs. On SQLite and PostgreSQL, with aiosmtpd."""

from __future__ import annotations

import io
import json
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from publisher import store
from publisher.articles import publish
from publisher.community import csv_files, subscribers, subscriptions
from publisher.delivery import sending
from publisher.editions import compose, making
from publisher.errors import InputError
from publisher.schedules import load_timetable
from publisher.settings import Settings
from publisher.templating import make_environment
from publisher.tokens import Signer
from publisher.web import create_app
from tests.links import token
from tests.mailing import TIMETABLE, mail_site, member, now
from tests.smtp import SmtpServer
from tests.support import SECRET

SIGNER = Signer(SECRET)
# Story title -> its categories. "Markets" has a story, but not in this period's edition.
STORIES = {
    "Rice prices fall": ["Economy"],
    "Port strike ends": ["Economy", "Transport"],
    "New metro line opens": ["Transport"],
    "Monsoon arrives early": ["Weather"],
}


@pytest.fixture
def mail_settings(tmp_path: Path, database_url: str, smtp: SmtpServer) -> Settings:
    return mail_site(tmp_path, database_url, smtp)


def load_stories(engine: Engine, settings: Settings, tmp_path: Path) -> None:
    """This period's stories, and one in "Markets" from long before the last edition."""
    nominal = load_timetable(settings.schedules).digest("daily").last_time(now())
    assert nominal is not None
    records = [
        {
            "title": title,
            "summary": f"About {title.lower()}.",
            "categories": categories,
            "published_at": (nominal - timedelta(hours=n + 1)).isoformat(),
        }
        for n, (title, categories) in enumerate(STORIES.items())
    ]
    records.append(
        {
            "title": "Stocks close higher",
            "categories": ["Markets"],
            "published_at": (nominal - timedelta(days=400)).isoformat(),
        }
    )
    path = tmp_path / "stories.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records))
    publish.import_articles(engine, settings, [path], now=now(), actor="test")
    # The Markets story went out in an earlier edition: this one cannot carry it again.
    with store.writing(engine) as session:
        old = nominal - timedelta(days=399)
        edition, _ = store.create_edition(session, "daily", "old", nominal_at=old, now=old)
        markets = store.article_by_slug(session, "stocks-close-higher").article.id or 0
        store.carry_articles(session, edition, [markets])
        store.set_edition_status(session, edition.id or 0, "sent")


def titles(received_text: str) -> set[str]:
    return {title for title in STORIES if title in received_text}


def test_each_reader_gets_the_stories_in_their_categories(
    engine: Engine, mail_settings: Settings, tmp_path: Path, smtp: SmtpServer
) -> None:
    load_stories(engine, mail_settings, tmp_path)
    member(engine, "everything@example.com", None)
    economy = [f"economy{n}@example.com" for n in range(6)]
    for address in economy:
        member(engine, address, ["economy"])
    member(engine, "weather@example.com", ["weather"])
    member(engine, "all-four@example.com", ["economy", "transport", "weather"])
    member(engine, "markets@example.com", ["markets"])

    timetable = load_timetable(mail_settings.schedules)
    before = compose.INLINER.calls
    plan = sending.prepare_send(
        engine, mail_settings, timetable, make_environment(), timetable.digest("daily"), now=now()
    )
    assert plan.edition.article_count == 4 and plan.new_deliveries == 10
    tally = sending.Sender(engine, mail_settings, clock=now).run(threading.Event(), once=True)

    # premailer ran for the edition, the economy variant and the weather variant: not per reader
    assert compose.INLINER.calls - before == 3
    assert (tally.sent, tally.cancelled) == (9, 1)
    counts = sending.counts(engine, [plan.edition.id or 0])[plan.edition.id or 0]
    assert counts == {"sent": 9, "cancelled": 1}
    got: dict[str, set[str]] = {}
    subjects = set()
    for received in smtp.recorder.received:
        message = received.parsed()
        subjects.add(message["Subject"])
        text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
        assert titles(text) == titles(html)
        got[received.recipient] = titles(text)
        if received.recipient in economy:
            assert "the 2 stories" in text
    assert smtp.recorder.counts() == {address: 1 for address in got}
    assert got["everything@example.com"] == set(STORIES)
    assert got["all-four@example.com"] == set(STORIES)
    assert all(got[a] == {"Rice prices fall", "Port strike ends"} for a in economy)
    assert got["weather@example.com"] == {"Monsoon arrives early"}
    assert "markets@example.com" not in got  # nothing of theirs: not mailed at all
    assert len(subjects) == 1  # the same edition, fewer stories


@pytest.fixture
def client(engine: Engine, settings: Settings) -> TestClient:
    return TestClient(create_app(settings, engine, clock=now, feed_upkeep_every=None))


def test_preferences_choose_categories(
    client: TestClient, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    load_stories(engine, settings, tmp_path)
    reader = member(engine, "aisyah@example.com", None)
    url = f"/preferences/{token(engine, 'preferences', reader)}"
    page = client.get(url)
    assert page.status_code == 200
    for slug in ("economy", "markets", "transport", "weather"):
        assert f'name="category" value="{slug}" >' in page.text  # offered, none ticked
    saved = client.post(url, data={"digest": "daily", "category": ["weather", "economy"]})
    assert saved.status_code == 200 and "Saved." in saved.text
    assert 'value="economy" checked' in saved.text and 'value="weather" checked' in saved.text
    assert 'value="transport" >' in saved.text
    assert subscriptions.member(engine, SIGNER, "preferences", url.rsplit("/", 1)[1], now=now())
    with store.reading(engine) as session:
        assert store.interests_of(session, [reader])[reader] == ["economy", "weather"]

    # A category that is not offered: a clear page, and nothing at all changes.
    forged = client.post(url, data={"category": ["economy", "<script>"]})
    assert forged.status_code == 400
    assert (
        "unknown category &#39;&lt;script&gt;&#39;" in forged.text
        and "Nothing was changed" in forged.text
    )
    with store.reading(engine) as session:
        assert store.interests_of(session, [reader])[reader] == ["economy", "weather"]
        assert store.subscriptions_of(session, [reader])[reader] == ["daily"]
        assert store.subscriber_by_id(session, reader).status == "confirmed"

    # Untick them all: every story again.
    client.post(url, data={"digest": "daily"})
    with store.reading(engine) as session:
        assert store.interests_of(session, [reader])[reader] == []


def test_csv_carries_categories(engine: Engine, settings: Settings, tmp_path: Path) -> None:
    load_stories(engine, settings, tmp_path)
    member(engine, "kept@example.com", ["weather"])
    listing = tmp_path / "list.csv"
    listing.write_text(
        "email,digests,categories\n"
        "wei@example.com,daily,Economy transport\n"
        "priya@example.com,daily,\n"
    )
    csv_files.import_subscribers(
        engine, listing, known_digests=["daily"], zone=settings.zone, actor="test", now=now()
    )
    chosen = {v.subscriber.email: v.categories for v in subscriptions.list_subscribers(engine)}
    assert chosen["wei@example.com"] == ("economy", "transport")
    assert chosen["priya@example.com"] == ()

    # A file without the column leaves everyone's choice as it was.
    plain = tmp_path / "plain.csv"
    plain.write_text("email\nkept@example.com\nwei@example.com\n")
    csv_files.import_subscribers(
        engine, plain, known_digests=["daily"], zone=settings.zone, actor="test", now=now()
    )
    chosen = {v.subscriber.email: v.categories for v in subscriptions.list_subscribers(engine)}
    assert chosen["kept@example.com"] == ("weather",)
    assert chosen["wei@example.com"] == ("economy", "transport")

    # Export, wipe, import, export: the same file, categories included.
    out = io.StringIO()
    csv_files.export_subscribers(engine, out)
    assert "wei@example.com,,confirmed,daily," in out.getvalue()
    assert ",categories," in out.getvalue().splitlines()[0]
    copy = tmp_path / "export.csv"
    copy.write_text(out.getvalue())
    for view in subscriptions.list_subscribers(engine):
        subscribers.remove_subscriber(engine, view.subscriber.email, actor="test", now=now())
    csv_files.import_subscribers(
        engine, copy, known_digests=["daily"], zone=settings.zone, actor="test", now=now()
    )
    again = io.StringIO()
    csv_files.export_subscribers(engine, again)
    assert again.getvalue() == out.getvalue()

    bad = tmp_path / "bad.csv"
    bad.write_text("email,categories\nnew@example.com,economy\nkept@example.com,sport weather\n")
    with pytest.raises(InputError) as caught:
        csv_files.import_subscribers(
            engine, bad, known_digests=["daily"], zone=settings.zone, actor="test", now=now()
        )
    assert caught.value.details == [
        f"{bad}:3: categories: unknown sport (known: economy, markets, transport, weather)"
    ]
    with store.reading(engine) as session:
        assert store.subscriber_by_email(session, "new@example.com") is None


def test_add_with_an_unknown_category_changes_nothing(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    load_stories(engine, settings, tmp_path)
    with pytest.raises(InputError, match="unknown category 'sport' \\(known: economy, markets"):
        member(engine, "new@example.com", ["sport"])
    with store.reading(engine) as session:
        assert store.subscriber_by_email(session, "new@example.com") is None


def test_a_choice_stays_visible_after_its_last_story_moved(
    client: TestClient, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    load_stories(engine, settings, tmp_path)
    with store.writing(engine) as session:
        store.ensure_categories(session, ["Sport"])  # no story is in Sport (any more)
    reader = member(engine, "fan@example.com", ["sport"])
    url = f"/preferences/{token(engine, 'preferences', reader)}"
    page = client.get(url)
    assert 'value="sport" checked' in page.text  # shown, so saving does not drop it silently
    client.post(url, data={"digest": "daily", "category": ["sport", "weather"]})
    with store.reading(engine) as session:
        assert store.interests_of(session, [reader])[reader] == ["sport", "weather"]
    stranger = member(engine, "new@example.com", None)
    other = client.get(f"/preferences/{token(engine, 'preferences', stranger)}")
    assert 'value="sport"' not in other.text and 'value="weather" >' in other.text


def test_sign_up_with_topics(
    client: TestClient, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    load_stories(engine, settings, tmp_path)
    form = client.get("/")
    assert "Only some topics?" in form.text and 'name="category" value="weather"' in form.text
    joined = client.post(
        "/subscribe", data={"email": "Ana@Example.com", "category": ["weather", "transport"]}
    )
    assert joined.status_code == 200 and "Check your inbox" in joined.text
    with store.reading(engine) as session:
        row = store.subscriber_by_email(session, "ana@example.com")
        assert row is not None and row.status == "pending"
        assert store.interests_of(session, [row.id or 0])[row.id or 0] == ["transport", "weather"]

    forged = client.post("/subscribe", data={"email": "bob@example.com", "category": "sport"})
    assert forged.status_code == 400 and "unknown category" in forged.text
    assert 'value="bob@example.com"' in forged.text  # the form comes back filled in
    with store.reading(engine) as session:
        assert store.subscriber_by_email(session, "bob@example.com") is None

    # Someone else signing up a member's address changes nothing of theirs, and a forged
    # category gets the same 400 as for anyone: the answer does not tell who is a member.
    reader = member(engine, "cara@example.com", ["economy"])
    probe = client.post("/subscribe", data={"email": "cara@example.com", "category": "sport"})
    assert probe.status_code == 400 and "unknown category" in probe.text
    client.post("/subscribe", data={"email": "cara@example.com", "category": "weather"})
    with store.reading(engine) as session:
        assert store.interests_of(session, [reader])[reader] == ["economy"]


def test_editors_preview_what_a_reader_of_a_category_gets(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    (tmp_path / "schedules.yaml").write_text(TIMETABLE)
    load_stories(engine, settings, tmp_path)
    timetable = load_timetable(settings.schedules)
    daily = timetable.digest("daily")

    def preview(*categories: str) -> str:
        rendered = making.preview(
            engine, settings, timetable, make_environment(), daily, now=now(), categories=categories
        )
        return rendered.text

    assert titles(preview()) == set(STORIES)
    assert titles(preview("transport")) == {"Port strike ends", "New metro line opens"}
    assert "the 2 stories" in preview("transport")
    assert titles(preview("markets")) == set()
    with pytest.raises(InputError, match="unknown category 'sport'"):
        preview("sport")
