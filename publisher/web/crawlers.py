"""What search engines read: ``/robots.txt``, the sitemap index ``/sitemap.xml`` with its
child sitemaps (the stories, at most 50,000 to a file, and the site's list pages) and the
Google News sitemap of the last 48 hours. Each is made from the database on request (cached
by the articles' change stamp), so a withdrawn or unpublished story leaves them at once."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated
from urllib.parse import quote
from weakref import WeakKeyDictionary
from xml.etree import ElementTree as ET

from fastapi import APIRouter, Depends, Request
from fastapi import Path as PathParam
from fastapi.responses import PlainTextResponse, Response
from sqlalchemy import Engine

from publisher import store
from publisher.content import slugify
from publisher.errors import NotFoundError
from publisher.web.application import Application, application
from publisher.web.pages import cached

__all__ = [
    "DISALLOWED",
    "NEWS_MAX",
    "NEWS_NS",
    "NEWS_WINDOW",
    "SITEMAP_MAX",
    "SITEMAP_NS",
    "news_sitemap",
    "robots",
    "router",
    "sitemap_index",
    "sitemap_pages",
    "sitemap_stories",
    "story_chunks",
]

SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
NEWS_NS = "http://www.google.com/schemas/sitemap-news/0.9"
SITEMAP_MAX = 50_000  # URLs in one sitemap file (sitemaps.org)
NEWS_MAX = 1_000  # URLs in a news sitemap (Google News)
NEWS_WINDOW = timedelta(hours=48)
XML = "application/xml; charset=utf-8"
# The newsroom, the API, people's own pages (tokens in the address), tracked links, forms.
DISALLOWED = (
    "/admin/",
    "/api/",
    "/preferences/",
    "/confirm/",
    "/unsubscribe/",
    "/subscription",
    "/r/",
    "/report",
    "/websub/",
)

ET.register_namespace("", SITEMAP_NS)
ET.register_namespace("news", NEWS_NS)

router = APIRouter()


@dataclass(frozen=True)
class _Known:
    stamp: int
    valid_until: datetime | None
    entries: list[store.SitemapEntry]
    categories: list[str]
    authors: list[str]


_known: WeakKeyDictionary[Engine, _Known] = WeakKeyDictionary()
_lock = threading.Lock()


def _entries(app: Application) -> _Known:
    """The visible stories, sections and bylines, read again only when articles changed or a
    scheduled story's time came."""
    now = app.clock()
    with store.reading(app.engine) as session:
        stamp = store.stamp(session, "articles")
        with _lock:
            known = _known.get(app.engine)
        fresh = known is not None and known.stamp == stamp
        if fresh and known is not None and (known.valid_until is None or now < known.valid_until):
            return known
        known = _Known(
            stamp,
            store.next_scheduled(session, now=now),
            store.sitemap_entries(session, now=now),
            [c.slug for c in store.public_categories(session, now=now)],
            store.public_authors(session, now=now),
        )
    with _lock:
        _known[app.engine] = known
    return known


def story_chunks(
    entries: Sequence[store.SitemapEntry], size: int = SITEMAP_MAX
) -> list[list[store.SitemapEntry]]:
    """The stories split into sitemap files of at most ``size`` URLs (none for no story: an
    empty urlset is not a valid sitemap)."""
    return [list(entries[i : i + size]) for i in range(0, len(entries), size)]


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _xml(root: ET.Element, request: Request) -> Response:
    body = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return cached(request, Response(body, media_type=XML))


def _story_url(site: str, slug: str) -> str:
    return f"{site}/articles/{quote(slug, safe='')}"


@router.api_route("/robots.txt", methods=["GET", "HEAD"], include_in_schema=False)
def robots(request: Request, app: Application = Depends(application)) -> Response:
    """Crawlers keep out of the newsroom, the API and personal pages; the sitemaps named."""
    site = app.settings.site_url
    lines = ["User-agent: *", *(f"Disallow: {path}" for path in DISALLOWED), "Allow: /", ""]
    lines += [f"Sitemap: {site}/sitemap.xml", f"Sitemap: {site}/sitemap-news.xml", ""]
    return cached(request, PlainTextResponse("\n".join(lines)), max_age=3600)


