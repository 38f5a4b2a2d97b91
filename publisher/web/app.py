"""The HTTP app: pages for readers. Each route parses, calls one use case, renders."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import FastAPI, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from publisher import api, community, editions, metrics, publish, store, syndication
from publisher.content import slugify
from publisher.errors import InputError, PublisherError
from publisher.schedules import Timetable, load_timetable
from publisher.settings import Settings
from publisher.templating import TEMPLATES, make_environment
from publisher.tokens import Signer
from publisher.transports import Transport, make_transport
from publisher.web.feedroutes import FeedRoutes, discovery_links
from publisher.web.guards import ClientLimit, CrossSiteGuard, SecurityHeaders

Clock = Callable[[], datetime]
MEMBER_COOKIE = "member"
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
    mail_status: Callable[[], str] | None = None,
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
    discovery = discovery_links(settings)

    def page(template: str, /, *, http_status: int = 200, **values: Any) -> HTMLResponse:
        values.setdefault("feed_links", discovery)
        html = env.get_template(f"pages/{template}").render(settings=settings, **values)
        return HTMLResponse(html, status_code=http_status)

    @app.exception_handler(ClientDisconnect)
    async def _gone(request: Request, exc: ClientDisconnect) -> Response:
        # The client hung up while sending its form: nobody to answer, nothing was done.
        log.info("%s %s: the client disconnected", request.method, request.url.path)
        return Response(status_code=400)

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
        return remember_member(
            page(
                "confirm.html",
                done=True,
                email=view.subscriber.email,
                preferences_url=preferences_url(view),
            ),
            view,
        )

    def remember_member(response: HTMLResponse, view: community.SubscriberView) -> HTMLResponse:
        """Story pages leave the join form out for a browser that confirmed or opened its
        preferences. The cookie says only "a member reads here" (the same value for everyone,
        never who): it hides a form, and nothing depends on it for security."""
        if view.subscriber.status == "confirmed":
            response.set_cookie(
                MEMBER_COOKIE,
                "1",
                max_age=365 * 86400,
                httponly=True,
                samesite="lax",
                secure=settings.site_url.startswith("https:"),
            )
        else:
            response.delete_cookie(MEMBER_COOKIE)
        return response

    def preferences_url(view: community.SubscriberView) -> str:
        return f"/preferences/{signer.make('preferences', view.subscriber.id or 0)}"

    @app.get("/articles/{slug}", response_class=HTMLResponse)
    def article(slug: str, request: Request) -> HTMLResponse:
        view = publish.article(engine, slug, now=clock())
        categories = [(slugify(name), name) for name in view.categories]
        member = request.cookies.get(MEMBER_COOKIE) == "1"
        response = page(
            "article.html",
            view=view,
            article=view.article,
            categories=categories,
            studio=timetable.brand_studio,
            member=member,
            **({} if member else signup_values()),
        )
        response.headers["Vary"] = "Cookie"  # a member's page has no join form
        return response

    def unsubscribe_view(view: community.SubscriberView, *, done: bool) -> HTMLResponse:
        preferences_url = f"/preferences/{signer.make('preferences', view.subscriber.id or 0)}"
        response = page(
            "unsubscribe.html",
            done=done,
            email=view.subscriber.email,
            preferences_url=preferences_url,
        )
        return remember_member(response, view) if done else response

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
        response = page(
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
        return remember_member(response, view)

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
        if mail_status is not None:  # informative: the web side is still healthy
            body["smtp"] = mail_status()
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
