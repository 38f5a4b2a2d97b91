"""The HTTP app: pages for readers. Each route parses, calls one use case, renders."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from publisher import publish, store, syndication
from publisher.content import slugify
from publisher.errors import NotFoundError, PublisherError
from publisher.feeds import FeedDocument, http_date
from publisher.settings import Settings
from publisher.templating import TEMPLATES, make_environment

Clock = Callable[[], datetime]
log = logging.getLogger(__name__)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def create_app(
    settings: Settings,
    engine: Engine,
    *,
    clock: Clock = _utcnow,
    feed_upkeep_every: float | None = 10.0,
) -> FastAPI:
    """The web app over ``engine``; ``clock`` is the only source of "now". Every
    ``feed_upkeep_every`` seconds (None: never) feeds are refreshed if articles changed and
    owed WebSub notifications are sent."""
    env = make_environment()
    cache = syndication.FeedCache(engine, syndication.FeedBuilder(settings, env), clock)

    def upkeep() -> None:
        cache.current()
        syndication.send_pings(engine, settings, now=clock())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        task = None
        if feed_upkeep_every is not None:
            task = asyncio.create_task(_every(feed_upkeep_every, upkeep))
        yield
        if task is not None:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task

    app = FastAPI(title=settings.site_title, docs_url="/docs", redoc_url=None, lifespan=lifespan)
    app.mount("/static", StaticFiles(directory=TEMPLATES / "static"), name="static")
    app.state.feeds = cache
    discovery = _discovery(settings)

    def page(name: str, status: int = 200, **values: Any) -> HTMLResponse:
        values.setdefault("feed_links", discovery)
        html = env.get_template(f"pages/{name}").render(settings=settings, **values)
        return HTMLResponse(html, status_code=status)

    @app.exception_handler(PublisherError)
    async def _publisher_error(request: Request, exc: PublisherError) -> Response:
        return page("error.html", exc.http_status, message=exc.message)

    @app.get("/", response_class=HTMLResponse)
    def index() -> HTMLResponse:
        articles = publish.latest(engine, settings, now=clock())
        return page("index.html", articles=articles)

    @app.get("/articles/{slug}", response_class=HTMLResponse)
    def article(slug: str) -> HTMLResponse:
        view = publish.article(engine, slug, now=clock())
        categories = [(slugify(name), name) for name in view.categories]
        return page("article.html", view=view, article=view.article, categories=categories)

    def feed(path: str, request: Request) -> Response:
        doc = cache.document(path)
        if doc is None:
            raise NotFoundError("no such feed")
        return _feed_response(doc, request, settings, f"{settings.site_url}/{path}")

    @app.get("/feed.xml", include_in_schema=False)
    def rss(request: Request) -> Response:
        return feed("feed.xml", request)

    @app.get("/atom.xml", include_in_schema=False)
    def atom(request: Request) -> Response:
        return feed("atom.xml", request)

    @app.get("/feed.json", include_in_schema=False)
    def json_feed(request: Request) -> Response:
        return feed("feed.json", request)

    @app.get("/categories/{slug}/{name}", include_in_schema=False)
    def category_feed(slug: str, name: str, request: Request) -> Response:
        if name not in FEED_NAMES:
            raise NotFoundError("no such feed")
        return feed(f"categories/{slug}/{name}", request)

    @app.get("/feed.xsl", include_in_schema=False)
    def stylesheet() -> FileResponse:
        return FileResponse(syndication.STYLESHEET_FILE, media_type="text/xsl")

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        try:
            store.ping(engine)
        except PublisherError as exc:
            return JSONResponse({"status": "error", "database": exc.message}, status_code=503)
        return JSONResponse({"status": "ok", "database": "ok"})

    return app


async def _every(seconds: float, job: Callable[[], None]) -> None:
    """Run ``job`` in a worker thread every ``seconds``; a failure is logged, never lost."""
    while True:
        try:
            await run_in_threadpool(job)
        except Exception:
            log.exception("background job %s failed; trying again in %s s", job.__name__, seconds)
        await asyncio.sleep(seconds)


FEED_NAMES = {"feed.xml", "atom.xml", "feed.json"}
FEED_MAX_AGE = 300


def _discovery(settings: Settings) -> list[tuple[str, str, str]]:
    site = settings.site_url
    return [
        ("application/rss+xml", f"{settings.site_title} (RSS)", f"{site}/feed.xml"),
        ("application/atom+xml", f"{settings.site_title} (Atom)", f"{site}/atom.xml"),
        ("application/feed+json", f"{settings.site_title} (JSON Feed)", f"{site}/feed.json"),
    ]


def _not_modified(doc: FeedDocument, request: Request) -> bool:
    """RFC 9110 13.1: If-None-Match wins over If-Modified-Since when both are sent."""
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or doc.etag in tags
    if_modified_since = request.headers.get("if-modified-since")
    if if_modified_since:
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
        return since.tzinfo is not None and doc.last_modified.replace(microsecond=0) <= since
    return False


def _wants_gzip(request: Request) -> bool:
    for part in request.headers.get("accept-encoding", "").split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() in ("gzip", "*"):
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def _feed_response(
    doc: FeedDocument, request: Request, settings: Settings, self_url: str
) -> Response:
    headers = {
        "ETag": doc.etag,
        "Last-Modified": http_date(doc.last_modified),
        "Cache-Control": f"public, max-age={FEED_MAX_AGE}",
        "Vary": "Accept-Encoding, Accept",
    }
    links = [f'<{self_url}>; rel="self"']
    if settings.websub_hub:
        links.insert(0, f'<{settings.websub_hub}>; rel="hub"')
    headers["Link"] = ", ".join(links)
    if _not_modified(doc, request):
        return Response(status_code=304, headers=headers)
    media_type = doc.media_type
    # Browsers download application/rss+xml; as text/xml they apply feed.xsl and show a page.
    if "xml" in media_type and "text/html" in request.headers.get("accept", ""):
        media_type = "text/xml; charset=utf-8"
    if _wants_gzip(request):
        headers["Content-Encoding"] = "gzip"
        return Response(doc.gzipped, headers=headers, media_type=media_type)
    return Response(doc.body, headers=headers, media_type=media_type)


class _Server(uvicorn.Server):
    """uvicorn re-raises SIGTERM after a graceful stop, so the process would die of the
    signal; ops (and systemd) expect a clean exit 0 after a clean shutdown."""

    def handle_exit(self, sig: int, frame: Any) -> None:
        super().handle_exit(sig, frame)
        self._captured_signals.clear()


def serve(app: FastAPI, *, host: str, port: int) -> None:
    """Serve ``app`` until SIGTERM or SIGINT, then return normally."""
    config = uvicorn.Config(app, host=host, port=port, log_level="info", proxy_headers=True)
    _Server(config).run()
