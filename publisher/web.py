"""The HTTP app: pages for readers. Each route parses, calls one use case, renders."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

import uvicorn
from fastapi import FastAPI, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from publisher import api, community, editions, metrics, publish, store, syndication
from publisher.content import slugify
from publisher.errors import InputError, PublisherError
from publisher.feeds import FeedDocument, http_date
from publisher.mailer import Transport, make_transport
from publisher.schedules import Timetable, load_timetable
from publisher.settings import Settings
from publisher.templating import TEMPLATES, make_environment
from publisher.tokens import Signer

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
    timetable: Timetable | None = None,
    status: Callable[[], dict[str, Any]] | None = None,
    counters: Callable[[], dict[str, int]] | None = None,
    feeds: syndication.FeedCache | None = None,
) -> FastAPI:
    """The web app over ``engine``; ``clock`` is the only source of "now". Every
    ``feed_upkeep_every`` seconds (None: never) feeds are refreshed if articles changed and
    owed WebSub notifications are sent."""
    env = make_environment(zone=settings.zone)
    timetable = timetable or load_timetable(settings.schedules)
    signer = Signer(settings.secret_key.get_secret_value() if settings.secret_key else "")
    limiter = ClientLimit(per_window=10, window=600.0)
    smtp_url = settings.smtp_url.get_secret_value() if settings.smtp_url else None

    def mail_transport() -> Transport:
        return make_transport(smtp_url, settings.var_dir / "mail")

    cache = feeds or syndication.FeedCache(engine, syndication.FeedBuilder(settings, env), clock)

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

    def page(template: str, /, *, http_status: int = 200, **values: Any) -> HTMLResponse:
        values.setdefault("feed_links", discovery)
        html = env.get_template(f"pages/{template}").render(settings=settings, **values)
        return HTMLResponse(html, status_code=http_status)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse(
                {"detail": exc.detail},
                status_code=exc.status_code,
                headers=getattr(exc, "headers", None),
            )
        if exc.status_code == 404:
            return page("error.html", http_status=404, message="There is no page at this address.")
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)

    @app.exception_handler(PublisherError)
    async def _publisher_error(request: Request, exc: PublisherError) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse(
                {"detail": exc.message, "problems": exc.details}, status_code=exc.http_status
            )
        return page("error.html", http_status=exc.http_status, message=exc.message)

    signup_form: dict[str, Any] = {
        "error": "",
        "email": "",
        "name": "",
        "digests": list(timetable.digests.items()),
    }

    def signup_values() -> dict[str, Any]:
        return {**signup_form, "topics": community.categories(engine), "chosen_topics": ()}

    @app.get("/", response_class=HTMLResponse)
    def index() -> HTMLResponse:
        articles = publish.latest(engine, settings, now=clock())
        return page("index.html", articles=articles, **signup_values())

    @app.get("/subscribe", response_class=HTMLResponse)
    def subscribe_page() -> HTMLResponse:
        return page("subscribe.html", done=False, **signup_values())

    @app.post("/subscribe", response_class=HTMLResponse)
    async def subscribe(request: Request) -> HTMLResponse:
        form = await request.form()
        email, name = str(form.get("email", "")), str(form.get("name", ""))
        topics = [str(value) for value in form.getlist("category")]
        values: dict[str, Any] = {
            **(await run_in_threadpool(signup_values)),
            "email": email,
            "name": name,
            "chosen_topics": topics,
        }
        if not limiter.allow(request.client.host if request.client else "?", time.monotonic()):
            values["error"] = "Too many sign-ups from here; please try again later."
            return page("subscribe.html", http_status=429, done=False, **values)
        if form.get("website"):  # the honeypot: people never see it
            return page("subscribe.html", done=True, **values)
        try:
            await run_in_threadpool(
                community.signup,
                engine,
                settings,
                signer,
                env,
                mail_transport(),
                email,
                name=name,
                digests=[str(d) for d in form.getlist("digest")],
                known_digests=list(timetable.digests),
                categories=topics,
                now=clock(),
            )
        except InputError as exc:
            return page(
                "subscribe.html", http_status=400, done=False, **{**values, "error": exc.message}
            )
        return page("subscribe.html", done=True, **values)

    @app.get("/confirm/{token}", response_class=HTMLResponse)
    def confirm_page(token: str) -> HTMLResponse:
        # GET only shows a button: link scanners follow GET links in mail (DESIGN.md).
        view = community.member(engine, signer, "confirm", token, now=clock())
        return page(
            "confirm.html",
            done=view.subscriber.status == "confirmed",
            email=view.subscriber.email,
            preferences_url=preferences_url(view),
        )

    @app.post("/confirm/{token}", response_class=HTMLResponse)
    def confirm(token: str) -> HTMLResponse:
        view = community.confirm(engine, signer, token, now=clock())
        return page(
            "confirm.html",
            done=True,
            email=view.subscriber.email,
            preferences_url=preferences_url(view),
        )

    def preferences_url(view: community.SubscriberView) -> str:
        return f"/preferences/{signer.make('preferences', view.subscriber.id or 0)}"

    @app.get("/articles/{slug}", response_class=HTMLResponse)
    def article(slug: str) -> HTMLResponse:
        view = publish.article(engine, slug, now=clock())
        categories = [(slugify(name), name) for name in view.categories]
        return page("article.html", view=view, article=view.article, categories=categories)

    def unsubscribe_view(view: community.SubscriberView, *, done: bool) -> HTMLResponse:
        preferences_url = f"/preferences/{signer.make('preferences', view.subscriber.id or 0)}"
        return page(
            "unsubscribe.html",
            done=done,
            email=view.subscriber.email,
            preferences_url=preferences_url,
        )

    @app.get("/unsubscribe/{token}", response_class=HTMLResponse)
    def unsubscribe_page(token: str) -> HTMLResponse:
        # A GET only shows a button: link scanners follow GET links in mail (DESIGN.md).
        view = community.member(engine, signer, "unsubscribe", token, now=clock())
        return unsubscribe_view(view, done=view.subscriber.status == "unsubscribed")

    @app.post("/unsubscribe/{token}", response_class=HTMLResponse)
    def unsubscribe(token: str) -> HTMLResponse:
        # RFC 8058 one-click: a POST with List-Unsubscribe=One-Click, no cookie, no login, no
        # redirect. The page's own button posts here too; either body unsubscribes.
        view = community.unsubscribe(engine, signer, token, now=clock())
        return unsubscribe_view(view, done=True)

    @app.get("/preferences/{token}", response_class=HTMLResponse)
    def preferences_page(token: str) -> HTMLResponse:
        view = community.member(engine, signer, "preferences", token, now=clock())
        return preferences_view(view, saved=False)

    @app.post("/preferences/{token}", response_class=HTMLResponse)
    async def preferences(token: str, request: Request) -> HTMLResponse:
        form = await request.form()
        digests = [str(value) for value in form.getlist("digest")]
        topics = [str(value) for value in form.getlist("category")]
        return await run_in_threadpool(save_preferences, token, digests, topics)

    def save_preferences(token: str, digests: list[str], topics: list[str]) -> HTMLResponse:
        try:
            view = community.set_preferences(
                engine,
                signer,
                token,
                digests,
                known_digests=list(timetable.digests),
                categories=topics,
                now=clock(),
            )
        except InputError as exc:  # a category that is not offered: nothing was changed
            view = community.member(engine, signer, "preferences", token, now=clock())
            return preferences_view(view, saved=False, error=exc.message, http_status=400)
        return preferences_view(view, saved=True)

    def preferences_view(
        view: community.SubscriberView, *, saved: bool, error: str = "", http_status: int = 200
    ) -> HTMLResponse:
        return page(
            "preferences.html",
            http_status=http_status,
            email=view.subscriber.email,
            status=view.subscriber.status,
            chosen=view.digests,
            digests=list(timetable.digests.items()),
            topics=community.categories(engine, view.categories),
            chosen_topics=view.categories,
            saved=saved,
            error=error,
        )

    @app.get("/report", response_class=HTMLResponse)
    def report_form(article: str = "") -> HTMLResponse:
        view = publish.article(engine, article, now=clock())
        return page("report.html", article=view.article, done=False, error="", message="", email="")

    @app.post("/report", response_class=HTMLResponse)
    async def report(request: Request) -> HTMLResponse:
        form = await request.form()
        slug, message, email = (str(form.get(k, "")) for k in ("article", "message", "email"))
        view = await run_in_threadpool(publish.article, engine, slug, now=clock())
        if form.get("website"):  # the honeypot: a person never sees this field
            return page("report.html", article=view.article, done=True)
        try:
            await run_in_threadpool(
                community.report_error, engine, slug, message, email, now=clock()
            )
        except InputError as exc:
            return page(
                "report.html",
                http_status=400,
                article=view.article,
                done=False,
                error=exc.message,
                message=message,
                email=email,
            )
        return page("report.html", article=view.article, done=True)

    @app.get("/digests/", response_class=HTMLResponse)
    def digest_archive() -> HTMLResponse:
        return page("digests.html", editions=editions.list_editions(engine, public_only=True))

    @app.get("/digests/{edition_id}", response_class=HTMLResponse)
    def digest_edition(edition_id: Annotated[int, PathParam(ge=1, le=api.MAX_ID)]) -> HTMLResponse:
        _edition, html = editions.archived(engine, settings, edition_id)
        return HTMLResponse(html)

    @app.get("/feed.xsl", include_in_schema=False)
    def stylesheet() -> FileResponse:
        return FileResponse(syndication.STYLESHEET_FILE, media_type="text/xsl")

    scrape = metrics.registry(
        engine, lambda: {**(counters() if counters else {}), "feed_builds": cache.builds}
    )

    @app.get("/metrics", include_in_schema=False)
    def prometheus() -> Response:
        return Response(metrics.render(scrape), media_type=metrics.CONTENT_TYPE)

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        """Database reachable, the timetable's clock running, each digest's next send."""
        body: dict[str, Any] = {"status": "ok", "database": "ok", "scheduler": "off"}
        try:
            store.ping(engine)
        except PublisherError as exc:
            body.update(status="error", database=exc.message)
        if status is not None:
            body.update(status())
            if body["scheduler"] != "running":
                body["status"] = "error"
        else:
            now = clock()
            body["digests"] = {
                name: {"next_send": next(iter(d.next_times(now, 1)), now).isoformat()}
                for name, d in timetable.digests.items()
            }
        return JSONResponse(body, status_code=200 if body["status"] == "ok" else 503)

    app.include_router(api.router(settings, engine, timetable, clock))
    app.add_middleware(FeedRoutes, cache=cache, settings=settings)
    app.add_middleware(CrossSiteGuard, settings=settings)
    app.add_middleware(SecurityHeaders)
    return app


async def _every(seconds: float, job: Callable[[], None]) -> None:
    """Run ``job`` in a worker thread every ``seconds``; a failure is logged, never lost."""
    while True:
        try:
            await run_in_threadpool(job)
        except Exception:
            log.exception("background job %s failed; trying again in %s s", job.__name__, seconds)
        await asyncio.sleep(seconds)


SECURITY_HEADERS = [
    # No script anywhere; inline styles for the archived digests (mail HTML is inlined).
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'none'; "
        b"style-src 'self' 'unsafe-inline'; img-src 'self' https: data:; frame-ancestors 'none'; "
        b"base-uri 'none'; form-action 'self'; object-src 'none'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    # Same-origin only: token URLs (/unsubscribe/..., /confirm/...) never leak to other sites.
    (b"referrer-policy", b"same-origin"),
]


class SecurityHeaders:
    """The headers above on every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                kind = dict(headers).get(b"content-type", b"")
                # A feed opened in a browser runs its XSLT stylesheet, which CSP counts as
                # script: feeds get every header but the policy.
                # /docs is Swagger UI, which runs script from its CDN.
                relaxed = b"xml" in kind or scope["path"] == "/docs"
                extra = SECURITY_HEADERS[1:] if relaxed else SECURITY_HEADERS
                message["headers"] = [*headers, *extra]
            await send(message)

        await self.app(scope, receive, with_headers)


