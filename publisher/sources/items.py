"""A feed item as we keep it: cleaned the way ``articles add`` cleans an article (XML-safe
one-line title, sanitised HTML, absolute http(s) URLs, sane dates), with the key that makes
each item come in once. Pure: the parsing is ``sources.parsing``, the storing ``store.sources``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from publisher.content import html_text, one_line, sanitise_html

__all__ = [
    "FUTURE_SLACK",
    "MAX_AUTHOR",
    "MAX_SUMMARY",
    "MAX_TITLE",
    "MAX_URL",
    "TITLE_FROM_SUMMARY",
    "FeedItem",
    "RawEntry",
    "clean_entry",
]

MAX_TITLE = 500
MAX_SUMMARY = 2000
MAX_AUTHOR = 200
MAX_URL = 2000
TITLE_FROM_SUMMARY = 120  # an item with no title takes this much of its summary
# A date later than this past now is a feed's mistake (a year 3000, a clock far ahead):
# it would make a scheduled article. A few minutes cover clocks a little apart.
FUTURE_SLACK = timedelta(minutes=5)


@dataclass(frozen=True)
class RawEntry:
    """One entry as the feed gave it (``sources.parsing``): text, HTML and a parsed date."""

    guid: str = ""
    link: str = ""
    title: str = ""
    summary_html: str = ""
    content_html: str = ""
    image: str = ""
    author: str = ""
    published: datetime | None = None


@dataclass(frozen=True)
class FeedItem:
    """A clean item. ``key`` identifies it in its source (guid, else link, else title and
    date, hashed); ``link_key`` is the link's key, to notice a guid scheme that changed."""

    key: str
    link_key: str
    title: str
    summary: str
    body_html: str
    image: str
    author: str
    link: str
    published: datetime | None
    content_hash: str = field(init=False)

    def __post_init__(self) -> None:
        parts = [
            self.title, self.summary, self.body_html, self.image, self.author, self.link,
            self.published.isoformat() if self.published else "",
        ]  # fmt: skip
        digest = hashlib.sha256("\x1e".join(parts).encode("utf-8", "surrogatepass")).hexdigest()
        object.__setattr__(self, "content_hash", digest)


def _hashed(kind: str, value: str) -> str:
    return hashlib.sha256(f"{kind}:{value}".encode("utf-8", "surrogatepass")).hexdigest()


def _url(value: str) -> str:
    value = one_line(value)
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(value) > MAX_URL:
        return ""
    return value


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    room = text[: limit - 1]  # the ellipsis is one of the ``limit`` characters
    cut = room.rsplit(" ", 1)[0] or room
    return cut.rstrip(" ,;:.-") + "…"


def clean_entry(raw: RawEntry, *, now: datetime) -> tuple[FeedItem | None, list[str]]:
    """The clean item (None when it cannot be kept) and what was done to it, in words."""
    notes: list[str] = []
    summary = _shorten(html_text(raw.summary_html), MAX_SUMMARY)
    body = sanitise_html(raw.content_html or raw.summary_html)
    title = one_line(raw.title)
    if not title:
        if not summary:
            return None, ["skipped: no title and no summary"]
        title = _shorten(summary, TITLE_FROM_SUMMARY)
        notes.append("no title: took one from the summary")
    title = _shorten(title, MAX_TITLE)
    published = raw.published
    if published is not None and published > now + FUTURE_SLACK:
        notes.append(f"date {published.isoformat()} is in the future: clamped to now")
        published = now
    link = _url(raw.link)
    guid = one_line(raw.guid)
    link_key = _hashed("link", link) if link else ""
    if guid:
        key = _hashed("guid", guid)
    elif link:
        key = link_key
    else:
        key = _hashed("title", f"{title}\x1f{published.isoformat() if published else ''}")
    item = FeedItem(
        key=key,
        link_key=link_key,
        title=title,
        summary=summary,
        body_html=body,
        image=_url(raw.image),
        author=_shorten(one_line(raw.author), MAX_AUTHOR),
        link=link,
        published=published,
    )
    return item, notes
