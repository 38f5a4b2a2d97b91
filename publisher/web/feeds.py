"""Feeds served from memory as plain ASGI, ahead of FastAPI: ETag and Last-Modified with
304s, gzip done once per build, a readable page for a browser that opens an RSS or Atom feed,
the autodiscovery links the pages carry, and the feeds' stylesheet route."""

from __future__ import annotations

from email.utils import parsedate_to_datetime
from urllib.parse import quote

from fastapi import APIRouter
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from publisher.languages import language_name
from publisher.settings import Settings
from publisher.syndication import feeds
from publisher.syndication.formats import FeedDocument, browser_page, http_date
from publisher.web.guards import SECURITY_HEADERS

__all__ = [
    "FEED_MAX_AGE",
    "FEED_SUFFIXES",
    "MAX_PAGES",
    "FeedRoutes",
    "discovery_links",
    "router",
    "stylesheet",
]

FEED_SUFFIXES = ("feed.xml", "atom.xml", "feed.json")
FEED_MAX_AGE = 300
MAX_PAGES = 1000  # feeds' pages kept in memory


def discovery_links(settings: Settings, language: str = "") -> list[tuple[str, str, str]]:
    """The feeds' (type, title, address), for the pages' autodiscovery links; with
    ``language`` (a page in it, such as a story's), that language's feeds too."""
    site = settings.site_url
    title = settings.site_title
    found = [
        ("application/rss+xml", f"{title} (RSS)", f"{site}/feed.xml"),
        ("application/atom+xml", f"{title} (Atom)", f"{site}/atom.xml"),
        ("application/feed+json", f"{title} (JSON Feed)", f"{site}/feed.json"),
    ]
    if language:
        name = f"{title}: {language_name(language)}"
        base = f"{site}/languages/{quote(language, safe='-')}"
        found += [
            ("application/rss+xml", f"{name} (RSS)", f"{base}/feed.xml"),
            ("application/atom+xml", f"{name} (Atom)", f"{base}/atom.xml"),
            ("application/feed+json", f"{name} (JSON Feed)", f"{base}/feed.json"),
        ]
    return found


router = APIRouter()


@router.get("/feed.xsl", include_in_schema=False)
def stylesheet() -> FileResponse:
    """The stylesheet that the feeds' browser page names."""
    return FileResponse(feeds.STYLESHEET_FILE, media_type="text/xsl")