class CrossSiteGuard:
    """Refuses form posts that a browser sends from another site (CSRF). Browsers say where a
    request comes from (Sec-Fetch-Site, Origin); clients without them are not browsers. The
    RFC 8058 one-click unsubscribe is exempt: mail providers post it from their own origin."""

    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.site_host = urlsplit(settings.site_url).netloc

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or scope["path"].startswith(("/unsubscribe/", "/api/"))
        ):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        fetch_site = headers.get(b"sec-fetch-site", b"").decode("latin-1")
        origin = headers.get(b"origin", b"").decode("latin-1")
        own = {self.site_host, headers.get(b"host", b"").decode("latin-1")}
        cross = fetch_site in ("cross-site", "same-site") or (
            origin not in ("", "null") and urlsplit(origin).netloc not in own
        )
        if not cross:
            await self.app(scope, receive, send)
            return
        response = HTMLResponse(
            "<!doctype html><title>Refused</title><p>This form was sent from another site, "
            "so it was not accepted. Please use the form on our own pages.</p>",
            status_code=403,
        )
        await response(scope, receive, send)


class ClientLimit:
    """At most ``per_window`` form posts per client address in ``window`` seconds."""

    def __init__(self, *, per_window: int, window: float) -> None:
        self.per_window = per_window
        self.window = window
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, client: str, now: float) -> bool:
        with self._lock:
            if len(self._seen) > 10_000:
                self._seen.clear()
            times = self._seen.setdefault(client, deque())
            while times and now - times[0] > self.window:
                times.popleft()
            if len(times) >= self.per_window:
                return False
            times.append(now)
            return True


