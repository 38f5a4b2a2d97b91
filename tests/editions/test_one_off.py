"""One-off editions (issue 27) against a real SMTP server (aiosmtpd), on SQLite and
PostgreSQL: breaking news to an audience reaches exactly its members who want it, once each;
two editors pressing send at once make one edition; a send killed mid-way and resumed sends
nobody twice beyond what was in flight; bad input sends and saves nothing."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import Engine, func, select

from publisher import store
from publisher.articles import publish
from publisher.delivery import sending
from publisher.editions import making, one_off, sends
from publisher.errors import ConfigError, ConflictError, InputError, NotFoundError
from publisher.schedules import load_timetable, parse_timetable
from publisher.settings import Settings
from publisher.store import SubscriberFilter
from publisher.templating import make_environment
from tests.mailing import TIMETABLE, mail_site, member, now, run_until_done
from tests.processes import cli_env
from tests.smtp import SmtpServer


@pytest.fixture
def mail_settings(tmp_path: Path, database_url: str, smtp: SmtpServer) -> Settings:
    return mail_site(
        tmp_path,
        database_url,
        smtp,
        PUBLISHER_SEND_RETRY_BASE="0.2",
        PUBLISHER_SEND_LEASE="2",  # a killed sender's claims come back within the test
    )


def newsroom(engine: Engine, settings: Settings, tmp_path: Path, culture: int) -> list[str]:
    """Stories (one in culture, one scheduled), ``culture`` members of culture who want
    breaking news, and others who must not get it; the culture audience saved."""
    path = tmp_path / "stories.jsonl"
    later = now().replace(year=now().year + 1).isoformat()
    rows = [
        {"slug": "fire", "title": "Fire at the market", "summary": "Crews are there.",
         "categories": ["Culture"], "image": "https://news.example.com/media/fire.jpg"},
        {"slug": "later", "title": "Not yet", "published_at": later, "categories": ["Culture"]},
    ]  # fmt: skip
    path.write_text("\n".join(json.dumps(r) for r in rows))
    publish.import_articles(engine, settings, [path], now=now(), actor="test")
    wanted = [f"culture{n}@example.com" for n in range(culture)]

    for address in wanted:
        member(engine, address, ["culture"])
    quiet = member(engine, "quiet@example.com", ["culture"])  # does not want breaking news
    with store.writing(engine) as session:
        store.set_breaking(session, quiet, False, now=now())
    member(engine, "sport@example.com", [])  # every category: not in the culture audience
    member(engine, "pending@example.com", ["culture"], confirmed=False)
    with store.writing(engine) as session:
        store.save_audience(
            session, "culture", SubscriberFilter(category="culture"), actor="test", now=now()
        )
    return wanted


def send(engine: Engine, settings: Settings, **values: object) -> one_off.Sent:
    timetable = load_timetable(settings.schedules)
    arguments: dict[str, object] = {"audience": "culture", "slug": "fire", **values}
    kind = str(arguments.pop("kind", "story"))
    return one_off.send(
        engine,
        settings,
        timetable,
        make_environment(),
        kind,
        actor="editor@example.com",
        now=now(),
        **arguments,  # type: ignore[arg-type]
    )


def test_breaking_news_reaches_the_audience_who_want_it_once_with_one_click_unsubscribe(
    engine: Engine, mail_settings: Settings, tmp_path: Path, smtp: SmtpServer
) -> None:
    from fastapi.testclient import TestClient

    from publisher.web import create_app

    wanted = newsroom(engine, mail_settings, tmp_path, 5)
    assert one_off.audience_count(engine, "culture", "story") == 5
    sent = send(engine, mail_settings, expected=5)
    assert sent.created and sent.started == 5 and sent.edition.kind == "story"
    run_until_done(engine, mail_settings, sent.edition.id or 0)
    assert smtp.recorder.counts() == {address: 1 for address in wanted}
    message = smtp.recorder.received[0].parsed()
    assert message["Subject"] == "Breaking: Fire at the market"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["List-Id"].strip("<>").startswith("breaking.")
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "Fire at the market" in html and "https://news.example.com/articles/fire" in html
    assert "Not yet" not in html
    # Pressing send again (or another editor): the same edition, nobody mailed again.
    again = send(engine, mail_settings, expected=5)
    assert not again.created and again.edition.id == sent.edition.id
    run_until_done(engine, mail_settings, sent.edition.id or 0)
    assert smtp.recorder.counts() == {address: 1 for address in wanted}
    # One-click unsubscribe from the breaking-news mail works.
    first = next(r for r in smtp.recorder.received if r.recipient == wanted[0]).parsed()
    url = urlsplit(first["List-Unsubscribe"].strip("<>"))
    client = TestClient(create_app(mail_settings, engine, feed_upkeep_every=None))
    response = client.post(
        url.path,
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    assert one_off.audience_count(engine, "culture", "story") == 4
    # It is in the archive like a digest edition, and in the editions list with its kind.
    assert client.get(f"/digests/{sent.edition.id}").status_code == 200
    assert "Breaking: Fire at the market" in client.get("/digests/").text


def test_bad_input_sends_and_saves_nothing(
    engine: Engine, mail_settings: Settings, tmp_path: Path, smtp: SmtpServer
) -> None:
    newsroom(engine, mail_settings, tmp_path, 3)
    with store.writing(engine) as session:
        store.save_audience(
            session, "nobody", SubscriberFilter(status="bounced"), actor="test", now=now()
        )
    with pytest.raises(InputError, match="not published"):
        send(engine, mail_settings, slug="later")
    with pytest.raises(NotFoundError, match="no story"):
        send(engine, mail_settings, slug="missing")
    with pytest.raises(InputError, match="nobody to send to"):
        send(engine, mail_settings, audience="nobody")
    with pytest.raises(NotFoundError, match="no audience"):
        send(engine, mail_settings, audience="gone")
    with pytest.raises(one_off.CountMoved, match="now counts 3 member") as moved:
        send(engine, mail_settings, expected=10)  # confirmed 10: moved by more than 10 %
    assert moved.value.count == 3
    with pytest.raises(InputError, match="message is empty"):
        send(engine, mail_settings, kind="message", subject="Down tonight", body="  ")
    with pytest.raises(InputError, match="needs a subject"):
        send(engine, mail_settings, kind="message", subject=" ", body="We are down.")
    with store.reading(engine) as session:
        assert store.edition_list(session) == []
    assert smtp.recorder.received == []
    # Within the share, a small move still sends (one member fewer of three: a third).
    sent = send(engine, mail_settings, expected=3)
    assert sent.started == 3


def test_a_plain_message_goes_in_the_digests_layout(
    engine: Engine, mail_settings: Settings, tmp_path: Path, smtp: SmtpServer
) -> None:
    wanted = newsroom(engine, mail_settings, tmp_path, 2)
    body = "Our site will be **down tonight** from 22:00.\n\n<script>alert(1)</script>"
    sent = send(
        engine,
        mail_settings,
        kind="message",
        slug="",
        subject="Down tonight",
        body=body,
        in_archive=False,
    )
    run_until_done(engine, mail_settings, sent.edition.id or 0)
    # A message goes to every confirmed member of the audience (quiet@ too).
    assert smtp.recorder.counts() == {a: 1 for a in [*wanted, "quiet@example.com"]}
    message = smtp.recorder.received[0].parsed()
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "<strong>down tonight</strong>" in html and "<script>" not in html
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Our site will be **down tonight**" in text
    assert "Announcements" in text
    from fastapi.testclient import TestClient

    from publisher.web import create_app

    client = TestClient(create_app(mail_settings, engine, feed_upkeep_every=None))
    assert client.get(f"/digests/{sent.edition.id}").status_code == 404  # kept out
    assert "Down tonight" not in client.get("/digests/").text


def test_a_large_audience_waits_for_review_and_approving_sends_it(
    engine: Engine, tmp_path: Path, smtp: SmtpServer, database_url: str
) -> None:
    settings = mail_site(tmp_path, database_url, smtp, PUBLISHER_REVIEW_AUDIENCE_OVER="2")
    wanted = newsroom(engine, settings, tmp_path, 3)
    sent = send(engine, settings, expected=3)
    assert sent.edition.status == "awaiting_review" and sent.started == 0
    timetable = load_timetable(settings.schedules)
    test = sends.test_send(
        engine,
        settings,
        timetable,
        make_environment(),
        str(sent.edition.id),
        ["desk@example.com"],
        actor="editor@example.com",
        now=now(),
    )
    assert test == 1
    sends.approve(
        engine,
        settings,
        timetable,
        make_environment(),
        sent.edition.id or 0,
        actor="chief@example.com",
        now=now(),
    )
    run_until_done(engine, settings, sent.edition.id or 0)
    assert smtp.recorder.counts() == {"desk@example.com": 1, **{a: 1 for a in wanted}}


def test_two_editors_pressing_send_at_once_make_one_edition(
    engine: Engine, mail_settings: Settings, tmp_path: Path, smtp: SmtpServer
) -> None:
    wanted = newsroom(engine, mail_settings, tmp_path, 4)
    results: list[one_off.Sent | Exception] = []
    start = threading.Barrier(4)

    def press() -> None:
        start.wait()
        try:
            results.append(send(engine, mail_settings, expected=4))
        except Exception as exc:
            results.append(exc)

    threads = [threading.Thread(target=press) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    made = [r for r in results if isinstance(r, one_off.Sent)]
    assert len(made) == 4, results
    assert sum(r.created for r in made) == 1
    assert len({r.edition.id for r in made}) == 1
    with store.reading(engine) as session:
        assert len(store.edition_list(session)) == 1
        assert session.scalar(select(func.count()).select_from(store.deliveries_t)) == 4
    run_until_done(engine, mail_settings, made[0].edition.id or 0)
    assert smtp.recorder.counts() == {address: 1 for address in wanted}


@pytest.mark.slow
def test_a_send_killed_mid_way_and_resumed_sends_nobody_twice_beyond_what_was_in_flight(
    engine: Engine, mail_settings: Settings, tmp_path: Path, smtp: SmtpServer, database_url: str
) -> None:
    wanted = newsroom(engine, mail_settings, tmp_path, 200)
    smtp.recorder.delay = 0.01
    sent = send(engine, mail_settings, expected=200)
    edition_id = sent.edition.id or 0
    env = cli_env(mail_settings, database_url, smtp, tmp_path)
    command = [sys.executable, "-m", "publisher", "deliver", "--once"]
    proc = subprocess.Popen(
        command, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    while len(smtp.recorder.received) < 40:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert time.monotonic() < deadline
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # An editor pauses what is left, then resumes it: the rest goes, once.
    sends.pause(engine, edition_id, actor="editor@example.com", now=now())
    sends.resume(engine, edition_id, actor="editor@example.com", now=now())
    final = subprocess.run(
        command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert final.returncode == 0, final.stderr
    counts = smtp.recorder.counts()
    assert set(counts) == set(wanted)  # none lost, nobody outside the audience
    assert sum(counts.values()) - len(wanted) <= mail_settings.send_concurrency
    assert sending.counts(engine, [edition_id])[edition_id] == {"sent": 200}


def test_an_audience_name_is_taken_once(engine: Engine, mail_settings: Settings) -> None:
    with store.writing(engine) as session:
        store.save_audience(session, "a", SubscriberFilter(), actor="t", now=now())
    with pytest.raises(ConflictError, match="already an audience"), store.writing(engine) as s:
        store.save_audience(s, "a", SubscriberFilter(status="confirmed"), actor="t", now=now())


def test_a_digest_limited_to_an_audience_goes_to_its_members_only(
    engine: Engine, mail_settings: Settings, tmp_path: Path
) -> None:
    wanted = newsroom(engine, mail_settings, tmp_path, 2)
    limited = TIMETABLE + "    audience: culture\n"
    timetable = parse_timetable(limited)
    digest = timetable.digest("daily")
    with store.writing(engine) as session:
        edition, _ = store.create_edition(session, "daily", "k", nominal_at=now(), now=now())
        making.limit_to_audience(session, edition, digest)
        store.update_edition(session, edition.id or 0, status="ready")
        store.start_deliveries(session, store.edition_by_id(session, edition.id or 0), now=now())
        emails = session.scalars(select(store.deliveries_t.c.email)).all()
    # quiet@ does not want breaking news, but a digest is not breaking news: it gets it.
    assert sorted(emails) == sorted([*wanted, "quiet@example.com"])
    missing = parse_timetable(TIMETABLE + "    audience: nobody-saved-this\n")
    with pytest.raises(ConfigError, match="does not exist"), store.writing(engine) as session:
        other, _ = store.create_edition(session, "daily", "j", nominal_at=now(), now=now())
        making.limit_to_audience(session, other, missing.digest("daily"))


def test_the_built_in_audience_reaches_everyone_who_wants_breaking_news_from_day_one(
    engine: Engine, tmp_path: Path, smtp: SmtpServer, database_url: str
) -> None:
    settings = mail_site(tmp_path, database_url, smtp, PUBLISHER_REVIEW_AUDIENCE_OVER="5")
    wanted = newsroom(engine, settings, tmp_path, 3)
    # A member of no digest who wants breaking news is in it too; quiet@ and pending@ not.
    with store.writing(engine) as session:
        store.upsert_subscriber(
            session, "nodigest@example.com", name="", status="confirmed", digests=[], now=now()
        )
    everyone = [*wanted, "sport@example.com", "nodigest@example.com"]
    with store.reading(engine) as session:
        assert store.audience_list(session)[0].name == store.BREAKING_NEWS  # always, first
    assert one_off.audience_count(engine, store.BREAKING_NEWS, "story") == 5
    assert one_off.audience_count(engine, store.BREAKING_NEWS, "message") == 5
    with pytest.raises(one_off.CountMoved):  # the drift check holds for it too
        send(engine, settings, audience=store.BREAKING_NEWS, expected=9)
    sent = send(engine, settings, audience=store.BREAKING_NEWS, expected=5)
    assert sent.started == 5 and sent.edition.audience == store.BREAKING_NEWS
    run_until_done(engine, settings, sent.edition.id or 0)
    assert smtp.recorder.counts() == {address: 1 for address in everyone}
    # One more member: over the review threshold (5), the message waits for an editor.
    member(engine, "late@example.com")
    held = send(
        engine,
        settings,
        kind="message",
        slug="",
        audience=store.BREAKING_NEWS,
        subject="Down tonight",
        body="From 22:00.",
        expected=6,
    )
    assert held.edition.status == "awaiting_review" and held.started == 0
    # It cannot be saved over, renamed or removed.
    for attempt in (
        lambda s: store.save_audience(s, store.BREAKING_NEWS, SubscriberFilter(), actor="t",
                                      now=now(), replace=True),
        lambda s: store.save_audience(s, "EVERYONE who wants breaking news", SubscriberFilter(),
                                      actor="t", now=now()),
        lambda s: store.delete_audience(s, [store.BREAKING_NEWS]),
    ):  # fmt: skip
        with pytest.raises(ConflictError, match="is built in"), store.writing(engine) as s:
            attempt(s)
    assert one_off.audience_count(engine, store.BREAKING_NEWS, "story") == 6


def test_a_story_sent_as_breaking_news_is_left_out_of_the_next_digest_and_its_page_says_so(
    engine: Engine, mail_settings: Settings, tmp_path: Path, smtp: SmtpServer
) -> None:

    from publisher.web import create_app
    from tests.newsroom import add_person, newsroom_client, sign_in

    wanted = newsroom(engine, mail_settings, tmp_path, 2)
    calm = tmp_path / "calm.md"
    calm.write_text("---\ntitle: A calm day\ncategories: [Culture]\n---\nNothing burns.\n")
    publish.import_articles(engine, mail_settings, [calm], now=now(), actor="test")
    sent = send(engine, mail_settings, expected=2)
    run_until_done(engine, mail_settings, sent.edition.id or 0)
    assert smtp.recorder.counts() == {address: 1 for address in wanted}
    # The next digest, made after the breaking news was confirmed: a real run.
    timetable = load_timetable(mail_settings.schedules)
    nominal = now() + timedelta(minutes=1)
    digest, created = making.ensure_edition(
        engine,
        mail_settings,
        timetable,
        make_environment(),
        timetable.digest("daily"),
        nominal=nominal,
        now=nominal,
    )
    assert created and digest.kind == "digest"
    with store.reading(engine) as session:
        carried = [v.article.slug for v in store.edition_articles(session, digest.id or 0)]
        left = store.left_out_as_breaking(session, digest, categories=[])
    assert carried == ["a-calm-day"]
    assert [(g.view.article.slug, g.edition_id) for g in left] == [("fire", sent.edition.id)]
    assert "Fire at the market" not in digest.html and "A calm day" in digest.html
    # Its page in the newsroom says why the story is not in it.
    add_person(engine, mail_settings, "ed@example.com")
    client = newsroom_client(
        create_app(mail_settings, engine, feed_upkeep_every=None), mail_settings
    )
    sign_in(client, "ed@example.com")
    page = client.get(f"/admin/editions/{digest.id}").text
    assert "“Fire at the market”: left out: sent as breaking news on" in page
    assert f'href="/admin/editions/{sent.edition.id}"' in page
    # A digest made before the breaking news was confirmed keeps the story (nobody had it).
    with store.reading(engine) as session:
        before = store.candidate_articles(
            session,
            "weekly",
            categories=[],
            limit=10,
            until=nominal,
            made_at=sent.edition.created_at - timedelta(seconds=1),
        )
    assert "fire" in [v.article.slug for v in before]