class FeedRoutes:
    """Serves every feed path straight from the feed cache, as plain ASGI: this is the hot path
    of the site, so no router, no thread hop and no per-request header building sit in it.
    Anything else goes on to the app."""

    def __init__(self, app: ASGIApp, *, cache: feeds.FeedCache, settings: Settings) -> None:
        self.app = app
        self.cache = cache
        self.settings = settings
        self._headers: dict[tuple[str, str], list[tuple[bytes, bytes]]] = {}
        self._pages: dict[tuple[str, str], FeedDocument] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"].lstrip("/") if scope["type"] == "http" else ""
        if scope["type"] != "http" or not path.endswith(FEED_SUFFIXES):
            await self.app(scope, receive, send)
            return
        feed_set = self.cache.peek()
        if feed_set is None:
            feed_set = await run_in_threadpool(self.cache.current)
        doc = feed_set.documents.get(path)
        if doc is None or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        request = dict(scope["headers"])
        if _navigating(request) and b"xml" in doc.media_type.encode():
            doc = await self._page(path, doc)
        headers = self._common_headers(path, doc)
        gzipped = _wants_gzip(request.get(b"accept-encoding", b""))
        matched = _not_modified(doc, request, gzipped=gzipped)
        if matched is not None:
            headers = [*headers, (b"etag", matched)]
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        media_type = doc.media_type
        # Browsers download application/rss+xml; as text/xml they apply feed.xsl: a page
        # (for browsers that do not say they are navigating, and still run XSLT).
        if b"xml" in media_type.encode() and b"text/html" in request.get(b"accept", b""):
            media_type = "text/xml; charset=utf-8"
        body = doc.body
        extra = [(b"content-type", media_type.encode()), (b"etag", doc.etag.encode())]
        if gzipped:
            body = doc.gzipped
            extra = [extra[0], (b"etag", doc.gzip_etag.encode()), (b"content-encoding", b"gzip")]
        extra.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers + extra})
        await send(
            {"type": "http.response.body", "body": body if scope["method"] == "GET" else b""}
        )

    async def _page(self, path: str, doc: FeedDocument) -> FeedDocument:
        """The feed as an HTML page (feed.xsl applied here, once per build of the feed):
        browsers are dropping XSLT, and a reader who opens a feed should see stories."""
        found = self._pages.get((path, doc.etag))
        if found is None:
            html = await run_in_threadpool(browser_page, doc.body, feeds.STYLESHEET_FILE)
            found = FeedDocument(html, "text/html; charset=utf-8", doc.last_modified)
            if len(self._pages) >= MAX_PAGES:
                self._pages.pop(next(iter(self._pages)))  # the oldest
            self._pages[(path, doc.etag)] = found
        return found

    def _common_headers(self, path: str, doc: FeedDocument) -> list[tuple[bytes, bytes]]:
        found = self._headers.get((path, doc.etag))
        if found is None:
            links = [f'<{self.settings.site_url}/{path}>; rel="self"']
            if self.settings.websub_hub:
                links.insert(0, f'<{self.settings.websub_hub}>; rel="hub"')
            found = [
                (b"last-modified", http_date(doc.last_modified).encode()),
                (b"cache-control", f"public, max-age={FEED_MAX_AGE}".encode()),
                (b"vary", b"Accept-Encoding, Accept, Sec-Fetch-Mode, Sec-Fetch-Dest"),
                (b"link", ", ".join(links).encode()),
            ]
            if doc.media_type.startswith("text/html"):
                # The feed's page: its policy on the 304s too, which the guard leaves bare.
                found.append(SECURITY_HEADERS[0])
            if len(self._headers) > 1000:
                self._headers.clear()
            self._headers[(path, doc.etag)] = found
        return found


def _navigating(request: dict[bytes, bytes]) -> bool:
    """A browser opening the address as a page (Fetch Metadata), not a reader or a script."""
    return (
        request.get(b"sec-fetch-mode") == b"navigate"
        and request.get(b"sec-fetch-dest", b"document") == b"document"
    )


def _not_modified(doc: FeedDocument, request: dict[bytes, bytes], *, gzipped: bool) -> bytes | None:
    """The ETag to answer a 304 with, or None for a 200. RFC 9110 13.1: If-None-Match (weak
    comparison) wins over If-Modified-Since when both are sent. A cache holding either
    representation (identity or gzip) gets a 304 naming the one it holds (RFC 9111 4.3.4);
    when it holds both, the one this request would get."""
    selected, other = (doc.gzip_etag, doc.etag) if gzipped else (doc.etag, doc.gzip_etag)
    if_none_match = request.get(b"if-none-match")
    if if_none_match is not None:
        tags = {tag.strip().removeprefix(b"W/") for tag in if_none_match.split(b",")}
        if b"*" in tags or selected.encode() in tags:
            return selected.encode()
        return other.encode() if other.encode() in tags else None
    if_modified_since = request.get(b"if-modified-since")
    if if_modified_since:
        try:
            since = parsedate_to_datetime(if_modified_since.decode("latin-1"))
        except (TypeError, ValueError):
            return None
        if since.tzinfo is not None and doc.last_modified.replace(microsecond=0) <= since:
            return selected.encode()
    return None


def _wants_gzip(accept_encoding: bytes) -> bool:
    for part in accept_encoding.split(b","):
        coding, _, params = part.strip().partition(b";")
        if coding.strip().lower() in (b"gzip", b"*"):
            return params.replace(b" ", b"") not in (b"q=0", b"q=0.0", b"q=0.00", b"q=0.000")
    return False