FEED_SUFFIXES = ("feed.xml", "atom.xml", "feed.json")
FEED_MAX_AGE = 300


def _discovery(settings: Settings) -> list[tuple[str, str, str]]:
    site = settings.site_url
    return [
        ("application/rss+xml", f"{settings.site_title} (RSS)", f"{site}/feed.xml"),
        ("application/atom+xml", f"{settings.site_title} (Atom)", f"{site}/atom.xml"),
        ("application/feed+json", f"{settings.site_title} (JSON Feed)", f"{site}/feed.json"),
    ]


class FeedRoutes:
    """Serves every feed path straight from the feed cache, as plain ASGI: this is the hot path
    of the site, so no router, no thread hop and no per-request header building sit in it.
    Anything else goes on to the app."""

    def __init__(self, app: ASGIApp, *, cache: syndication.FeedCache, settings: Settings) -> None:
        self.app = app
        self.cache = cache
        self.settings = settings
        self._headers: dict[tuple[str, str], list[tuple[bytes, bytes]]] = {}

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
        headers = self._common_headers(path, doc)
        if _not_modified(doc, request):
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        media_type = doc.media_type
        # Browsers download application/rss+xml; as text/xml they apply feed.xsl: a page.
        if b"xml" in media_type.encode() and b"text/html" in request.get(b"accept", b""):
            media_type = "text/xml; charset=utf-8"
        body = doc.body
        extra = [(b"content-type", media_type.encode())]
        if _wants_gzip(request.get(b"accept-encoding", b"")):
            body = doc.gzipped
            extra.append((b"content-encoding", b"gzip"))
        extra.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers + extra})
        await send(
            {"type": "http.response.body", "body": body if scope["method"] == "GET" else b""}
        )

    def _common_headers(self, path: str, doc: FeedDocument) -> list[tuple[bytes, bytes]]:
        found = self._headers.get((path, doc.etag))
        if found is None:
            links = [f'<{self.settings.site_url}/{path}>; rel="self"']
            if self.settings.websub_hub:
                links.insert(0, f'<{self.settings.websub_hub}>; rel="hub"')
            found = [
                (b"etag", doc.etag.encode()),
                (b"last-modified", http_date(doc.last_modified).encode()),
                (b"cache-control", f"public, max-age={FEED_MAX_AGE}".encode()),
                (b"vary", b"Accept-Encoding, Accept"),
                (b"link", ", ".join(links).encode()),
            ]
            if len(self._headers) > 1000:
                self._headers.clear()
            self._headers[(path, doc.etag)] = found
        return found


