"""``/websub/{source}``: the callback a source's WebSub hub calls (W3C WebSub 5.3 and 7):
GET to verify that we asked for a subscription, POST to push new content. Hubs are not
browsers, so the cross-site form guard lets these posts through; the signature is the check."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from publisher.errors import PublisherError
from publisher.schedules import Timetable, load_timetable
from publisher.sources import polling
from publisher.web.pages import Context

log = logging.getLogger(__name__)
PREFIX = "/websub/"


def _timetable(ctx: Context, key: str) -> Timetable | None:
    """The timetable that has this source: the app's, else the file as it is now (a source
    added and reloaded with SIGHUP after the web app started)."""
    if key in ctx.timetable.sources:
        return ctx.timetable
    try:
        fresh = load_timetable(ctx.settings.schedules)
    except PublisherError:
        return None
    return fresh if key in fresh.sources else None


def router(ctx: Context) -> APIRouter:
    routes = APIRouter()

    @routes.get("/websub/{key}", include_in_schema=False)
    def verify(key: str, request: Request) -> Response:
        query = request.query_params
        if _timetable(ctx, key) is None:
            return PlainTextResponse("no such source", status_code=404)
        challenge = polling.verify_intent(
            ctx.engine,
            key,
            mode=query.get("hub.mode", ""),
            topic=query.get("hub.topic", ""),
            challenge=query.get("hub.challenge", ""),
            lease_seconds=query.get("hub.lease_seconds", ""),
            now=ctx.clock(),
        )
        if challenge is None:
            return PlainTextResponse("no such subscription is pending", status_code=404)
        return PlainTextResponse(challenge)

    @routes.post("/websub/{key}", include_in_schema=False)
    async def pushed(key: str, request: Request) -> Response:
        timetable = await run_in_threadpool(_timetable, ctx, key)
        if timetable is None:
            return PlainTextResponse("no such source", status_code=404)
        body = await request.body()
        try:
            result = await run_in_threadpool(
                polling.push,
                ctx.engine,
                ctx.settings,
                timetable,
                key,
                body,
                signature=request.headers.get("x-hub-signature", ""),
                content_type=request.headers.get("content-type", ""),
                now=ctx.clock(),
            )
        except PublisherError as exc:
            return PlainTextResponse(exc.message, status_code=exc.http_status)
        # WebSub 8: a push whose signature is wrong is still acknowledged (so the hub does not
        # retry it) and its content ignored; the source's state says so.
        return PlainTextResponse(str(result), status_code=202)

    return routes
