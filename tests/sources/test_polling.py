"""Sources: polling real feed files from a real HTTP server on loopback (conditional GET
counted, faults on purpose), each item once, publish mode, and the timetable's checks."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from publisher import store
from publisher.articles import publish
from publisher.errors import ConfigError, OperationalError
from publisher.models import Article, AuditEntry, SourceItem
from publisher.schedules import SourceSpec, parse_timetable
from publisher.settings import Settings
from publisher.sources import fetch, inbox, parsing, polling
from tests.browser import free_port
from tests.feedserver import FEEDS, Answer, FeedServer
from tests.processes import start_daemon, stop_daemons
from tests.support import LOOPBACK, NOW, PG_URL, SECRET


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as running:
        yield running


def source(url: str, *, key: str = "press", **options: object) -> SourceSpec:
    """A source as schedules.yaml gives it (parsed, so the checks run too)."""
    lines = [f"sources:\n  {key}:\n    url: {json.dumps(url)}"]
    lines += [f"    {name}: {json.dumps(value)}" for name, value in options.items()]
    return parse_timetable("\n".join(lines) + "\n").source(key)


def poll(engine: Engine, settings: Settings, spec: SourceSpec, now: datetime = NOW) -> str:
    return str(polling.poll_source(engine, settings, spec, now=now, force=True))


def items(engine: Engine, **wanted: object) -> list[SourceItem]:
    page = inbox.list_items(engine, status=wanted.pop("status", "all"), **wanted)  # type: ignore[arg-type]
    return [view.item for view in page.items]


def count(engine: Engine, model: type) -> int:
    with store.reading(engine) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


# ---------------------------------------------------------------- the timetable


def test_sources_in_schedules_yaml_are_checked_with_file_and_line() -> None:
    good = parse_timetable(
        "sources:\n  kofice-press:\n    url: https://press.example.org/releases.rss\n"
        "    every: 15m\n    mode: publish\n    categories: [culture]\n"
        "    name: KOFICE press releases\n    skip_older_than: 2d\n"
    )
    spec = good.source("kofice-press")
    assert (spec.every, spec.mode, spec.categories) == (
        timedelta(minutes=15),
        "publish",
        ("culture",),
    )
    assert (spec.name, spec.skip_older_than) == ("KOFICE press releases", timedelta(days=2))
    assert (
        parse_timetable("sources:\n  a:\n    url: http://x.example/f\n").source("a").mode == "inbox"
    )
    cases = {
        "sources:\n  a:\n    url: https://x.example/f\n    colour: red\n": (
            "schedules.yaml:4: sources.a.colour: unknown key (allowed: url, every, mode"
        ),
        "sources:\n  a:\n    url: ftp://x.example/f\n": "schedules.yaml:3: sources.a.url: 'ftp:",
        "sources:\n  a:\n    url: https://x.example/f\n    every: 30s\n": (
            "schedules.yaml:4: sources.a.every: '30s' is under 1m"
        ),
        "sources:\n  a:\n    url: https://x.example/f\n    every: often\n": (
            "schedules.yaml:4: sources.a.every: 'often' is not a duration"
        ),
        "sources:\n  a:\n    url: https://x.example/f\n    mode: auto\n": (
            "schedules.yaml:4: sources.a.mode:"
        ),
        "sources:\n  Bad Name:\n    url: https://x.example/f\n": "source name 'Bad Name'",
    }
    for text, message in cases.items():
        with pytest.raises(ConfigError) as caught:
            parse_timetable(text)
        assert message in str(caught.value), text
    with pytest.raises(ConfigError, match="no source 'b'"):
        good.source("b")


# ---------------------------------------------------------------- polling


def test_an_rss_feed_comes_in_once_and_a_second_poll_is_a_counted_304(
    engine: Engine, settings: Settings, server: FeedServer
) -> None:
    spec = source(server.serve_file("/releases.rss", "rss2.xml"), every="15m")
    assert poll(engine, settings, spec) == "press: 2 new, 0 updated, 0 skipped"
    first = {row.title: row for row in items(engine)}
    jakarta = first["Hallyu festival opens in Jakarta"]
    assert jakarta.link == "https://press.example.org/releases/hallyu-jakarta"
    assert jakarta.summary == "The festival runs for three days & brings 40 acts."
    assert "<strong>three days</strong>" in jakarta.body_html
    assert (jakarta.image, jakarta.author) == (
        "https://press.example.org/img/jakarta.jpg",
        "KOFICE press office",
    )
    assert jakarta.published == datetime(2026, 11, 29, 0, 0, tzinfo=UTC)
    assert first["Korean film week in Hanoi"].image == "https://press.example.org/img/hanoi.jpg"

    assert poll(engine, settings, spec, NOW + timedelta(minutes=15)) == "press: not modified"
    assert (server.hits["/releases.rss"], server.not_modified["/releases.rss"]) == (2, 1)
    # The same feed at a new URL: a full GET, as the validators were the old URL's.
    moved = source(server.serve_file("/moved.rss", "rss2.xml"), every="15m")
    assert poll(engine, settings, moved, NOW + timedelta(minutes=30)).startswith("press: 0 new")
    assert (server.hits["/moved.rss"], server.not_modified["/moved.rss"]) == (1, 0)
    assert count(engine, SourceItem) == 2
    [state] = polling.source_states(engine)
    assert (state.state, state.items_seen, state.new_items) == ("ok", 2, 2)
    assert state.label == "KOFICE press releases"  # the feed's title, as no name was given
    assert state.last_poll_at == NOW + timedelta(minutes=30)


@pytest.mark.parametrize(
    ("name", "titles"),
    [
        ("rss1.rdf", {"Museum hours extended"}),
        ("atom.xml", {"Night market returns"}),
        ("feed.json", {"New ferry route to Jeju", "Winter lights festival"}),
    ],
)
def test_rss_1_atom_and_json_feed_are_read(
    engine: Engine, settings: Settings, server: FeedServer, name: str, titles: set[str]
) -> None:
    spec = source(server.serve_file("/feed", name))
    poll(engine, settings, spec)
    found = {row.title: row for row in items(engine)}
    assert set(found) == titles
    if name == "atom.xml":  # a relative link, resolved against the feed's URL
        assert found["Night market returns"].link == f"{server.url}/posts/night-market"
        assert found["Night market returns"].author == "Lee Ji-woo"
    if name == "feed.json":
        ferry = found["New ferry route to Jeju"]
        assert (ferry.image, ferry.author) == (
            "https://tour.example.org/img/ferry.jpg",
            "Tourism desk",
        )
        assert found["Winter lights festival"].summary == "Lights on from December 1. Free entry."


def test_gzip_is_undone_and_a_redirect_followed(
    engine: Engine, settings: Settings, server: FeedServer
) -> None:
    server.serve_file("/gz", "rss2.xml", gzip=True)
    server.routes["/moved"] = Answer(status=301, headers={"location": "/gz"})
    spec = source(server.url + "/moved")
    assert poll(engine, settings, spec).startswith("press: 2 new")
    assert (server.hits["/moved"], server.hits["/gz"]) == (1, 1)


def test_new_content_updates_the_inbox_entry_and_a_changed_guid_scheme_adds_nothing(
    engine: Engine, settings: Settings, server: FeedServer
) -> None:
    feed = (FEEDS / "rss2.xml").read_text()
    spec = source(server.serve("/f", feed))
    poll(engine, settings, spec)
    before = {row.link: row for row in items(engine)}
    server.serve("/f", feed.replace("opens in Jakarta", "opens in Jakarta on Friday"))
    assert (
        poll(engine, settings, spec, NOW + timedelta(hours=1))
        == "press: 0 new, 1 updated, 0 skipped"
    )
    after = {row.link: row for row in items(engine)}
    link = "https://press.example.org/releases/hallyu-jakarta"
    assert after[link].id == before[link].id
    assert (after[link].title, after[link].status) == (
        "Hallyu festival opens in Jakarta on Friday",
        "new",
    )
    # The feed moves to permalink guids: the same stories by their links, not new ones.
    server.serve(
        "/f",
        feed.replace("kofice-2026-0412", link).replace(
            "kofice-2026-0411", "https://press.example.org/releases/film-week-hanoi"
        ),
    )
    poll(engine, settings, spec, NOW + timedelta(hours=2))
    assert count(engine, SourceItem) == 2


def test_a_discarded_item_never_comes_back(
    engine: Engine, settings: Settings, server: FeedServer
) -> None:
    feed = (FEEDS / "rss2.xml").read_text()
    spec = source(server.serve("/f", feed))
    poll(engine, settings, spec)
    [gone] = [row for row in items(engine) if "Hanoi" in row.title]
    assert inbox.discard(engine, gone.id or 0, actor="ed@example.com", now=NOW)
    assert not inbox.discard(engine, gone.id or 0, actor="ed@example.com", now=NOW)
    server.serve("/f", feed.replace("Twelve films", "Fourteen films"))
    poll(engine, settings, spec, NOW + timedelta(hours=1))
    assert [row.title for row in items(engine, status="new")] == [
        "Hallyu festival opens in Jakarta"
    ]
    assert inbox.get_item(engine, gone.id or 0).item.status == "discarded"
    assert count(engine, SourceItem) == 2


def test_publish_mode_puts_items_on_the_site_and_updates_them_as_new_versions(
    engine: Engine, settings: Settings, server: FeedServer
) -> None:
    feed = (FEEDS / "rss2.xml").read_text()
    spec = source(server.serve("/f", feed), key="kofice", mode="publish",
                  categories=["Culture"], name="KOFICE")  # fmt: skip
    poll(engine, settings, spec)
    views = {v.article.title: v for v in publish.list_articles(engine)}
    story = views["Hallyu festival opens in Jakarta"]
    a = story.article
    assert (a.source_name, a.source_url) == (
        "KOFICE",
        "https://press.example.org/releases/hallyu-jakarta",
    )
    assert story.categories == ("Culture",)
    assert a.published_at == datetime(2026, 11, 29, 0, 0, tzinfo=UTC)
    assert "<strong>three days</strong>" in a.body_html
    assert inbox.article_origin(engine, a.id or 0).item.link == a.source_url  # type: ignore[union-attr]
    assert all(row.status == "published" for row in items(engine))

    server.serve("/f", feed.replace("opens in Jakarta", "opens in Jakarta on Friday"))
    poll(engine, settings, spec, NOW + timedelta(hours=1))
    again = publish.article_by_id(engine, a.id or 0).article
    assert again.title == "Hallyu festival opens in Jakarta on Friday"
    assert (again.uid, again.slug) == (a.uid, a.slug)
    assert count(engine, Article) == 2
    with store.reading(engine) as session:
        trail = store.audit_entries(session, kind="article", subject_id=a.id)
    assert [(e.actor, e.action) for e in trail] == [
        ("source:kofice", "article.edit"), ("source:kofice", "article.create")
    ]  # fmt: skip


def test_script_control_characters_no_title_and_the_year_3000_are_cleaned(
    engine: Engine, settings: Settings, server: FeedServer, caplog: pytest.LogCaptureFixture
) -> None:
    spec = source(server.serve_file("/h", "hostile.xml"))
    with caplog.at_level(logging.INFO, logger="publisher.sources"):
        said = poll(engine, settings, spec)
    assert said == "press: 3 new, 0 updated, 1 skipped"  # h-3 has neither title nor summary
    found = {row.link: row for row in items(engine)}
    script = found["https://hostile.example.org/1"]
    assert script.title == "Script inside the item"  # the bidirectional override is gone
    assert "script" not in script.body_html and "javascript" not in script.body_html
    assert "onclick" not in script.body_html and script.summary == "Hello"
    untitled = found["https://hostile.example.org/2"]
    assert untitled.title.startswith("An item without a title, but with a summary")
    assert found["https://hostile.example.org/4"].published == NOW
    logged = caplog.text
    assert "clamped to now" in logged and "no title and no summary" in logged

    control = {"version": "https://jsonfeed.org/version/1.1", "title": "C", "items": [
        {"id": "c1", "title": "Bell\u0007 and\u0000 null\u001b[31m", "url": "https://c.example/1",
         "content_html": "<p>ok\u0008</p>"}
    ]}  # fmt: skip
    spec = source(server.serve("/c", json.dumps(control), content_type="application/feed+json"),
                  key="c")  # fmt: skip
    poll(engine, settings, spec)
    [row] = items(engine, source="c")
    assert row.title == "Bell and null[31m" and row.body_html == "<p>ok</p>"


def test_skip_older_than_leaves_old_items_out(
    engine: Engine, settings: Settings, server: FeedServer
) -> None:
    spec = source(server.serve_file("/f", "rss2.xml"), skip_older_than="2d")
    # 29 Nov 00:00 UTC is 36 hours before NOW; 28 Nov 00:00 is 60.
    assert poll(engine, settings, spec) == "press: 1 new, 0 updated, 1 skipped"
    assert [row.title for row in items(engine)] == ["Hallyu festival opens in Jakarta"]


# ---------------------------------------------------------------- faults


def test_a_500_backs_off_then_pauses_after_ten_and_an_editor_resumes(
    engine: Engine, settings: Settings, server: FeedServer
) -> None:
    url = server.serve("/f", "oops", status=500, content_type="text/plain")
    spec = source(url, every="5m")
    result = polling.poll_source(engine, settings, spec, now=NOW)
    assert (result.outcome, result.error) == ("failed", f"{url} answered HTTP 500")
    [state] = polling.source_states(engine)
    assert (state.state, state.failures, state.last_error) == ("failing", 1, result.error)
    assert state.next_poll_at == NOW + timedelta(minutes=5)
    polling.poll_source(engine, settings, spec, now=NOW, force=True)
    assert polling.source_states(engine)[0].next_poll_at == NOW + timedelta(minutes=10)
    for _ in range(8):
        polling.poll_source(engine, settings, spec, now=NOW, force=True)
    [state] = polling.source_states(engine)
    assert (state.state, state.failures) == ("paused", 10)
    assert state.next_poll_at == NOW + timedelta(hours=6)  # the back-off's ceiling
    hits = server.hits["/f"]
    later = NOW + timedelta(days=1)
    timetable = parse_timetable(f"sources:\n  press:\n    url: {url}\n    every: 5m\n")
    assert polling.poll_due(engine, settings, timetable, now=later) == []
    assert polling.poll_source(engine, settings, spec, now=later, force=True).outcome == "paused"
    assert server.hits["/f"] == hits

    server.serve_file("/f", "rss2.xml")
    assert polling.resume_source(engine, "press", actor="ed@example.com", now=later)
    assert not polling.resume_source(engine, "press", actor="ed@example.com", now=later)
    [polled] = polling.poll_due(engine, settings, timetable, now=later)
    assert (polled.outcome, polled.new) == ("fetched", 2)
    assert polling.source_states(engine)[0].state == "ok"
    with store.reading(engine) as session:
        [entry] = store.audit_entries(session, kind="source")
    assert (entry.actor, entry.action, entry.subject_label) == (
        "ed@example.com",
        "source.resume",
        "press",
    )


def test_huge_slow_looping_and_not_a_feed_answers_are_refused_with_a_reason(
    engine: Engine, settings: Settings, server: FeedServer
) -> None:
    cases = {
        "/huge": Answer(huge=50 * 1024 * 1024, content_type="application/rss+xml"),
        "/loop": Answer(status=302, headers={"location": "/loop"}),
        "/page": Answer(body=(FEEDS / "notafeed.html").read_bytes(), content_type="text/html"),
        "/json": Answer(body=b'{"hello": "world"}', content_type="application/json"),
    }
    server.routes.update(cases)
    reasons = {}
    for path in cases:
        spec = source(server.url + path, key=path.strip("/"))
        reasons[path] = polling.poll_source(engine, settings, spec, now=NOW).error
    assert reasons["/huge"] == f"{server.url}/huge sent more than 5 MB: refused"
    assert reasons["/loop"] == f"{server.url}/loop: more than 5 redirects"
    assert reasons["/page"].startswith(f"{server.url}/page is not an RSS, Atom or JSON feed")
    assert (
        reasons["/json"] == f"{server.url}/json is JSON but not a JSON Feed (no jsonfeed version)"
    )
    assert {s.name: s.state for s in polling.source_states(engine)} == dict.fromkeys(
        ["huge", "json", "loop", "page"], "failing"
    )
    # Gzip bombs: tests/sources/test_fetch.py.


def test_broken_xml_is_read_as_far_as_it_goes_and_said_so(
    engine: Engine, settings: Settings, server: FeedServer, caplog: pytest.LogCaptureFixture
) -> None:
    spec = source(server.serve_file("/b", "broken.xml"))
    with caplog.at_level(logging.WARNING, logger="publisher.sources"):
        result = polling.poll_source(engine, settings, spec, now=NOW)
    assert result.new == 1 and "not well-formed XML" in caplog.text


def test_a_server_that_stalls_is_cut_off(settings: Settings, server: FeedServer) -> None:
    url = server.serve("/slow", (FEEDS / "rss2.xml").read_bytes(), stall=60)
    # A short time-out here to keep the test quick; the default is tested below.
    started = time.monotonic()
    with pytest.raises(OperationalError, match=r"did not answer within 0.5 s"):
        fetch.get(url, allow=settings.fetch_allowed, timeout=0.5)
    assert time.monotonic() - started < 30


@pytest.mark.slow
def test_a_server_that_stalls_is_cut_off_at_the_default_time_out(
    engine: Engine, settings: Settings, server: FeedServer
) -> None:
    url = server.serve("/slow", (FEEDS / "rss2.xml").read_bytes(), stall=60)
    result = polling.poll_source(engine, settings, source(url), now=NOW)
    assert result.error == f"{url} did not answer within {fetch.TIMEOUT:g} s"


def test_a_source_is_polled_once_an_interval_whoever_asks(
    engine: Engine, settings: Settings, server: FeedServer
) -> None:
    url = server.serve_file("/f", "rss2.xml")
    timetable = parse_timetable(f"sources:\n  press:\n    url: {url}\n    every: 1m\n")
    polling.sync(engine, timetable, now=NOW)
    with store.writing(engine) as session:
        first = store.claim_poll(session, "press", now=NOW, next_at=NOW + timedelta(minutes=1))
    with store.writing(engine) as session:
        second = store.claim_poll(session, "press", now=NOW, next_at=NOW + timedelta(minutes=1))
    assert (first, second) == (True, False)
    # Due again a minute later (the shortest interval): the clock's 15 s checks poll it then.
    assert polling.poll_due(engine, settings, timetable, now=NOW + timedelta(seconds=45)) == []
    assert server.hits["/f"] == 0
    [done] = polling.poll_due(engine, settings, timetable, now=NOW + timedelta(minutes=1))
    assert done.new == 2
    assert polling.poll_due(engine, settings, timetable, now=NOW + timedelta(seconds=100)) == []
    assert server.hits["/f"] == 1


def test_publish_mode_gives_every_item_a_slug_of_its_own(
    engine: Engine, settings: Settings, server: FeedServer
) -> None:
    long_title = "Word " * 150  # 750 characters: shortened to the 500 an article may have
    items_ = [
        {"id": "a", "title": "Same title", "url": "https://x.example/1"},
        {"id": "b", "title": "Same title", "url": "https://x.example/2"},
        {"id": "c", "title": "!!!", "url": "https://x.example/3"},  # no letter for a slug
        {"id": "d", "title": long_title, "url": "https://x.example/4"},
    ]
    feed = {"version": "https://jsonfeed.org/version/1.1", "title": "X", "items": items_}
    spec = source(
        server.serve("/j", json.dumps(feed), content_type="application/feed+json"),
        mode="publish",
    )
    result = polling.poll_source(engine, settings, spec, now=NOW)
    assert (result.new, result.skipped) == (4, 0), result.notes
    articles = {v.article.slug: v.article for v in publish.list_articles(engine)}
    assert {"same-title", "same-title-2", "item"} <= set(articles)
    [long] = [a for a in articles.values() if a.title.startswith("Word")]
    assert 490 < len(long.title) <= 500 and long.title.endswith("Word…")  # at a word


def test_feed_parsing_refuses_what_is_not_a_feed() -> None:
    with pytest.raises(parsing.FeedError, match="not valid JSON"):
        parsing.parse(b"{broken", content_type="application/json")
    with pytest.raises(parsing.FeedError, match="not an RSS, Atom or JSON feed"):
        parsing.parse(b"plain words")


@pytest.mark.slow
def test_two_daemons_on_postgresql_polling_one_source_import_each_item_once(
    tmp_path: Path, server: FeedServer
) -> None:
    pg = os.environ.get("PUBLISHER_TEST_DATABASE_URL", "")
    url = server.serve_file("/releases.rss", "rss2.xml")
    (tmp_path / "schedules.yaml").write_text(
        f"timezone: UTC\nsources:\n  kofice:\n    url: {url}\n    every: 1m\n    mode: publish\n"
    )
    database = _pg_database(pg)
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PUBLISHER_")} | {
            "PUBLISHER_DATABASE_URL": database,
            "PUBLISHER_SECRET_KEY": SECRET,
            "PUBLISHER_VAR_DIR": str(tmp_path / "var"),
            "PUBLISHER_SCHEDULES": str(tmp_path / "schedules.yaml"),
            "PUBLISHER_SITE_URL": "https://news.example.com",
            "PUBLISHER_FETCH_ALLOW_HOSTS": LOOPBACK,
        }

        daemons = [start_daemon(env, free_port(), tmp_path) for _ in range(2)]
        engine = store.make_engine(database)
        try:
            deadline = time.monotonic() + 120
            while count(engine, Article) < 2 and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            outputs = stop_daemons(*daemons)
        assert count(engine, Article) == 2, outputs
        assert count(engine, SourceItem) == 2
        # One full answer; any later poll (a daemon that started a minute late) was a 304.
        assert server.hits["/releases.rss"] - server.not_modified["/releases.rss"] == 1
        with store.reading(engine) as session:
            creates = session.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .where(
                    AuditEntry.action == "article.create"  # type: ignore[arg-type]
                )
            )
        assert creates == 2
        engine.dispose()
    finally:
        _drop(database)


def _pg_database(_unused: str) -> str:
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin_url = make_url(PG_URL).set(drivername="postgresql+psycopg")
    name = f"publisher_sources_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        pytest.skip(f"PostgreSQL is not available: {exc}")
    finally:
        admin.dispose()
    return admin_url.set(database=name).render_as_string(hide_password=False)


def _drop(url: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    admin.dispose()


@pytest.mark.slow
def test_a_source_added_and_reloaded_shows_its_items_in_the_inbox(
    tmp_path: Path, server: FeedServer
) -> None:
    """The issue's "done when": add a source to schedules.yaml, SIGHUP, and its items are in
    the inbox within one interval (at the clock's default check, SOURCES_CHECK_SECONDS)."""
    import signal

    database = f"sqlite:///{tmp_path / 'publisher.db'}"
    schedules = tmp_path / "schedules.yaml"
    schedules.write_text("timezone: UTC\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUBLISHER_")} | {
        "PUBLISHER_DATABASE_URL": database,
        "PUBLISHER_SECRET_KEY": SECRET,
        "PUBLISHER_VAR_DIR": str(tmp_path / "var"),
        "PUBLISHER_SCHEDULES": str(schedules),
        "PUBLISHER_FETCH_ALLOW_HOSTS": LOOPBACK,
    }
    daemon = start_daemon(env, free_port(), tmp_path)
    engine = store.make_engine(database)
    try:
        url = server.serve_file("/releases.rss", "rss2.xml")
        schedules.write_text(f"timezone: UTC\nsources:\n  kofice:\n    url: {url}\n    every: 1m\n")
        daemon.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 60  # one interval
        while inbox_total(engine) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert inbox_total(engine) == 2
    finally:
        [output] = stop_daemons(daemon)
        engine.dispose()
    assert "reloaded: no digests; sources kofice" in output


def inbox_total(engine: Engine) -> int:
    return inbox.list_items(engine).total
