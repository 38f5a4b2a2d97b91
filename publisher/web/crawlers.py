"""What search engines read: ``/robots.txt``, the sitemap index ``/sitemap.xml`` with its
child sitemaps (the stories, at most 50,000 to a file, and the site's list pages) and the
Google News sitemap of the last 48 hours. Each is made once per change of the articles
(web/facts.py), so a withdrawn or unpublished story leaves them at the next request."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated
from urllib.parse import quote
from xml.sax.saxutils import escape

from fastapi import APIRouter, Depends, Request
from fastapi import Path as PathParam
from fastapi.responses import PlainTextResponse, Response

from publisher import store
from publisher.errors import NotFoundError
from publisher.web.application import Application, application
from publisher.web.facts import Facts, facts
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
XHTML_NS = "http://www.w3.org/1999/xhtml"
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

router = APIRouter()


def story_chunks(
    entries: Sequence[store.SitemapEntry], size: int = SITEMAP_MAX
) -> list[list[store.SitemapEntry]]:
    """The stories split into sitemap files of at most ``size`` URLs (none for no story: an
    empty urlset is not a valid sitemap)."""
    return [list(entries[i : i + size]) for i in range(0, len(entries), size)]


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _xml(
    request: Request, app: Application, key: str, make: Callable[[Facts], list[str]]
) -> Response:
    """The XML document ``make`` writes (its lines), made once per reading of the articles."""
    known = facts(app.engine, app.clock())
    body = known.rendered.get(key)
    if body is None:
        lines = ['<?xml version="1.0" encoding="UTF-8"?>', *make(known)]
        body = "\n".join(lines).encode()
        if key.startswith("news:"):
            for old in [k for k in known.rendered if k.startswith("news:")]:
                known.rendered.pop(old, None)
        known.rendered[key] = body
    return cached(request, Response(body, media_type=XML))


def _url(loc: str, lastmod: datetime | None = None, extra: str = "") -> str:
    when = f"<lastmod>{_when(lastmod)}</lastmod>" if lastmod is not None else ""
    return f"<url><loc>{escape(loc)}</loc>{when}{extra}</url>"


def _translations(entries: list[store.SitemapEntry], home: str) -> dict[str, list[tuple[str, str]]]:
    """The visible stories of each translation key that has more than one: (language, slug),
    one per language."""
    groups: dict[str, dict[str, str]] = {}
    for e in entries:
        if e.translation_key:
            groups.setdefault(e.translation_key, {}).setdefault(e.language or home, e.slug)
    return {key: sorted(found.items()) for key, found in groups.items() if len(found) > 1}


def _news_language(tag: str) -> str:
    """A story's language as Google News names it: ISO 639, zh-cn and zh-tw for Chinese."""
    if tag.startswith("zh"):
        return "zh-tw" if ("Hant" in tag or tag.endswith(("TW", "HK"))) else "zh-cn"
    return tag.split("-", 1)[0]


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
    now = app.clock()

    def make(known: Facts) -> list[str]:
        entries = known.entries(app.engine, now)
        newest = max((e.updated_at for e in entries), default=None)
        children: list[tuple[str, datetime | None]] = [(f"{site}/sitemaps/pages.xml", newest)]
        for n, chunk in enumerate(story_chunks(entries), start=1):
            changed = max(max(e.updated_at, e.published_at) for e in chunk)
            children.append((f"{site}/sitemaps/stories-{n}.xml", changed))
        lines = [f'<sitemapindex xmlns="{SITEMAP_NS}">']
        for loc, last in children:
            when = f"<lastmod>{_when(last)}</lastmod>" if last is not None else ""
            lines.append(f"<sitemap><loc>{escape(loc)}</loc>{when}</sitemap>")
        return [*lines, "</sitemapindex>"]

    return _xml(request, app, "index", make)


@router.api_route(
    "/sitemaps/stories-{number}.xml", methods=["GET", "HEAD"], include_in_schema=False
)
def sitemap_stories(
    number: Annotated[int, PathParam(ge=1, le=100_000)],
    request: Request,
    app: Application = Depends(application),
) -> Response:
    """One file of the stories readers may see, ``lastmod`` each story's last change."""
    site = app.settings.site_url
    chunks = story_chunks(facts(app.engine, app.clock()).entries(app.engine, app.clock()))
    if number > len(chunks):
        raise NotFoundError(f"there is no sitemap {number}")
    chunk = chunks[number - 1]
    home = app.settings.site_language

    def make(known: Facts) -> list[str]:
        groups = _translations(known.entries(app.engine, app.clock()), home)
        lines = [f'<urlset xmlns="{SITEMAP_NS}" xmlns:xhtml="{XHTML_NS}">']
        for e in chunk:
            # Google's hreflang in sitemaps: each version lists every version, itself too
            # (one story a language: a second story in one language lists none).
            group = groups.get(e.translation_key, [])
            alternates = "".join(
                f'<xhtml:link rel="alternate" hreflang="{escape(tag)}" '
                f'href="{escape(_story_url(site, slug))}"/>'
                for tag, slug in (group if (e.language or home, e.slug) in group else ())
            )
            lines.append(
                _url(_story_url(site, e.slug), max(e.updated_at, e.published_at), alternates)
            )
        return [*lines, "</urlset>"]

    return _xml(request, app, f"stories-{number}", make)


@router.api_route("/sitemaps/pages.xml", methods=["GET", "HEAD"], include_in_schema=False)
def sitemap_pages(request: Request, app: Application = Depends(application)) -> Response:
    """The front page, every section and every author's page."""
    site = app.settings.site_url

    def make(known: Facts) -> list[str]:
        lines = [f'<urlset xmlns="{SITEMAP_NS}">', _url(f"{site}/")]
        for _, slug, _name in known.categories:
            lines.append(_url(f"{site}/categories/{quote(slug, safe='')}/"))
        for slug in sorted(known.authors):
            lines.append(_url(f"{site}/authors/{quote(slug, safe='')}/"))
        return [*lines, "</urlset>"]

    return _xml(request, app, "pages", make)


@router.api_route("/sitemap-news.xml", methods=["GET", "HEAD"], include_in_schema=False)
def news_sitemap(request: Request, app: Application = Depends(application)) -> Response:
    """The Google News sitemap: the stories published in the last 48 hours, newest first (the
    front page alone when there are none)."""
    settings = app.settings
    now = app.clock()

    def publication(tag: str) -> str:
        return (
            f"<news:publication><news:name>{escape(settings.site_title)}</news:name>"
            f"<news:language>{escape(_news_language(tag))}</news:language></news:publication>"
        )

    def make(known: Facts) -> list[str]:
        recent = [e for e in known.entries(app.engine, now) if e.published_at > now - NEWS_WINDOW]
        recent.sort(key=lambda e: e.published_at, reverse=True)
        lines = [f'<urlset xmlns="{SITEMAP_NS}" xmlns:news="{NEWS_NS}">']
        for e in recent[:NEWS_MAX]:
            news = (
                f"<news:news>{publication(e.language or settings.site_language)}"
                f"<news:publication_date>{_when(e.published_at)}"
                f"</news:publication_date><news:title>{escape(e.title)}</news:title></news:news>"
            )
            lines.append(_url(_story_url(settings.site_url, e.slug), extra=news))
        if not recent:
            # A urlset needs a url (sitemaps.org's schema): with no story in 48 hours, the
            # front page, without news tags, keeps the file valid rather than a bare urlset.
            lines.append(_url(f"{settings.site_url}/"))
        return [*lines, "</urlset>"]

    return _xml(request, app, f"news:{now:%Y%m%d%H%M}", make)
