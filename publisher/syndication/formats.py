"""RSS 2.0, Atom 1.0 and JSON Feed 1.1 bytes from article values. The only feedgen user.
Same values in, same bytes out: nothing here reads the clock. feedgen 1.0.0 traps handled here
(docs/architecture.md): entries appended in query order, aware datetimes only, text pre-cleaned to
XML 1.0, the ``self`` link added before the alternate one (RSS takes the last link as the channel
link), ``lastBuildDate``/``updated`` set from the data, RSS authors as ``dc:creator``, HTML content
as ``type="html"`` (never CDATA), and Atom entry links written by our own extension because feedgen
drops their ``rel``/``type`` (upstream issue #135)."""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import logging
import mimetypes
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from publisher import __version__

__all__ = [
    "ATOM_NS",
    "EPOCH",
    "FORMATS",
    "JSON_FEED_VERSION",
    "RENDERERS",
    "TOMBSTONES",
    "FeedDocument",
    "FeedInfo",
    "FeedItem",
    "Tombstone",
    "atom",
    "browser_page",
    "display_title",
    "http_date",
    "json_feed",
    "render",
    "rss",
]

log = logging.getLogger(__name__)

ATOM_NS = "http://www.w3.org/2005/Atom"
XML_NS = "http://www.w3.org/XML/1998/namespace"
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # the "updated" of a feed with no items
FORMATS = {
    "rss": ("feed.xml", "application/rss+xml; charset=utf-8"),
    "atom": ("atom.xml", "application/atom+xml; charset=utf-8"),
    "json": ("feed.json", "application/feed+json; charset=utf-8"),
}


@dataclass(frozen=True)
class FeedItem:
    """One article as every feed format needs it; ``content_html`` is already rendered."""

    uid: str
    url: str
    title: str
    summary: str
    content_html: str
    author: str
    categories: tuple[tuple[str, str], ...]  # (slug, name)
    image: str
    published: datetime
    updated: datetime
    sponsored: bool = False
    ai_assisted: bool = False
    corrections: tuple[tuple[datetime, str], ...] = ()
    language: str = ""  # BCP 47; per item in Atom (xml:lang) and JSON Feed, not in RSS
    sponsored_label: str = "Sponsored"  # in the item's language
    # Our own copy of the picture (issue 26): its type, bytes and size, said in each format.
    image_type: str = ""
    image_length: int = 0
    image_width: int = 0
    image_height: int = 0


@dataclass(frozen=True)
class Tombstone:
    """A withdrawn story, for the formats that can say an entry was deleted (Atom, RFC 6721:
    ``at:deleted-entry``); the others just leave it out."""

    uid: str
    url: str
    when: datetime
    comment: str


@dataclass(frozen=True)
class FeedInfo:
    """Feed-level values; ``urls`` maps a format to that feed's own absolute URL;
    ``deleted``: the withdrawn stories the feed names as deleted, where its format can."""

    title: str
    subtitle: str
    home_url: str
    urls: dict[str, str]
    language: str
    hub: str | None = None
    stylesheet: str | None = None
    icon: str | None = None
    deleted: tuple[Tombstone, ...] = ()


@dataclass(frozen=True)
class FeedDocument:
    """Bytes ready to serve: a strong ETag from their hash, gzip done once. The gzip
    representation has its own ETag (RFC 9110 8.8.3: strong tags differ between encodings)."""

    body: bytes
    media_type: str
    last_modified: datetime
    etag: str = field(init=False)
    gzip_etag: str = field(init=False)

    def __post_init__(self) -> None:
        digest = hashlib.sha256(self.body).hexdigest()[:32]
        object.__setattr__(self, "etag", f'"{digest}"')
        object.__setattr__(self, "gzip_etag", f'"{digest}-gz"')

    @functools.cached_property
    def gzipped(self) -> bytes:
        """Compressed on first use, then kept; mtime=0 makes the same bytes compress alike."""
        return gzip.compress(self.body, 6, mtime=0)


def display_title(item: FeedItem) -> str:
    return f"{item.sponsored_label}: {item.title}" if item.sponsored else item.title


# ---------------------------------------------------------------- feedgen workarounds


class _LinksFeed(BaseExtension):  # type: ignore[misc]
    """Feed-level: advertise the WebSub hub in RSS too (feedgen writes only rel=self there)."""

    def __init__(self) -> None:
        self.hub: str | None = None

    def extend_rss(self, rss: Any) -> Any:
        if self.hub:
            channel = rss[0]
            link = etree.SubElement(channel, f"{{{ATOM_NS}}}link")
            link.attrib["rel"] = "hub"
            link.attrib["href"] = self.hub
        return rss


