"""Feeds built from the store, on SQLite and PostgreSQL: caching, export and WebSub."""

from __future__ import annotations

import gzip
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import feedparser
import pytest
from lxml import etree
from sqlalchemy import Engine

from publisher import store
from publisher.articles import editorial, publish
from publisher.community import subscriptions
from publisher.errors import InputError, OperationalError
from publisher.settings import Settings
from publisher.syndication import feeds, formats
from publisher.templating import make_environment
from tests.pictures import keep_addresses
from tests.support import EXAMPLES, NOW, make_settings
from tests.validators import parse_with_node, validate_atom, validate_jsonfeed


def load(engine: Engine, settings: Settings, tmp_path: Path, *records: dict[str, object]) -> None:
    path = tmp_path / "extra.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records))
    publish.import_articles(engine, settings, [EXAMPLES, path], now=NOW, actor="test")


def build(engine: Engine, settings: Settings, when: datetime = NOW) -> feeds.FeedSet:
    with store.reading(engine) as session:
        return feeds.FeedBuilder(settings).build(session, now=when)


def titles(body: bytes) -> list[str]:
    parsed = feedparser.parse(body)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    return [e.title for e in parsed.entries]


def test_every_feed_of_the_site_is_valid(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    load(engine, settings, tmp_path)
    feed_set = build(engine, settings)
    paths = set(feed_set.documents)
    assert {"feed.xml", "atom.xml", "feed.json"} <= paths
    assert {"categories/trade/feed.xml", "categories/brand-studio/atom.xml"} <= paths
    assert "categories/nope/feed.xml" not in paths
    for path, doc in feed_set.documents.items():
        if path.endswith(".json"):
            assert validate_jsonfeed(doc.body) == [], path
        else:
            assert titles(doc.body), path
    assert validate_atom(feed_set.documents["atom.xml"].body) == []
    assert titles(feed_set.documents["categories/trade/feed.xml"].body) == [
        "Durian exporters switch to rail as the new freight corridor opens"
    ]


def test_editorial_facts_travel_with_each_item(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    load(engine, settings, tmp_path)
    entries = {
        e.link: e
        for e in feedparser.parse(build(engine, settings).documents["atom.xml"].body).entries
    }
    site = settings.site_url
    sponsored = entries[f"{site}/articles/brand-studio-sabah-coffee"]
    assert sponsored.title.startswith("Sponsored: ")
    assert "paid for by an advertiser" in sponsored.content[0].value
    ai = entries[f"{site}/articles/durian-exports-rail"]
    assert "A human editor selected and published this story" in ai.content[0].value
    assert "adapted from source material with the help of AI tools" in ai.content[0].value
    corrected = entries[f"{site}/articles/second-link-lane-closures"]
    assert (
        "They start at\n11 pm" in corrected.content[0].value
        or "11 pm" in corrected.content[0].value
    )
    assert corrected.updated > corrected.published
    # In each story's language (issue 29): the Thai and Korean samples say it in theirs.
    report = {"th": "พบข้อผิดพลาด? แจ้งเราที่นี่", "ko": "오류를 발견하셨나요? 여기로 알려 주세요"}
    for entry in entries.values():
        words = report.get(entry.content[0].language, "Spot an error? Report it here")
        assert entry.content[0].value.rstrip().endswith(f"{words}</a></p>"), entry.link
        assert f'href="{site}/report?article=' in entry.content[0].value


def test_rebuilds_are_byte_identical(engine: Engine, settings: Settings, tmp_path: Path) -> None:
    load(engine, settings, tmp_path)
    first = build(engine, settings)
    second = build(engine, settings, NOW + timedelta(hours=1))
    assert first.documents.keys() == second.documents.keys()
    for path, doc in first.documents.items():
        assert second.documents[path].body == doc.body, path
        assert second.documents[path].etag == doc.etag


def test_scheduled_appears_at_its_time_and_unpublished_disappears(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    later = NOW + timedelta(hours=3)
    load(
        engine,
        settings,
        tmp_path,
        {
            "title": "Embargoed budget story",
            "published_at": later.isoformat(),
            "categories": ["Trade"],
        },
    )
    before = build(engine, settings)
    assert "Embargoed budget story" not in titles(before.documents["feed.xml"].body)
    assert before.valid_until == later
    at_time = build(engine, settings, later)
    assert (
        titles(at_time.documents["categories/trade/feed.xml"].body)[0] == "Embargoed budget story"
    )
    publish.set_article_status(
        engine, "durian-exports-rail", "unpublished", now=later, actor="test"
    )
    after = build(engine, settings, later)
    assert "Durian exporters switch to rail as the new freight corridor opens" not in titles(
        after.documents["feed.xml"].body
    )


def test_a_correction_keeps_the_id_and_moves_updated(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    load(engine, settings, tmp_path)
    before = {
        e.id: e
        for e in feedparser.parse(build(engine, settings).documents["atom.xml"].body).entries
    }
    note = "The forum was the third, not the fourth."
    publish.correct_article(
        engine, "penang-culture-forum", note, now=NOW + timedelta(minutes=1), actor="test"
    )
    after_doc = build(engine, settings).documents["atom.xml"]
    after = {e.id: e for e in feedparser.parse(after_doc.body).entries}
    assert before.keys() == after.keys()
    changed = [i for i in after if after[i].updated != before[i].updated]
    assert len(changed) == 1
    assert "The forum was the third" in after[changed[0]].content[0].value
    assert after_doc.last_modified == NOW + timedelta(minutes=1)


class Hub:
    """A real WebSub hub endpoint on loopback that records publish notifications."""

    def __init__(self) -> None:
        self.received: list[dict[str, list[str]]] = []
        self.status = 202
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                body = parse_qs(self.rfile.read(length).decode())
                if outer.status < 300:
                    outer.received.append(body)
                self.send_response(outer.status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hub() -> Iterator[Hub]:
    server = Hub()
    yield server
    server.close()


@pytest.mark.slow
def test_changed_feeds_ping_the_hub_and_a_down_hub_is_retried(
    engine: Engine, database_url: str, tmp_path: Path, hub: Hub
) -> None:
    up = make_settings(tmp_path, PUBLISHER_DATABASE_URL=database_url, PUBLISHER_WEBSUB_HUB=hub.url)
    load(engine, up, tmp_path)
    feeds.refresh(engine, feeds.FeedBuilder(up), now=NOW)
    # The site's, 11 categories', 6 authors' and 3 languages' feeds, three formats each.
    FEEDS = 3 * (1 + 11 + 6 + 3)
    hub.status = 503
    assert feeds.send_pings(engine, up, now=NOW) == (0, FEEDS)
    with store.reading(engine) as session:
        assert store.due_pings(session, now=NOW) == []
        retry = store.due_pings(session, now=NOW + timedelta(seconds=31))
    assert len(retry) == FEEDS and retry[0].attempts == 1 and "answered 503" in retry[0].last_error
    refused = make_settings(
        tmp_path, PUBLISHER_DATABASE_URL=database_url, PUBLISHER_WEBSUB_HUB="http://127.0.0.1:9/"
    )
    later = NOW + timedelta(seconds=31)
    assert feeds.send_pings(engine, refused, now=later) == (0, FEEDS)
    with store.reading(engine) as session:
        again = store.due_pings(session, now=later + timedelta(seconds=61))
    assert again[0].attempts == 2 and "unreachable" in again[0].last_error

    hub.status = 202
    assert feeds.send_pings(engine, up, now=NOW + timedelta(minutes=2)) == (FEEDS, 0)
    topics = {r["hub.url"][0] for r in hub.received}
    assert (
        f"{up.site_url}/feed.xml" in topics
        and f"{up.site_url}/categories/trade/feed.json" in topics
        and f"{up.site_url}/authors/lim-wei-jie/atom.xml" in topics
    )
    assert all(r["hub.mode"] == ["publish"] for r in hub.received)

    hub.received.clear()
    feeds.refresh(engine, feeds.FeedBuilder(up), now=NOW + timedelta(minutes=2))
    assert feeds.send_pings(engine, up, now=NOW + timedelta(minutes=2)) == (0, 0)
    publish.correct_article(
        engine,
        "durian-exports-rail",
        "Fixed a figure.",
        now=NOW + timedelta(minutes=3),
        actor="test",
    )
    feeds.refresh(engine, feeds.FeedBuilder(up), now=NOW + timedelta(minutes=3))
    assert feeds.send_pings(engine, up, now=NOW + timedelta(minutes=3))[0] > 0
    topics = {r["hub.url"][0] for r in hub.received}
    assert f"{up.site_url}/categories/trade/atom.xml" in topics
    assert f"{up.site_url}/categories/culture/atom.xml" not in topics


def test_cache_rebuilds_only_after_a_change(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    load(engine, settings, tmp_path)
    cache = feeds.FeedCache(engine, feeds.FeedBuilder(settings), lambda: NOW, check_every=0)
    first = cache.current()
    assert cache.current() is first
    publish.set_article_status(engine, "penang-culture-forum", "unpublished", now=NOW, actor="test")
    second = cache.current()
    assert second is not first and second.stamp == first.stamp + 1
    assert second.documents["feed.xml"].etag != first.documents["feed.xml"].etag


def test_export_writes_every_feed_with_gzip_siblings(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    load(engine, settings, tmp_path)
    out = tmp_path / "public"
    written = feeds.export(engine, feeds.FeedBuilder(settings), out, now=NOW)
    assert out / "feed.xml" in written and out / "categories" / "trade" / "feed.json" in written
    for path in written:
        assert gzip.decompress(path.with_name(path.name + ".gz").read_bytes()) == path.read_bytes()
    assert (out / "feed.xsl").read_bytes().startswith(b"<?xml")
    assert not list(out.rglob("*.tmp"))
    again = tmp_path / "again"
    feeds.export(engine, feeds.FeedBuilder(settings), again, now=NOW + timedelta(days=1))
    for path in written:
        assert (again / path.relative_to(out)).read_bytes() == path.read_bytes()


NASTY: list[dict[str, object]] = [
    {"title": "Control\u0001 chars\u001b in title", "body": "bell\u0007 nul\u0000 esc\u001b"},
    {"title": "Lone surrogate", "body_html": "<p>before \udc80 after</p>", "summary": "s\ud800"},
    {"title": "CDATA end", "body": "Code `]]>` and ]]> and <![CDATA[ nested ]]>"},
    {"title": "A one megabyte story", "body": "All work and no play. " * 48_000},
    {"title": "No summary, no author", "summary": "", "author": ""},
    {"title": "부산 영화제 소식", "slug": "부산-영화제-소식", "categories": ["한국 문화"]},
    {"title": "🚤🎬 Emoji headline 🇹🇭", "categories": ["Travel"], "sponsored": True},
]


def test_nasty_articles_still_give_valid_feeds(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "nasty.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=True) for r in NASTY), encoding="utf-8")
    publish.import_articles(engine, settings, [path], now=NOW, actor="test")
    feed_set = build(engine, settings)
    for name in ("feed.xml", "atom.xml", "categories/한국-문화/feed.xml"):
        assert len(titles(feed_set.documents[name].body)) >= 1, name
    assert len(titles(feed_set.documents["feed.xml"].body)) == len(NASTY)
    assert validate_atom(feed_set.documents["atom.xml"].body) == []
    assert validate_jsonfeed(feed_set.documents["feed.json"].body) == []
    node = parse_with_node(feed_set.documents["feed.xml"].body)
    assert len(node["items"]) == len(NASTY)  # type: ignore[arg-type]
    links = {e.link for e in feedparser.parse(feed_set.documents["atom.xml"].body).entries}
    assert (
        f"{settings.site_url}/articles/%EB%B6%80%EC%82%B0-%EC%98%81%ED%99%94%EC%A0%9C-%EC%86%8C%EC%8B%9D"
        in links
    )


def test_cache_sees_a_change_made_elsewhere_at_its_default_check_period(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    """Issue 11: the first staleness check moved the "checked" stamp, so the locked re-check
    said "fresh" and a daemon never rebuilt. Here at the default period (1 s)."""
    load(engine, settings, tmp_path)
    cache = feeds.FeedCache(engine, feeds.FeedBuilder(settings), lambda: NOW)
    first = cache.current()
    assert cache.peek() is first  # within the period: served without asking the database
    publish.correct_article(
        engine, "durian-exports-rail", "Fixed the tonnage.", now=NOW, actor="test"
    )
    deadline = time.monotonic() + 15
    while (current := cache.current()) is first:
        assert time.monotonic() < deadline, "the cache never saw the correction"
        time.sleep(0.05)
    assert current.stamp == first.stamp + 1 and cache.builds == 2
    assert b"Fixed the tonnage." in current.documents["feed.xml"].body
    assert current.documents["feed.xml"].etag != first.documents["feed.xml"].etag
    assert cache.current() is current  # and no rebuild without a change


def test_the_export_dir_follows_every_change(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    load(engine, settings, tmp_path)
    out = tmp_path / "public"
    # check_every=0: each call looks at the database at once (the period itself is tested at
    # its default above and in the daemon tests).
    cache = feeds.FeedCache(
        engine, feeds.FeedBuilder(settings), lambda: NOW, check_every=0, export_dir=out
    )

    def assert_exported(feed_set: feeds.FeedSet) -> None:
        for path, doc in feed_set.documents.items():
            assert (out / path).read_bytes() == doc.body, path
            assert (out / f"{path}.gz").read_bytes() == doc.gzipped, path
        on_disk = {str(p.relative_to(out)) for p in out.rglob("*") if p.name in feeds.FEED_NAMES}
        assert on_disk == set(feed_set.documents)

    first = cache.current()
    assert_exported(first)
    assert (out / "feed.xsl").is_file() and not list(out.rglob("*.tmp"))
    culture = (out / "categories" / "culture" / "feed.xml").stat().st_mtime_ns
    publish.correct_article(
        engine, "durian-exports-rail", "Fixed the tonnage.", now=NOW, actor="test"
    )
    second = cache.current()
    assert b"Fixed the tonnage." in (out / "feed.xml").read_bytes()
    assert_exported(second)
    # A feed whose bytes did not change is not written again.
    assert (out / "categories" / "culture" / "feed.xml").stat().st_mtime_ns == culture
    # The only Brand Studio story goes: so does its category's feed, here and on disk.
    publish.set_article_status(
        engine, "brand-studio-sabah-coffee", "unpublished", now=NOW, actor="test"
    )
    third = cache.current()
    assert "categories/brand-studio/feed.xml" not in third.documents
    assert_exported(third)


def test_export_never_writes_through_a_symbolic_link(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    """Issue 16 item 12: a link planted at the old predictable temporary name, and a linked
    folder inside the export dir."""
    load(engine, settings, tmp_path)
    out = tmp_path / "public"
    out.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (out / f".feed.xml.{os.getpid()}.tmp").symlink_to(victim)
    feeds.export(engine, feeds.FeedBuilder(settings), out, now=NOW)
    assert victim.read_text() == "precious"
    assert (out / "feed.xml").read_bytes().startswith(b"<?xml") and not (
        out / "feed.xml"
    ).is_symlink()

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / "categories").symlink_to(elsewhere)
    with pytest.raises(OperationalError, match="not a folder"):
        feeds.export(engine, feeds.FeedBuilder(settings), linked, now=NOW)
    assert list(elsewhere.iterdir()) == []


def test_the_daemon_export_survives_a_refused_folder_and_serves_on(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    load(engine, settings, tmp_path)
    out = tmp_path / "public"
    out.mkdir()
    (out / "categories").symlink_to(tmp_path)
    cache = feeds.FeedCache(engine, feeds.FeedBuilder(settings), lambda: NOW, export_dir=out)
    assert "feed.xml" in cache.current().documents  # served although the export was refused
    assert not (tmp_path / "trade").exists()


def test_no_rss_feed_has_a_media_group_without_alternatives(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    """Media RSS 1.5.1: media:group holds alternatives of one object, so at least two
    media:content; a single image is a media:content of the item (W3C validator:
    MediaGroupWithoutAlternatives)."""
    image = "https://images.example.org/nasty.png"
    nasty = tmp_path / "nasty.jsonl"
    nasty.write_text("\n".join(json.dumps({**r, "image": image}, ensure_ascii=True) for r in NASTY))
    publish.import_articles(engine, settings, [EXAMPLES, nasty], now=NOW, actor="test")
    assert keep_addresses(engine, settings) == [image]  # the daemon's part (issue 26)
    media = "{http://search.yahoo.com/mrss/}"
    images = 0
    for path, doc in build(engine, settings).documents.items():
        if not path.endswith("feed.xml"):
            continue
        root = etree.fromstring(doc.body)
        for group in root.iter(f"{media}group"):
            assert len(group.findall(f"{media}content")) >= 2, path
        for content in root.iterfind(f"channel/item/{media}content"):
            assert content.get("medium") == "image" and content.get("url"), path
            images += 1
        assert titles(doc.body), path
    node = parse_with_node(build(engine, settings).documents["feed.xml"].body)
    assert len(node["items"]) >= len(NASTY)  # type: ignore[arg-type]
    assert images >= len(NASTY)
    first = etree.fromstring(build(engine, settings).documents["feed.xml"].body)
    typed = {c.get("url"): c.get("type") for c in first.iter(f"{media}content")}
    assert image not in typed  # never the address it came from: our copy, with its type
    assert set(typed.values()) == {"image/jpeg"}
    assert all(url.startswith(f"{settings.site_url}/media/") for url in typed)


def test_categories_only_unseen_articles_have_stay_private(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    """Issue 16 item 11: categories of scheduled or unpublished articles are named nowhere on
    the public side: no feed, not offered, not listed in an error."""
    later = NOW + timedelta(days=2)
    load(
        engine,
        settings,
        tmp_path,
        {
            "title": "Merger talks",
            "published_at": later.isoformat(),
            "categories": ["Embargo Desk"],
        },
        {"title": "Spiked story", "slug": "spiked", "categories": ["Secret Desk"]},
    )
    publish.set_article_status(engine, "spiked", "unpublished", now=NOW, actor="test")
    paths = set(build(engine, settings).documents)
    assert not {p for p in paths if "embargo-desk" in p or "secret-desk" in p}
    offered = [slug for slug, _ in subscriptions.categories(engine, now=NOW)]
    assert "trade" in offered and "embargo-desk" not in offered and "secret-desk" not in offered
    with store.writing(engine) as session, pytest.raises(InputError) as refused:
        store.category_ids(session, ["embargo-desk"], now=NOW)
    assert "known: " in refused.value.message and "trade" in refused.value.message
    assert "desk" not in refused.value.message.split("known:")[1]
    # Its time comes: the category is public everywhere.
    assert "categories/embargo-desk/feed.xml" in build(engine, settings, later).documents
    assert "embargo-desk" in [slug for slug, _ in subscriptions.categories(engine, now=later)]
    with store.reading(engine) as session:
        assert "embargo-desk" in store.category_ids(session, ["embargo-desk"], now=later)


def test_feeds_changed_is_one_short_line_and_the_full_list_at_debug(
    engine: Engine, settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 25: the daemon's log listed 35 file names at every change."""
    load(engine, settings, tmp_path)
    builder = feeds.FeedBuilder(settings, make_environment(zone=settings.zone))
    with caplog.at_level(logging.DEBUG, logger=feeds.__name__):
        feed_set = feeds.refresh(engine, builder, now=NOW)
    count = len(feed_set.documents)
    assert count > feeds.CHANGED_SHOWN
    [line] = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert line.startswith(f"feeds changed: {count} (") and line.endswith(
        f" and {count - feeds.CHANGED_SHOWN} more)"
    )
    assert line.count(", ") == feeds.CHANGED_SHOWN - 1
    [full] = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert all(path in full for path in feed_set.documents)
    assert feeds.changed_line(["rss.xml"]) == "feeds changed: 1 (rss.xml)"


def test_a_withdrawn_story_leaves_every_feed_and_its_atom_feeds_say_it_was_deleted(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    load(engine, settings, tmp_path)
    view = publish.article_any(engine, "penang-culture-forum")
    editor = editorial.Writer("ed@example.com", "editor")
    editorial.change(engine, view, "withdraw", editor, now=NOW, note="the forum was cancelled.")
    feed_set = build(engine, settings)
    # Its tombstone is in the Atom feeds it was in: the site's, its sections', its author's,
    # its language's (Penang's and its author's feeds went with their only public story).
    its_feeds = {"atom.xml", "languages/en/atom.xml", "categories/culture/atom.xml"}
    assert "categories/penang/atom.xml" not in feed_set.documents
    assert "authors/nur-aisyah-rahman/atom.xml" not in feed_set.documents
    for path, doc in feed_set.documents.items():
        assert (view.article.uid.encode() in doc.body) == (path in its_feeds), path
        assert view.article.title.encode() not in doc.body, path
    for path in its_feeds - {"atom.xml"}:
        assert validate_atom(feed_set.documents[path].body) == [], path
    atom = feed_set.documents["atom.xml"].body
    assert validate_atom(atom) == []
    root = etree.fromstring(atom)
    tombstone = root.find(f"{{{formats.TOMBSTONES}}}deleted-entry")
    assert tombstone is not None and tombstone.get("ref") == view.article.uid  # RFC 6721
    comment = tombstone.findtext(f"{{{formats.TOMBSTONES}}}comment")
    assert comment == "Withdrawn: the forum was cancelled."
    assert view.article.title not in titles(atom)
    assert build(engine, settings).documents["atom.xml"].body == atom  # the same bytes again