def _not_modified(doc: FeedDocument, request: dict[bytes, bytes]) -> bool:
    """RFC 9110 13.1: If-None-Match wins over If-Modified-Since when both are sent."""
    if_none_match = request.get(b"if-none-match")
    if if_none_match is not None:
        tags = {tag.strip().removeprefix(b"W/") for tag in if_none_match.split(b",")}
        return b"*" in tags or doc.etag.encode() in tags
    if_modified_since = request.get(b"if-modified-since")
    if if_modified_since:
        try:
            since = parsedate_to_datetime(if_modified_since.decode("latin-1"))
        except (TypeError, ValueError):
            return False
        return since.tzinfo is not None and doc.last_modified.replace(microsecond=0) <= since
    return False


def _wants_gzip(accept_encoding: bytes) -> bool:
    for part in accept_encoding.split(b","):
        coding, _, params = part.strip().partition(b";")
        if coding.strip().lower() in (b"gzip", b"*"):
            return params.replace(b" ", b"") not in (b"q=0", b"q=0.0", b"q=0.00", b"q=0.000")
    return False


class _Server(uvicorn.Server):
    """uvicorn re-raises SIGTERM after a graceful stop, so the process would die of the
    signal; ops (and systemd) expect a clean exit 0 after a clean shutdown."""

    def handle_exit(self, sig: int, frame: Any) -> None:
        super().handle_exit(sig, frame)
        self._captured_signals.clear()


def serve(app: FastAPI, *, host: str, port: int, access_log: bool = False) -> None:
    """Serve ``app`` until SIGTERM or SIGINT, then return normally."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        access_log=access_log,
        proxy_headers=True,
        log_config=None,  # log through the process's handlers (text or JSON, see cli)
    )
    _Server(config).run()