class _LinksEntry(BaseEntryExtension):  # type: ignore[misc]
    """Entry-level Atom links with their attributes, which feedgen 1.0.0 drops (#135)."""

    def __init__(self) -> None:
        self.links: list[dict[str, str]] = []
        self.language = ""

    def extend_atom(self, entry: Any) -> Any:
        if self.language:  # RFC 4287 2: xml:lang on any element; each entry its own
            entry.attrib[f"{{{XML_NS}}}lang"] = self.language
        for attributes in self.links:
            # Un-namespaced like feedgen's own Atom elements: the feed's default namespace
            # (Atom) applies once the entry is in the document.
            link = etree.SubElement(entry, "link")
            for key in ("rel", "type", "href", "length", "title"):
                if attributes.get(key):
                    link.attrib[key] = attributes[key]
        return entry


def browser_page(xml: bytes, stylesheet: Path) -> bytes:
    """An RSS or Atom document as the HTML page ``stylesheet`` (feed.xsl) makes of it, done
    here for browsers, which are dropping XSLT. No network, no files, no entities."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    page = _transform(stylesheet)(etree.fromstring(xml, parser))
    return bytes(page)


@functools.cache
def _transform(stylesheet: Path) -> etree.XSLT:
    return etree.XSLT(etree.parse(str(stylesheet)), access_control=etree.XSLTAccessControl.DENY_ALL)


def _stylesheet(xml: bytes, href: str | None) -> bytes:
    if not href:
        return xml
    declaration, _, rest = xml.partition(b"?>")
    pi = f'<?xml-stylesheet type="text/xsl" href="{href}"?>'.encode()
    return declaration + b"?>\n" + pi + rest


def _generator(info: FeedInfo, items: Sequence[FeedItem], *, for_atom: bool) -> FeedGenerator:
    updated = max((item.updated for item in items), default=EPOCH)
    fg = FeedGenerator()
    fg.register_extension("nflinks", _LinksFeed, _LinksEntry, atom=True, rss=True)
    if not for_atom:
        fg.load_extension("dc", atom=False, rss=True)
        fg.load_extension("media", atom=False, rss=True)
    fg.id(info.home_url + "/")
    fg.title(info.title)
    fg.subtitle(info.subtitle or info.title)
    fg.author({"name": info.title, "uri": info.home_url + "/"})
    own = info.urls["atom" if for_atom else "rss"]
    fg.link(href=own, rel="self", type=FORMATS["atom" if for_atom else "rss"][1].split(";")[0])
    if info.hub:
        if for_atom:
            fg.link(href=info.hub, rel="hub")
        fg.nflinks.hub = info.hub
    fg.link(href=info.home_url + "/", rel="alternate", type="text/html")
    fg.language(info.language)
    fg.generator("Newsflash Publisher", __version__)
    if info.icon:
        fg.icon(info.icon)
    fg.updated(updated)
    fg.lastBuildDate(updated)
    for item in items:
        _entry(fg, info, item, for_atom=for_atom)
    return fg


def _entry(fg: FeedGenerator, info: FeedInfo, item: FeedItem, *, for_atom: bool) -> None:
    fe = fg.add_entry(order="append")
    fe.id(item.uid)
    fe.guid(item.uid, permalink=False)
    fe.title(display_title(item))
    if not for_atom:
        fe.link(href=item.url)
    if item.summary:
        fe.summary(item.summary) if for_atom else fe.description(item.summary)
    fe.content(item.content_html, type="html")
    fe.published(item.published)
    fe.updated(item.updated)
    if item.author:
        if for_atom:
            fe.author({"name": item.author})
        else:
            fe.dc.dc_creator(item.author)
    # No scheme (RSS domain): the site has no category pages for one to name yet.
    categories = [{"term": slug, "label": name} for slug, name in item.categories]
    if item.sponsored:
        categories.append({"term": "sponsored", "label": item.sponsored_label})
    if categories:
        fe.category(categories)
    if for_atom:
        links = [{"rel": "alternate", "type": "text/html", "href": item.url}]
        if item.image:
            image_type = item.image_type or mimetypes.guess_type(item.image)[0] or ""
            enclosure = {"rel": "enclosure", "type": image_type, "href": item.image}
            if item.image_length:
                enclosure["length"] = str(item.image_length)
            links.append(enclosure)
        fe.nflinks.links = links
        fe.nflinks.language = item.language
    elif item.image:
        # Media RSS 1.5.1: media:group is only for alternatives of one object; a single image
        # is a media:content of the item itself (W3C: MediaGroupWithoutAlternatives).
        image: dict[str, str | None] = {"url": item.image, "medium": "image", "group": None}
        guessed = item.image_type or mimetypes.guess_type(item.image)[0]
        if guessed and guessed.startswith("image/"):
            image["type"] = guessed
        if item.image_length:
            image["fileSize"] = str(item.image_length)
        if item.image_width and item.image_height:
            image["width"], image["height"] = str(item.image_width), str(item.image_height)
        fe.media.content(image)


# ---------------------------------------------------------------- the three formats


def _xml(info: FeedInfo, items: Sequence[FeedItem], *, for_atom: bool) -> bytes:
    fg = _generator(info, items, for_atom=for_atom)
    raw: bytes = fg.atom_str(pretty=True) if for_atom else fg.rss_str(pretty=True)
    return _stylesheet(raw, info.stylesheet)


def rss(info: FeedInfo, items: Sequence[FeedItem]) -> bytes:
    return _xml(info, items, for_atom=False)


def atom(info: FeedInfo, items: Sequence[FeedItem]) -> bytes:
    raw = _xml(info, items, for_atom=True)
    return _tombstones(raw, info.deleted) if info.deleted else raw


TOMBSTONES = "http://purl.org/atompub/tombstones/1.0"  # RFC 6721


def _tombstones(raw: bytes, deleted: Sequence[Tombstone]) -> bytes:
    """The Atom feed with an ``at:deleted-entry`` (RFC 6721) for each withdrawn story, before
    the entries (RFC 4287's schema wants extension elements there): a reader app that kept
    the entry learns it was withdrawn, and why."""
    root = etree.fromstring(raw)
    feed = etree.Element(root.tag, nsmap={**root.nsmap, "at": TOMBSTONES}, attrib=dict(root.attrib))
    feed.text = root.text
    children = list(root)
    first = next(
        (n for n, child in enumerate(children) if child.tag == f"{{{ATOM_NS}}}entry"),
        len(children),
    )
    for child in children[:first]:
        feed.append(child)
    if len(feed):
        feed[-1].tail = "\n  "
    for gone in deleted:
        entry = etree.SubElement(
            feed, f"{{{TOMBSTONES}}}deleted-entry", ref=gone.uid, when=_rfc3339(gone.when)
        )
        entry.text, entry.tail = "\n    ", "\n  "
        link = etree.SubElement(entry, f"{{{ATOM_NS}}}link", rel="alternate", href=gone.url)
        link.tail = "\n    "
        comment = etree.SubElement(entry, f"{{{TOMBSTONES}}}comment")
        comment.text = "Withdrawn: " + gone.comment
        comment.tail = "\n  "
    for child in children[first:]:
        feed.append(child)
    if len(feed):
        feed[-1].tail = "\n"
    head = raw[: raw.index(b"<feed")] if b"<feed" in raw else b""
    body: bytes = etree.tostring(feed, encoding="utf-8")
    return head + body + b"\n"


def _rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def json_feed(info: FeedInfo, items: Sequence[FeedItem]) -> bytes:
    """JSON Feed 1.1 (https://jsonfeed.org/version/1.1); feedgen has none."""
    feed: dict[str, Any] = {
        "version": JSON_FEED_VERSION,
        "title": info.title,
        "home_page_url": info.home_url + "/",
        "feed_url": info.urls["json"],
        "description": info.subtitle,
        "language": info.language,
    }
    if info.icon:
        feed["icon"] = info.icon
    if info.hub:
        feed["hubs"] = [{"type": "WebSub", "url": info.hub}]
    feed["items"] = [_json_item(item) for item in items]
    # Compact: with indent=, the json module falls back to its slow pure-Python encoder.
    return json.dumps(feed, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


def _json_item(item: FeedItem) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": item.uid,
        "url": item.url,
        "title": display_title(item),
        "content_html": item.content_html,
    }
    if item.summary:
        entry["summary"] = item.summary
    if item.image:
        entry["image"] = item.image
        if item.image_type and item.image_length:
            entry["attachments"] = [
                {"url": item.image, "mime_type": item.image_type,
                 "size_in_bytes": item.image_length}
            ]  # fmt: skip
    if item.language:
        entry["language"] = item.language  # JSON Feed 1.1: an item's own language
    entry["date_published"] = _rfc3339(item.published)
    entry["date_modified"] = _rfc3339(item.updated)
    if item.author:
        entry["authors"] = [{"name": item.author}]
    tags = [name for _, name in item.categories] + (
        [item.sponsored_label] if item.sponsored else []
    )
    if tags:
        entry["tags"] = tags
    entry["_newsflash"] = {
        "sponsored": item.sponsored,
        "ai_assisted": item.ai_assisted,
        "corrections": [{"date": _rfc3339(when), "note": note} for when, note in item.corrections],
    }
    return entry


RENDERERS: dict[str, Callable[[FeedInfo, Sequence[FeedItem]], bytes]] = {
    "rss": rss,
    "atom": atom,
    "json": json_feed,
}


def render(kind: str, info: FeedInfo, items: Sequence[FeedItem]) -> FeedDocument:
    """One feed; an item that makes the format fail is left out and logged, never the feed."""
    renderer = RENDERERS[kind]
    try:
        body = renderer(info, items)
    except Exception:
        good = [item for item in items if _renders(renderer, info, item)]
        body = renderer(info, good)
        items = good
    last = max((item.updated for item in items), default=EPOCH)
    return FeedDocument(body, FORMATS[kind][1], last)


def _renders(
    renderer: Callable[[FeedInfo, Sequence[FeedItem]], bytes], info: FeedInfo, item: FeedItem
) -> bool:
    try:
        renderer(info, [item])
    except Exception:
        log.exception("feed item %s left out: it cannot be rendered", item.uid)
        return False
    return True


def http_date(value: datetime) -> str:
    return format_datetime(value.astimezone(UTC), usegmt=True)