@router.api_route("/sitemap.xml", methods=["GET", "HEAD"], include_in_schema=False)
def sitemap_index(request: Request, app: Application = Depends(application)) -> Response:
    """The sitemap index: the list pages' sitemap and one per 50,000 stories, each with the
    last change of what it lists."""
    site = app.settings.site_url
    known = _entries(app)
    root = ET.Element(f"{{{SITEMAP_NS}}}sitemapindex")
    newest = max((e.updated_at for e in known.entries), default=None)
    children = [(f"{site}/sitemaps/pages.xml", newest)]
    for n, chunk in enumerate(story_chunks(known.entries), start=1):
        last = max((e.updated_at for e in chunk), default=None)
        children.append((f"{site}/sitemaps/stories-{n}.xml", last))
    for loc, last in children:
        child = ET.SubElement(root, f"{{{SITEMAP_NS}}}sitemap")
        ET.SubElement(child, f"{{{SITEMAP_NS}}}loc").text = loc
        if last is not None:
            ET.SubElement(child, f"{{{SITEMAP_NS}}}lastmod").text = _when(last)
    return _xml(root, request)


def _url(root: ET.Element, loc: str, lastmod: datetime | None = None) -> ET.Element:
    url = ET.SubElement(root, f"{{{SITEMAP_NS}}}url")
    ET.SubElement(url, f"{{{SITEMAP_NS}}}loc").text = loc
    if lastmod is not None:
        ET.SubElement(url, f"{{{SITEMAP_NS}}}lastmod").text = _when(lastmod)
    return url


@router.api_route(
    "/sitemaps/stories-{number}.xml", methods=["GET", "HEAD"], include_in_schema=False
)
def sitemap_stories(
    number: Annotated[int, PathParam(ge=1, le=100_000)],
    request: Request,
    app: Application = Depends(application),
) -> Response:
    """One file of the stories readers may see, ``lastmod`` each story's last change."""
    chunks = story_chunks(_entries(app).entries)
    if number > len(chunks):
        raise NotFoundError(f"there is no sitemap {number}")
    site = app.settings.site_url
    root = ET.Element(f"{{{SITEMAP_NS}}}urlset")
    for entry in chunks[number - 1]:
        _url(root, _story_url(site, entry.slug), max(entry.updated_at, entry.published_at))
    return _xml(root, request)


@router.api_route("/sitemaps/pages.xml", methods=["GET", "HEAD"], include_in_schema=False)
def sitemap_pages(request: Request, app: Application = Depends(application)) -> Response:
    """The front page, every section and every author's page."""
    site = app.settings.site_url
    known = _entries(app)
    root = ET.Element(f"{{{SITEMAP_NS}}}urlset")
    _url(root, f"{site}/")
    for slug in known.categories:
        _url(root, f"{site}/categories/{quote(slug, safe='')}/")
    for slug in sorted({slugify(name) for name in known.authors} - {""}):
        _url(root, f"{site}/authors/{quote(slug, safe='')}/")
    return _xml(root, request)


@router.api_route("/sitemap-news.xml", methods=["GET", "HEAD"], include_in_schema=False)
def news_sitemap(request: Request, app: Application = Depends(application)) -> Response:
    """The Google News sitemap: the stories published in the last 48 hours, newest first."""
    settings = app.settings
    since = app.clock() - NEWS_WINDOW
    recent = [e for e in _entries(app).entries if e.published_at > since]
    recent.sort(key=lambda e: e.published_at, reverse=True)
    root = ET.Element(f"{{{SITEMAP_NS}}}urlset")
    for entry in recent[:NEWS_MAX]:
        url = _url(root, _story_url(settings.site_url, entry.slug))
        news = ET.SubElement(url, f"{{{NEWS_NS}}}news")
        publication = ET.SubElement(news, f"{{{NEWS_NS}}}publication")
        ET.SubElement(publication, f"{{{NEWS_NS}}}name").text = settings.site_title
        ET.SubElement(publication, f"{{{NEWS_NS}}}language").text = settings.site_language
        ET.SubElement(news, f"{{{NEWS_NS}}}publication_date").text = _when(entry.published_at)
        ET.SubElement(news, f"{{{NEWS_NS}}}title").text = entry.title
    return _xml(root, request)
