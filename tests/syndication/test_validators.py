"""Each validator of tests/validators.py passes a good document and catches a real error."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from typing import Any

import pytest
from feedgen.feed import FeedGenerator

from tests.validators import parse_with_node, validate_atom, validate_jsonfeed

pytestmark = pytest.mark.slow
WHEN = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def make_feed(content_type: str = "html", author: bool = True) -> FeedGenerator:
    fg = FeedGenerator()
    fg.id("https://news.example.com/")
    fg.title("Newsflash")
    if author:
        fg.author({"name": "Desk", "email": "desk@news.example.com"})
    fg.link(href="https://news.example.com/", rel="alternate")
    fg.link(href="https://news.example.com/feed.atom", rel="self")
    fg.description("All the news")
    fg.language("en")
    fg.updated(WHEN)
    entry = fg.add_entry()
    entry.id("https://news.example.com/articles/1")
    entry.guid("https://news.example.com/articles/1", permalink=True)
    entry.title("First <story>")
    entry.link(href="https://news.example.com/articles/1")
    entry.published(WHEN)
    entry.updated(WHEN)
    entry.category(term="politics")
    entry.content("<p>Hello</p>", type=content_type)
    return fg


def test_atom_from_feedgen_is_valid() -> None:
    assert validate_atom(make_feed().atom_str(pretty=True)) == []


def test_atom_without_entry_id_is_invalid() -> None:
    xml = make_feed().atom_str(pretty=True)
    broken = xml.replace(b"<id>https://news.example.com/articles/1</id>", b"")
    assert broken != xml
    errors = validate_atom(broken)
    assert any('missing required element "id"' in error for error in errors), errors


def test_atom_content_type_cdata_from_feedgen_is_invalid() -> None:
    # feedgen writes type="CDATA", which RFC 4287 does not allow (text, html, xhtml or a
    # media type).
    errors = validate_atom(make_feed(content_type="CDATA").atom_str())
    assert len(errors) == 1
    assert 'attribute "type"' in errors[0]


def test_atom_schematron_rules_are_checked() -> None:
    # feedgen writes a feed without any author; the schema's Schematron rules forbid it.
    errors = validate_atom(make_feed(author=False).atom_str())
    assert errors == [
        "feed: An atom:feed must have an atom:author unless all "
        "of its atom:entry children have an atom:author.",
        "entry 1: An atom:entry must have an atom:author if its feed does not.",
    ]
    xml = make_feed().atom_str()
    start, end = xml.index(b"<content"), xml.index(b"</content>") + len(b"</content>")
    without_content = xml[:start] + xml[end:]
    link = b'<link href="https://news.example.com/articles/1"/>'
    without_link = without_content.replace(link, link.replace(b"/>", b' rel="related"/>'))
    assert without_link != without_content
    assert validate_atom(without_content) == []
    assert validate_atom(without_link) == [
        "entry 1: An atom:entry must have at least one atom:link element "
        "with a rel attribute of 'alternate' or an atom:content."
    ]


def test_atom_not_well_formed() -> None:
    errors = validate_atom(b"<feed xmlns='http://www.w3.org/2005/Atom'><title>")
    assert len(errors) == 1
    assert "fatal: XML document structures must start and end" in errors[0]


def good_jsonfeed() -> dict[str, Any]:
    return {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Newsflash",
        "home_page_url": "https://news.example.com/",
        "feed_url": "https://news.example.com/feed.json",
        "language": "en",
        "authors": [{"name": "Desk"}],
        "items": [
            {
                "id": "https://news.example.com/articles/1",
                "url": "https://news.example.com/articles/1",
                "title": "First",
                "content_html": "<p>Hello</p>",
                "date_published": "2026-11-30T12:00:00+00:00",
                "tags": ["politics"],
            }
        ],
    }


def test_jsonfeed_valid() -> None:
    assert validate_jsonfeed(json.dumps(good_jsonfeed()).encode()) == []


def test_jsonfeed_errors() -> None:
    feed = good_jsonfeed()
    del feed["title"]
    item = feed["items"][0]
    del item["id"]
    item["date_published"] = "Mon, 30 Nov 2026 12:00:00 +0000"
    item["url"] = "/articles/1"
    errors = validate_jsonfeed(json.dumps(feed).encode())
    assert errors == [
        "$: 'title' is a required property",
        "$.items[0]: 'id' is a required property",
        "$.items[0].date_published: 'Mon, 30 Nov 2026 12:00:00 +0000' is not a 'date-time'",
        "$.items[0].url: '/articles/1' is not a 'uri'",
    ]


def test_jsonfeed_not_json() -> None:
    assert validate_jsonfeed(b"{")[0].startswith("not JSON")


def test_node_parses_rss_and_atom() -> None:
    fg = make_feed()
    rss = parse_with_node(fg.rss_str())
    atom = parse_with_node(fg.atom_str())
    assert rss["title"] == atom["title"] == "Newsflash"
    assert rss["items"] == [
        {
            "title": "First <story>",
            "link": "https://news.example.com/articles/1",
            "guid": "https://news.example.com/articles/1",
            "id": None,
            "isoDate": "2026-11-30T12:00:00.000Z",
            "categories": ["politics"],
        }
    ]
    assert atom["items"] == [
        {
            "title": "First <story>",
            "link": "https://news.example.com/articles/1",
            "guid": None,
            "id": "https://news.example.com/articles/1",
            "isoDate": "2026-11-30T12:00:00.000Z",
            "categories": ["politics"],
        }
    ]


def test_node_failure_raises_with_stderr() -> None:
    with pytest.raises(AssertionError, match="parse-feed: Error"):
        parse_with_node(b"<rss><channel>")


def test_missing_tool_skips_or_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="jing is not installed"):
        validate_atom(b"<feed/>")
    with pytest.raises(pytest.skip.Exception, match="node is not installed"):
        parse_with_node(b"<rss/>")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="jing is not installed"):
        validate_atom(b"<feed/>")
