"""formats.py: the three formats from article values, read back by real parsers and validators."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import feedparser
import pytest

from publisher.content import markdown_html, one_line, sanitise_html, xml_text
from publisher.syndication import formats
from publisher.syndication.formats import FeedInfo, FeedItem
from tests.validators import parse_with_node, validate_atom, validate_jsonfeed

T0 = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
SITE = "https://news.example.com"


def info(hub: str | None = None) -> FeedInfo:
    return FeedInfo(
        title="Newsflash Asia",
        subtitle="Breaking Stories, Smarter and Faster",
        home_url=SITE,
        urls={"rss": f"{SITE}/feed.xml", "atom": f"{SITE}/atom.xml", "json": f"{SITE}/feed.json"},
        language="en",
        hub=hub,
        stylesheet="/feed.xsl",
    )


def item(n: int, **changes: Any) -> FeedItem:
    values: dict[str, Any] = {
        "uid": f"tag:news.example.com,2026-11-30:article/{n:032x}",
        "url": f"{SITE}/articles/story-{n}",
        "title": f"Story {n}",
        "summary": f"Summary {n}",
        "content_html": f"<p>Body {n}</p><p><a href='{SITE}/report?article=story-{n}'>"
        "Spot an error? Report it here</a></p>",
        "author": "Nur Aisyah Rahman",
        "categories": (("trade", "Trade"), ("culture", "Culture")),
        "image": "https://images.example.org/a.jpg",
        "published": T0 - timedelta(hours=n),
        "updated": T0 - timedelta(hours=n) + timedelta(minutes=5),
    }
    values.update(changes)
    return FeedItem(**values)


def nasty_items() -> list[FeedItem]:
    """The bad input of the feeds issue, cleaned the way the article importer cleans it."""
    return [
        item(
            1,
            title=one_line("Control\x00 chars\x1b and \ud800 lone surrogate"),
            content_html=sanitise_html("<p>bell\x07 and nul\x00</p>"),
        ),
        item(2, content_html=markdown_html("Code: `a]]>b` and ]]> outside <![CDATA[ x ]]>")),
        item(3, content_html=markdown_html("Long paragraph. " * 70_000)),
        item(4, summary="", author="", image="", categories=()),
        item(
            5,
            url=f"{SITE}/articles/%EB%B6%80%EC%82%B0-%EC%98%81%ED%99%94%EC%A0%9C",
            title="🚤 부산 영화제 ตลาดน้ำ 🎬",
        ),
        item(6, sponsored=True, title="Brand Studio: coffee"),
    ]


ALL = [item(n) for n in range(1, 4)] + nasty_items()


def test_rss_reads_back_with_feedparser() -> None:
    parsed = feedparser.parse(formats.rss(info("https://hub.example.com/"), ALL))
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.feed.title == "Newsflash Asia"
    assert parsed.feed.link == f"{SITE}/"
    assert [e.id for e in parsed.entries] == [i.uid for i in ALL]
    first = parsed.entries[0]
    assert first.guidislink is False
    assert first.link == f"{SITE}/articles/story-1"
    assert first.summary == "Summary 1"
    assert "Body 1" in first.content[0].value
    assert first.author == "Nur Aisyah Rahman"
    assert [t.term for t in first.tags] == ["Trade", "Culture"]
    assert first.media_content[0]["url"] == "https://images.example.org/a.jpg"
    assert first.published_parsed[:5] == (2026, 11, 29, 9, 0)
    assert parsed.entries[-1].title == "Sponsored: Brand Studio: coffee"
    assert "Sponsored" in [t.term for t in parsed.entries[-1].tags]
    assert parsed.entries[3].title == "Control chars and lone surrogate"
    assert "]]>" in parsed.entries[4].content[0].value.replace("]]&gt;", "]]>")
    assert len(parsed.entries[5].content[0].value) > 1_000_000


def test_atom_is_valid_rfc_4287_and_keeps_link_attributes() -> None:
    body = formats.atom(info("https://hub.example.com/"), ALL)
    assert validate_atom(body) == []
    parsed = feedparser.parse(body)
    assert parsed.bozo == 0
    first = parsed.entries[0]
    rels = {(link.rel, link.get("type")) for link in first.links}
    assert ("alternate", "text/html") in rels
    assert ("enclosure", "image/jpeg") in rels
    assert first.summary == "Summary 1"
    assert first.content[0].type == "text/html"
    assert first.updated_parsed[:5] == (2026, 11, 29, 9, 5)
    hubs = [link.href for link in parsed.feed.links if link.rel == "hub"]
    assert hubs == ["https://hub.example.com/"]
    assert [link.href for link in parsed.feed.links if link.rel == "self"] == [f"{SITE}/atom.xml"]


def test_json_feed_is_valid_1_1() -> None:
    body = formats.json_feed(info("https://hub.example.com/"), ALL)
    assert validate_jsonfeed(body) == []
    data = json.loads(body)
    assert data["version"] == "https://jsonfeed.org/version/1.1"
    assert data["hubs"] == [{"type": "WebSub", "url": "https://hub.example.com/"}]
    first = data["items"][0]
    assert first["id"] == ALL[0].uid
    assert first["date_published"] == "2026-11-29T09:00:00Z"
    assert first["tags"] == ["Trade", "Culture"]
    assert data["items"][-1]["_newsflash"]["sponsored"] is True
    assert data["items"][7]["title"] == "🚤 부산 영화제 ตลาดน้ำ 🎬"


@pytest.mark.parametrize("kind", ["rss", "atom"])
def test_a_reader_that_is_not_python_understands_them(kind: str) -> None:
    body = formats.RENDERERS[kind](info(), ALL)
    parsed = parse_with_node(body)
    assert parsed["title"] == "Newsflash Asia"
    items = parsed["items"]
    assert isinstance(items, list) and len(items) == len(ALL)
    assert items[0]["title"] == "Story 1"
    assert items[0]["link"] == f"{SITE}/articles/story-1"
    assert items[0]["guid" if kind == "rss" else "id"] == ALL[0].uid
    assert items[0]["isoDate"] == "2026-11-29T09:00:00.000Z"


def test_same_values_same_bytes_and_updated_is_the_newest_item() -> None:
    for renderer in formats.RENDERERS.values():
        assert renderer(info(), ALL) == renderer(info(), list(ALL))
    rss = formats.rss(info(), ALL)
    assert b"<lastBuildDate>Sun, 29 Nov 2026 09:05:00 +0000</lastBuildDate>" in rss
    atom = feedparser.parse(formats.atom(info(), ALL))
    assert atom.feed.updated == "2026-11-29T09:05:00+00:00"
    empty = feedparser.parse(formats.atom(info(), []))
    assert empty.bozo == 0 and empty.feed.updated.startswith("1970-01-01")


def test_rss_hub_link_and_stylesheet() -> None:
    body = formats.rss(info("https://hub.example.com/"), ALL[:1])
    assert body.startswith(b"<?xml version='1.0' encoding='UTF-8'?>\n<?xml-stylesheet")
    parsed = feedparser.parse(body)
    links = {(link.rel, link.href) for link in parsed.feed.links}
    assert ("hub", "https://hub.example.com/") in links
    assert ("self", f"{SITE}/feed.xml") in links


def test_an_item_that_cannot_render_is_left_out_not_the_feed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broken = item(99, title="raw \x00 control")  # never cleaned: feedgen refuses it
    doc = formats.render("rss", info(), [item(1), broken, item(2)])
    parsed = feedparser.parse(doc.body)
    assert parsed.bozo == 0
    assert [e.title for e in parsed.entries] == ["Story 1", "Story 2"]
    assert "left out" in caplog.text and broken.uid in caplog.text


def test_documents_carry_etag_gzip_and_last_modified() -> None:
    import gzip

    doc = formats.render("json", info(), ALL)
    assert doc.etag.startswith('"') and len(doc.etag) == 34
    assert gzip.decompress(doc.gzipped) == doc.body
    assert doc.last_modified == T0 - timedelta(minutes=55)
    assert formats.render("json", info(), ALL).gzipped == doc.gzipped
    assert doc.media_type == "application/feed+json; charset=utf-8"


def test_xml_text_already_keeps_feedgen_safe() -> None:
    assert xml_text("\ufffe\uffff ok") == " ok"
