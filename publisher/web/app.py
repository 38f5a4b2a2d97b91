"""The HTTP app, assembled: the one :class:`~publisher.web.application.Application`, the static
files, each area's module-level router, the middleware and the lifespan. Each area's routes
live in their own module."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime
from functools import partial

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from publisher.schedules import Timetable
from publisher.settings import Settings
from publisher.syndication.feeds import FeedCache, send_pings
from publisher.templating import TEMPLATES
from publisher.web import (
    admin,
    api,
    api_look,
    api_sends,
    archive,
    clicks,
    crawlers,
    errors,
    health,
    icon,
    logos,
    media,
    reader,
    reports,
    search,
    sections,
    subscriptions,
    webhooks,
    websub_callback,
)
from publisher.web import feeds as feeds_routes
from publisher.web.application import Application, Clock, DaemonHooks
from publisher.web.feeds import FeedRoutes
from publisher.web.guards import CrossSiteGuard, SecurityHeaders, SiteHost, proxy_hosts
from publisher.web.head import HeadAsGet
from publisher.web.limits import BodyLimit
from publisher.web.pages import ReaderLanguage

__all__ = ["create_app", "upkeep"]

log = logging.getLogger(__name__)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def create_app(
    settings: Settings,
    engine: Engine,
    *,
    clock: Clock = _utcnow,
    timetable: Timetable | None = None,
    daemon: DaemonHooks = DaemonHooks(),
    feeds: FeedCache | None = None,
    feed_upkeep_every: float | None = 10.0,
    send_mail_now: bool = False,
) -> FastAPI:
    """The web app over ``engine``; ``clock`` is the only source of "now", ``daemon`` what
    the daemon running beside it tells it. Every ``feed_upkeep_every`` seconds (None: never)
    feeds are refreshed if articles changed and owed WebSub notifications are sent. With
    ``send_mail_now``, the mail a sign-up queues is sent straight after the answer too (else
    only the daemon's outbox worker sends it)."""
    site = Application.of(
        settings,
        engine,
        clock=clock,
        timetable=timetable,
        daemon=daemon,
        feeds=feeds,
        send_mail_now=send_mail_now,
    )
    api_on = settings.api_token is not None
    # The API's description only where there is an API (issue 16), with Swagger UI served
    # from /static (vendored and pinned), never from a CDN.
    app = FastAPI(
        title=settings.site_title,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json" if api_on else None,
        lifespan=partial(_lifespan, every=feed_upkeep_every),
        exception_handlers=errors.handlers(),
    )
    app.mount("/static", StaticFiles(directory=TEMPLATES / "static"), name="static")
    app.state.application = site
    _include_routers(app, site, docs=api_on)
    admin.install(app, settings)
    _add_middleware(app, site)
    return app


def _include_routers(app: FastAPI, site: Application, *, docs: bool) -> None:
    for area in (reader, sections, crawlers, search, subscriptions, reports, archive):
        app.include_router(area.router)
    app.include_router(clicks.router)  # /r/{token}: tracked links in digests
    app.include_router(feeds_routes.router)
    app.include_router(websub_callback.router)
    app.include_router(webhooks.router)  # sending services' bounces (issue 28)
    app.include_router(health.router)
    app.include_router(icon.router)  # /favicon.svg and /favicon.ico
    app.include_router(logos.router)  # /look/logo/...: the digest's logo, fetched by mail programs
    app.include_router(media.router)  # /media/...: the site's pictures (issue 26)
    # Always there: a newsroom session may use it with no API token (api.Gate decides);
    # its Swagger UI page only with a token.
    app.include_router(api.router)
    app.include_router(api_look.router)  # /api/look: admins and the bearer token
    app.include_router(api_sends.router)  # one-off sends and audiences (issue 27)
    if docs:
        app.include_router(api.docs_router)
    app.include_router(admin.router)  # the newsroom (web/admin/)


def _add_middleware(app: FastAPI, site: Application) -> None:
    settings = site.settings
    newsroom = admin.api_session(site.engine, settings, site.clock)
    # Outermost last: headers on every answer; the real client; the API's token and every
    # body's size before anything reads a body; then the cross-site guard, the feeds, and
    # HEAD answered by every GET route.
    app.add_middleware(HeadAsGet, routes=app.router.routes)
    app.add_middleware(ReaderLanguage)
    app.add_middleware(FeedRoutes, cache=site.feeds, settings=settings)
    app.add_middleware(CrossSiteGuard, settings=settings)
    app.add_middleware(
        BodyLimit,
        default=settings.max_body_bytes,
        larger={
            api.IMPORT_PATH: settings.max_import_bytes,
            admin.IMPORT_PATH: settings.max_import_bytes,
            **dict.fromkeys(
                admin.PICTURE_PATHS, settings.picture_max_bytes + settings.max_body_bytes
            ),
        },
        idle=settings.http_body_timeout,
        signed_in=admin.signed_in(site.engine, settings, site.clock),
    )
    app.add_middleware(api.Gate, settings=settings, session=newsroom)
    app.add_middleware(SiteHost, settings=settings)
    if settings.proxy_networks:
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=proxy_hosts(settings))
    app.add_middleware(SecurityHeaders)


def upkeep(site: Application) -> None:
    """Refresh the feeds if articles changed, and send the WebSub notifications owed."""
    site.feeds.current()
    send_pings(site.engine, site.settings, now=site.clock())


@asynccontextmanager
async def _lifespan(app: FastAPI, *, every: float | None) -> AsyncIterator[None]:
    """The app's life: every ``every`` seconds (None: never), its :func:`upkeep`."""
    task = None
    if every is not None:
        task = asyncio.create_task(_every(every, upkeep, app.state.application))
    yield
    if task is not None:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task


async def _every(seconds: float, job: Callable[[Application], None], site: Application) -> None:
    """Run ``job(site)`` in a worker thread every ``seconds``; a failure is logged, never lost."""
    while True:
        try:
            await run_in_threadpool(job, site)
        except Exception:
            log.exception("background job %s failed; trying again in %s s", job.__name__, seconds)
        await asyncio.sleep(seconds)
