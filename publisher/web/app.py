"""The HTTP app, assembled: the static files, one router per area, the middleware and the
lifespan. Each area's routes live in their own module."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from publisher.schedules import Timetable, load_timetable
from publisher.settings import Settings
from publisher.syndication.feeds import FeedBuilder, FeedCache, send_pings
from publisher.templating import TEMPLATES, make_environment
from publisher.web import (
    admin,
    api,
    archive,
    clicks,
    errors,
    health,
    reader,
    reports,
    subscriptions,
    websub_callback,
)
from publisher.web import feeds as feeds_routes
from publisher.web.application import Application, DaemonHooks
from publisher.web.courier import Courier
from publisher.web.feeds import FeedRoutes
from publisher.web.guards import DOCS_PATH, CrossSiteGuard, SecurityHeaders, SiteHost, proxy_hosts
from publisher.web.limits import BodyLimit
from publisher.web.pages import Clock, Context

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
    feeds: FeedCache | None = None,
    send_mail_now: bool = False,
) -> FastAPI:
    """The web app over ``engine``; ``clock`` is the only source of "now". Every
    ``feed_upkeep_every`` seconds (None: never) feeds are refreshed if articles changed and
    owed WebSub notifications are sent. With ``send_mail_now``, the mail a sign-up queues is
    sent straight after the answer too (else only the daemon's outbox worker sends it)."""
    env = make_environment(zone=settings.zone)
    ctx = Context.of(settings, engine, clock, env, timetable or load_timetable(settings.schedules))
    cache = feeds or FeedCache(
        engine, FeedBuilder(settings, env), clock, export_dir=settings.feeds_export_dir
    )
    api_on = settings.api_token is not None
    # The API's description only where there is an API (issue 16), with Swagger UI served
    # from /static (vendored and pinned), never from a CDN.
    app = FastAPI(
        title=settings.site_title,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json" if api_on else None,
        lifespan=_upkeep(ctx, cache, feed_upkeep_every),
        exception_handlers=errors.handlers(ctx),
    )
    app.mount("/static", StaticFiles(directory=TEMPLATES / "static"), name="static")
    app.state.feeds = cache
    app.state.application = Application(
        settings,
        engine,
        clock,
        env,
        ctx.signer,
        ctx.timetable,
        cache,
        DaemonHooks(status, counters, mail_status),
        send_mail_now,
    )
    app.include_router(reader.router(ctx))
    app.include_router(
        subscriptions.router(ctx, Courier(engine, settings, clock, enabled=send_mail_now))
    )
    app.include_router(reports.router(ctx))
    app.include_router(archive.router(ctx))
    app.include_router(clicks.router(ctx))  # /r/{token}: tracked links in digests
    app.include_router(feeds_routes.router())
    app.include_router(websub_callback.router(ctx))
    app.include_router(
        health.router(
            engine,
            ctx.timetable,
            clock,
            cache,
            status=status,
            counters=counters,
            mail_status=mail_status,
        )
    )
    # Always there: a newsroom session may use it with no API token (api.Gate decides);
    # its Swagger UI page only with a token.
    app.include_router(_api(ctx, docs=api_on))
    # the newsroom (web/admin/)
    app.include_router(
        admin.router(
            admin.Newsroom(settings, engine, clock, env, ctx.signer, ctx.timetable, mail_status)
        )
    )
    admin.install(app, settings)
    _add_middleware(app, settings, cache, admin.api_session(engine, settings, clock))
    return app


def _api(ctx: Context, *, docs: bool) -> APIRouter:
    """The admin API under /api/ and (``docs``) its Swagger UI page."""
    routes = APIRouter()
    routes.include_router(api.router(ctx.settings, ctx.engine, ctx.timetable, ctx.clock))
    if not docs:
        return routes

    @routes.get(DOCS_PATH, include_in_schema=False)
    def swagger() -> FileResponse:
        return FileResponse(TEMPLATES / "static" / "swagger-ui" / "index.html")

    return routes


def _add_middleware(
    app: FastAPI,
    settings: Settings,
    cache: FeedCache,
    newsroom: api.SessionCaller,
) -> None:
    # Outermost last: headers on every answer; the real client; the API's token and every
    # body's size before anything reads a body; then the cross-site guard and the feeds.
    app.add_middleware(FeedRoutes, cache=cache, settings=settings)
    app.add_middleware(CrossSiteGuard, settings=settings)
    app.add_middleware(
        BodyLimit,
        default=settings.max_body_bytes,
        larger={
            api.IMPORT_PATH: settings.max_import_bytes,
            admin.IMPORT_PATH: settings.max_import_bytes,
        },
        idle=settings.http_body_timeout,
    )
    app.add_middleware(api.Gate, settings=settings, session=newsroom)
    app.add_middleware(SiteHost, settings=settings)
    if settings.proxy_networks:
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=proxy_hosts(settings))
    app.add_middleware(SecurityHeaders)


def _upkeep(
    ctx: Context, cache: FeedCache, every: float | None
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """The lifespan: every ``every`` seconds (None: never) the feeds are refreshed if articles
    changed, and owed WebSub notifications are sent."""

    def upkeep() -> None:
        cache.current()
        send_pings(ctx.engine, ctx.settings, now=ctx.clock())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        task = None
        if every is not None:
            task = asyncio.create_task(_every(every, upkeep))
        yield
        if task is not None:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task

    return lifespan


async def _every(seconds: float, job: Callable[[], None]) -> None:
    """Run ``job`` in a worker thread every ``seconds``; a failure is logged, never lost."""
    while True:
        try:
            await run_in_threadpool(job)
        except Exception:
            log.exception("background job %s failed; trying again in %s s", job.__name__, seconds)
        await asyncio.sleep(seconds)
