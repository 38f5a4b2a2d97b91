"""Feeds and languages (issue 29), on SQLite and PostgreSQL: each item says its language where
the format allows it (Atom's xml:lang, JSON Feed's item language), each language has its own
feeds (RSS says one language per channel) that pass the validators the other feed tests use,
and the export and the hub's pings cover them."""

from __future__ import annotations

import json
from pathlib import Path

import feedparser
from lxml import etree
from sqlalchemy import Engine

from publisher import store
from publisher.articles import publish
from publisher.settings import Settings
from publisher.syndication import feeds
from tests.support import EXAMPLES, NOW, make_settings
from tests.validators import parse_with_node, validate_atom, validate_jsonfeed

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
ATOM = "{http://www.w3.org/2005/Atom}"
KOREAN = "부산 국제 영화제, 아시아 독립영화 부문 신설"
THAI = "ตลาดน้ำอัมพวาเปิดเส้นทางเรือใหม่ 🚤"


def build(engine: Engine, settings: Settings) -> feeds.FeedSet:
    publish.import_articles(engine, settings, [EXAMPLES], now=NOW, actor="test")
    with store.reading(engine) as session:
        return feeds.FeedBuilder(settings).build(session, now=NOW)


def test_each_language_has_its_own_valid_feeds(engine: Engine, settings: Settings) -> None:
    documents = build(engine, settings).documents
    for tag in ("en", "ko", "th"):
        for name in ("feed.xml", "atom.xml", "feed.json"):
            assert f"languages/{tag}/{name}" in documents
    korean = documents["languages/ko/feed.xml"].body
    parsed = feedparser.parse(korean)
    assert parsed.bozo == 0 and [e.title for e in parsed.entries] == [KOREAN]
    assert parsed.feed.language == "ko"  # RSS: the channel's language, one per feed
    assert parsed.feed.title == "Newsflash Asia: 한국어"
    node = parse_with_node(korean)
    items = node["items"]
    assert isinstance(items, list) and [item["title"] for item in items] == [KOREAN]
    thai_atom = documents["languages/th/atom.xml"].body
    assert validate_atom(thai_atom) == []
    assert [e.title for e in feedparser.parse(thai_atom).entries] == [THAI]
    parse_with_node(thai_atom)
    assert validate_jsonfeed(documents["languages/th/feed.json"].body) == []
    english = feedparser.parse(documents["languages/en/atom.xml"].body)
    assert KOREAN not in {e.title for e in english.entries} and len(english.entries) == 4


def test_items_carry_their_language_in_atom_and_json_feed(
    engine: Engine, settings: Settings
) -> None:
    documents = build(engine, settings).documents
    atom = etree.fromstring(documents["atom.xml"].body)
    languages = {
        entry.findtext(f"{ATOM}title"): entry.get(XML_LANG) for entry in atom.iter(f"{ATOM}entry")
    }
    assert languages[KOREAN] == "ko" and languages[THAI] == "th"
    assert languages["Durian exporters switch to rail as the new freight corridor opens"] == "en"
    assert validate_atom(documents["atom.xml"].body) == []
    items = json.loads(documents["feed.json"].body)["items"]
    assert {item["title"]: item["language"] for item in items}[KOREAN] == "ko"
    assert validate_jsonfeed(documents["feed.json"].body) == []
    # The item's own words (corrections, "Spot an error?") are in its language.
    [thai] = [i for i in items if i["title"] == THAI]
    assert "พบข้อผิดพลาด? แจ้งเราที่นี่" in thai["content_html"]


def test_the_export_and_the_hub_cover_the_language_feeds(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(
        tmp_path,
        PUBLISHER_DATABASE_URL=database_url,
        PUBLISHER_WEBSUB_HUB="https://hub.example.net/",
    )
    publish.import_articles(engine, settings, [EXAMPLES], now=NOW, actor="test")
    out = tmp_path / "public"
    written = feeds.export(engine, feeds.FeedBuilder(settings), out, now=NOW)
    assert out / "languages" / "th" / "feed.xml" in written
    assert (out / "languages" / "ko" / "feed.json.gz").exists()
    feeds.refresh(engine, feeds.FeedBuilder(settings), now=NOW)
    with store.reading(engine) as session:
        owed = {ping.feed_url for ping in store.due_pings(session, now=NOW)}
    assert f"{settings.site_url}/languages/ko/atom.xml" in owed
