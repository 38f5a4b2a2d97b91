"""Reading a source's feed: RSS 2.0, RSS 1.0 and Atom with feedparser (the only feedparser
user), JSON Feed 1.0/1.1 by hand (feedparser does not read it). What comes out is raw
entries for ``sources.items.clean_entry``, the feed's title, and its WebSub hub and self URL."""

from __future__ import annotations

import calendar
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import feedparser

from publisher.content import html_text
from publisher.errors import OperationalError
from publisher.sources.items import RawEntry

__all__ = ["MAX_ENTRIES", "FeedError", "ParsedFeed", "parse"]

MAX_ENTRIES = 500
# What feedparser flags that is no fault of the feed's content: a server's wrong or missing
# content type, or an encoding declared one way and sent another.
_HARMLESS = (
    feedparser.exceptions.ThingsNobodyCaresAboutButMe
)  # a feed with more is read to here (newest first, as feeds are)


class FeedError(OperationalError):
    """The answer was not a feed we can read."""


@dataclass(frozen=True)
class ParsedFeed:
    title: str
    hub: str
    self_url: str
    entries: list[RawEntry]
    notes: list[str] = field(default_factory=list)


def parse(body: bytes, *, content_type: str = "", url: str = "") -> ParsedFeed:
    """The feed in ``body``; FeedError when it is not one (HTML, broken beyond repair)."""
    head = body.lstrip()[:1]
    if "json" in content_type.lower() or head in (b"{", b"["):
        return _json_feed(body, url)
    return _xml_feed(body, content_type, url)


# ---------------------------------------------------------------- RSS and Atom


def _when(parsed: Any) -> datetime | None:
    if not parsed:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), UTC)
    except (OverflowError, ValueError, OSError):
        return None


def _image(entry: Any) -> str:
    for media in entry.get("media_content", []) or []:
        kind = str(media.get("type", "") or media.get("medium", ""))
        if media.get("url") and (kind.startswith("image") or not kind):
            return str(media["url"])
    for thumb in entry.get("media_thumbnail", []) or []:
        if thumb.get("url"):
            return str(thumb["url"])
    for link in entry.get("links", []) or []:
        if link.get("rel") == "enclosure" and str(link.get("type", "")).startswith("image/"):
            return str(link.get("href", ""))
    image = entry.get("image")
    return str(image.get("href", "")) if isinstance(image, dict) else ""


def _title(entry: Any) -> str:
    """A title's text; an HTML title (Atom ``type="html"``) flattened to its text."""
    title = str(entry.get("title", "") or "")
    detail = entry.get("title_detail") or {}
    return html_text(title) if "html" in str(detail.get("type", "")) else title


def _xml_entry(entry: Any, base: str) -> RawEntry:
    content = entry.get("content") or []
    html = next((str(c.get("value", "")) for c in content if "html" in c.get("type", "")), "")
    if not html and content:
        html = str(content[0].get("value", ""))
    link = str(entry.get("link", "") or "")
    return RawEntry(
        guid=str(entry.get("id", "") or ""),
        link=urljoin(base, link) if link else "",
        title=_title(entry),
        summary_html=str(entry.get("summary", "") or ""),
        content_html=html,
        image=_image(entry),
        author=str(entry.get("author", "") or ""),
        published=_when(entry.get("published_parsed") or entry.get("updated_parsed")),
    )


def _xml_feed(body: bytes, content_type: str, url: str) -> ParsedFeed:
    headers = {"content-location": url} if url else {}
    if content_type:
        headers["content-type"] = content_type
    parsed = feedparser.parse(body, response_headers=headers, sanitize_html=True)
    notes = []
    if not parsed.get("version"):
        problem = parsed.get("bozo_exception")
        why = f" ({str(problem).strip()})" if problem else ""
        raise FeedError(f"{url or 'the answer'} is not an RSS, Atom or JSON feed{why}")
    problem = parsed.get("bozo_exception")
    if parsed.get("bozo") and not isinstance(problem, _HARMLESS):
        notes.append(f"the feed is not well-formed XML, read anyway: {problem}")
    feed = parsed.get("feed", {})
    links = feed.get("links", []) or []
    hub = next((str(x.get("href", "")) for x in links if x.get("rel") == "hub"), "")
    self_url = next((str(x.get("href", "")) for x in links if x.get("rel") == "self"), "")
    entries = [_xml_entry(e, url) for e in parsed.get("entries", [])[:MAX_ENTRIES]]
    return ParsedFeed(str(feed.get("title", "") or ""), hub, self_url, entries, notes)


# ---------------------------------------------------------------- JSON Feed


def _iso(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


def _author(item: dict[str, Any]) -> str:
    authors = item.get("authors")
    if isinstance(authors, list) and authors and isinstance(authors[0], dict):
        return str(authors[0].get("name", "") or "")
    author = item.get("author")
    return str(author.get("name", "") or "") if isinstance(author, dict) else ""


def _string(item: dict[str, Any], key: str) -> str:
    value = item.get(key)
    return value if isinstance(value, str) else ""


def _json_entry(item: dict[str, Any], base: str) -> RawEntry:
    link = _string(item, "url") or _string(item, "external_url")
    text = _string(item, "content_text")
    html = _string(item, "content_html")
    if not html and text:
        html = "".join(f"<p>{_escape(p)}</p>" for p in text.split("\n\n") if p.strip())
    guid = item.get("id")
    return RawEntry(
        guid=str(guid) if isinstance(guid, (str, int)) and not isinstance(guid, bool) else "",
        link=urljoin(base, link) if link else "",
        title=_string(item, "title"),
        summary_html=_escape(_string(item, "summary")) or html,
        content_html=html,
        image=_string(item, "image") or _string(item, "banner_image"),
        author=_author(item),
        published=_iso(item.get("date_published")) or _iso(item.get("date_modified")),
    )


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _json_feed(body: bytes, url: str) -> ParsedFeed:
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise FeedError(f"{url or 'the answer'} is not valid JSON ({exc})") from None
    version = data.get("version") if isinstance(data, dict) else None
    if not isinstance(version, str) or not version.startswith("https://jsonfeed.org/version/"):
        raise FeedError(f"{url or 'the answer'} is JSON but not a JSON Feed (no jsonfeed version)")
    items = data.get("items")
    if not isinstance(items, list):
        raise FeedError(f"{url or 'the answer'}: a JSON Feed without an items list")
    hubs = data.get("hubs") if isinstance(data.get("hubs"), list) else []
    hub = next(
        (str(h.get("url", "")) for h in hubs
         if isinstance(h, dict) and str(h.get("type", "")).lower() == "websub"),
        "",
    )  # fmt: skip
    entries = [_json_entry(i, url) for i in items[:MAX_ENTRIES] if isinstance(i, dict)]
    skipped = sum(1 for i in items[:MAX_ENTRIES] if not isinstance(i, dict))
    notes = [f"{skipped} item(s) that were not objects were left out"] if skipped else []
    title = data.get("title")
    return ParsedFeed(
        title if isinstance(title, str) else "", hub, _string(data, "feed_url"), entries, notes
    )
