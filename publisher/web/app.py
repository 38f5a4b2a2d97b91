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
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
)
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from publisher import api, community, editions, metrics, outbox, publish, store, syndication
from publisher.content import slugify
from publisher.errors import InputError, PublisherError
from publisher.schedules import Timetable, load_timetable
from publisher.settings import Settings
from publisher.templating import TEMPLATES, make_environment
from publisher.tokens import Signer, TokenError
from publisher.web import admin
from publisher.web.feedroutes import FeedRoutes, discovery_links
from publisher.web.guards import (
    DOCS_PATH,
    ClientLimit,
    CrossSiteGuard,
    SecurityHeaders,
    SiteHost,
    proxy_hosts,
)
from publisher.web.limits import BodyLimit, BodyRefused

Clock = Callable[[], datetime]
MEMBER_COOKIE = "member"
log = logging.getLogger(__name__)

UNAVAILABLE = "We could not do that just now; please try again in a few minutes."
# Reader forms have a handful of short fields and never a file (Starlette's own defaults are
# 1,000 fields and files of any number); PUBLISHER_MAX_BODY_BYTES caps the whole body.
FORM_LIMITS: dict[str, Any] = {"max_files": 0, "max_fields": 300, "max_part_size": 256 * 1024}


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
    send_mail_now: bool = False,
) -> FastAPI:
    """The web app over ``engine``; ``clock`` is the only source of "now". Every
    ``feed_upkeep_every`` seconds (None: never) feeds are refreshed if articles changed and
    owed WebSub notifications are sent. With ``send_mail_now``, the mail a sign-up queues is
    sent straight after the answer too (else only the daemon's outbox worker sends it)."""
    env = make_environment(zone=settings.zone)
    timetable = timetable or load_timetable(settings.schedules)
    signer = Signer.of(settings.secret_key)
    limiter = ClientLimit(per_window=10, window=600.0)
    report_limiter = ClientLimit(per_window=10, window=600.0)  # reports are stored: bound them

    cache = feeds or syndication.FeedCache(
        engine,
        syndication.FeedBuilder(settings, env),
        clock,
        export_dir=settings.feeds_export_dir,
    )

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

    api_on = settings.api_token is not None
    # The API's description only where there is an API (issue 16), with Swagger UI served
    # from /static (vendored and pinned), never from a CDN.
    app = FastAPI(
        title=settings.site_title,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json" if api_on else None,
        lifespan=lifespan,
    )
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
        log.info("%s %r: the client disconnected", request.method, request.url.path)
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
        if isinstance(exc, BodyRefused) or 400 <= exc.status_code < 500:
            # A form too big or too long, a method not allowed: said on a page like the rest.
            headers = getattr(exc, "headers", None) or {}
            answer = page("error.html", http_status=exc.status_code, message=f"Sorry: {exc.detail}")
            answer.headers.update(headers)
            return answer
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)

    @app.exception_handler(PublisherError)
    async def _publisher_error(request: Request, exc: PublisherError) -> Response:
        message, details = exc.message, exc.details
        if exc.http_status >= 500:
            # A server-side failure: its message names internals (the database's URL, the
            # mail server's host and reply), which go to the log, never to a visitor.
            log.warning("%s %r: %s", request.method, request.url.path, "; ".join(exc.lines()))
            message, details = UNAVAILABLE, []
        if request.url.path.startswith("/api/"):
            return JSONResponse(
                {"detail": message, "problems": details}, status_code=exc.http_status
            )
        return page("error.html", http_status=exc.http_status, message=message)

    signup_form: dict[str, Any] = {
        "error": "",
        "email": "",
        "name": "",
        "digests": list(timetable.digests.items()),
    }

    def signup_values() -> dict[str, Any]:
        return {
            **signup_form,
            "topics": community.categories(engine, now=clock()),
            "chosen_topics": (),
        }

    @app.get("/", response_class=HTMLResponse)
    def index() -> HTMLResponse:
        articles = publish.latest(engine, settings, now=clock())
        return page("index.html", articles=articles, **signup_values())

    @app.get("/subscribe", response_class=HTMLResponse)
    def subscribe_page() -> HTMLResponse:
        return page("subscribe.html", done=False, **signup_values())

    @app.post("/subscribe", response_class=HTMLResponse)
    async def subscribe(request: Request) -> HTMLResponse:
        form = await request.form(**FORM_LIMITS)
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
            # Queued, not sent: the answer waits on no mail server and tells nothing.
            await run_in_threadpool(
                community.signup,
                engine,
                settings,
                signer,
                env,
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
        send_soon()
        return page("subscribe.html", done=True, **values)

    @app.get("/confirm/{token}", response_class=HTMLResponse)
    def confirm_page(token: str) -> HTMLResponse:
        # GET only shows a button: link scanners follow GET links in mail (DESIGN.md).
        view = community.member(engine, signer, "confirm", token, now=clock())
        return page(
            "confirm.html",
            done=view.used and view.subscriber.status == "confirmed",
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
        return f"/preferences/{community.preferences_token(signer, view, now=clock())}"

    access_limiter = ClientLimit(per_window=10, window=600.0)
    sending: set[asyncio.Task[Any]] = set()

    def send_soon() -> None:
        """Send the outbox now, after and apart from the answer (which never waits on the
        mail server); done after every sign-up or link request, mail queued or not, so that
        not even what follows the answer tells who is a member. The daemon's outbox worker
        sends whatever this misses."""
        if not send_mail_now:
            return
        task = asyncio.create_task(
            run_in_threadpool(outbox.send_due, engine, settings, now=clock())
        )
        sending.add(task)
        task.add_done_callback(_sent)

    def _sent(task: asyncio.Task[Any]) -> None:
        sending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("outbox: sending failed (the daemon tries again): %s", task.exception())

    @app.get("/subscription", response_class=HTMLResponse)
    def subscription_page() -> HTMLResponse:
        return page("subscription.html", done=False, email="", error="")

    @app.post("/subscription", response_class=HTMLResponse)
    async def subscription(request: Request) -> HTMLResponse:
        form = await request.form()
        email = str(form.get("email", ""))
        if not access_limiter.allow(
            request.client.host if request.client else "?", time.monotonic()
        ):
            return page(
                "subscription.html",
                http_status=429,
                done=False,
                email=email,
                error="Too many requests from here; please try again later.",
            )
        if form.get("website"):  # the honeypot: people never see it
            return page("subscription.html", done=True, email=email, error="")
        try:
            # Queued, not sent: the same work and the same answer for members and strangers.
            await run_in_threadpool(
                community.request_access, engine, settings, signer, env, email, now=clock()
            )
        except InputError as exc:
            return page(
                "subscription.html", http_status=400, done=False, email=email, error=exc.message
            )
        send_soon()
        return page("subscription.html", done=True, email=email, error="")

    @app.get("/subscription/{token}", response_class=HTMLResponse)
    def subscription_link(token: str) -> HTMLResponse:
        # A GET only shows a button: link scanners follow GET links in mail and would use
        # up a link that works once.
        view = community.member(engine, signer, "access", token, now=clock())
        if view.used:
            raise TokenError("this link has been used already: ask for a new one at /subscription")
        return page("subscription_open.html", email=view.subscriber.email)

    @app.post("/subscription/{token}")
    def subscription_open(token: str) -> Response:
        preferences = community.open_access(engine, signer, token, now=clock())
        return RedirectResponse(f"/preferences/{preferences}", status_code=303)

    @app.post("/preferences/{token}/sign-out", response_class=HTMLResponse)
    def sign_out(token: str) -> HTMLResponse:
        email = community.sign_out_everywhere(engine, signer, token, now=clock())
        return page("signed_out.html", email=email)

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

    preferences_url_of = preferences_url

    def unsubscribe_view(view: community.SubscriberView, *, done: bool) -> HTMLResponse:
        preferences_url = preferences_url_of(view)
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
        return preferences_view(view, token, saved=False)

    @app.post("/preferences/{token}", response_class=HTMLResponse)
    async def preferences(token: str, request: Request) -> HTMLResponse:
        form = await request.form(**FORM_LIMITS)
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
            return preferences_view(view, token, saved=False, error=exc.message, http_status=400)
        return preferences_view(view, token, saved=True)

    def preferences_view(
        view: community.SubscriberView,
        token: str,
        *,
        saved: bool,
        error: str = "",
        http_status: int = 200,
    ) -> HTMLResponse:
        response = page(
            "preferences.html",
            http_status=http_status,
            email=view.subscriber.email,
            status=view.subscriber.status,
            chosen=view.digests,
            digests=list(timetable.digests.items()),
            topics=community.categories(engine, view.categories, now=clock()),
            chosen_topics=view.categories,
            saved=saved,
            error=error,
            sign_out_url=f"/preferences/{token}/sign-out",
        )
        return remember_member(response, view)

    @app.get("/report", response_class=HTMLResponse)
    def report_form(article: str = "") -> HTMLResponse:
        view = publish.article(engine, article, now=clock())
        return page("report.html", article=view.article, done=False, error="", message="", email="")

    @app.post("/report", response_class=HTMLResponse)
    async def report(request: Request) -> HTMLResponse:
        form = await request.form(**FORM_LIMITS)
        slug, message, email = (str(form.get(k, "")) for k in ("article", "message", "email"))
        view = await run_in_threadpool(publish.article, engine, slug, now=clock())
        if not report_limiter.allow(
            request.client.host if request.client else "?", time.monotonic()
        ):
            return page(
                "report.html",
                http_status=429,
                article=view.article,
                done=False,
                error="Too many reports from here; please try again later.",
                message=message,
                email=email,
            )
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
            log.warning("/healthz: %s", exc.message)  # the URL and reason: for ops, in the log
            body.update(status="error", database="unavailable")
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

    if api_on:
        app.include_router(api.router(settings, engine, timetable, clock))

        @app.get(DOCS_PATH, include_in_schema=False)
        def docs() -> FileResponse:
            return FileResponse(TEMPLATES / "static" / "swagger-ui" / "index.html")

    # the newsroom (web/admin/)
    app.include_router(
        admin.router(admin.Newsroom(settings, engine, clock, env, signer, timetable, mail_status))
    )
    admin.install(app, settings)

    # Outermost last: headers on every answer; the real client; the API's token and every
    # body's size before anything reads a body; then the cross-site guard and the feeds.
    app.add_middleware(FeedRoutes, cache=cache, settings=settings)
    app.add_middleware(CrossSiteGuard, settings=settings)
    app.add_middleware(
        BodyLimit,
        default=settings.max_body_bytes,
        larger={api.IMPORT_PATH: settings.max_import_bytes},
        idle=settings.http_body_timeout,
    )
    app.add_middleware(api.Gate, settings=settings)
    app.add_middleware(SiteHost, settings=settings)
    if settings.proxy_networks:
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=proxy_hosts(settings))
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
