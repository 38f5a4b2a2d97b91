"""``/websub/{source}``: the callback a source's WebSub hub calls (W3C WebSub 5.3 and 7):
GET to verify that we asked for a subscription (only with the callback URL's ``token``, which
only the hubs we asked know), POST to push new content. Hubs are not browsers, so the
cross-site form guard lets these posts through; the signature is the check."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from publisher.errors import InputError, PublisherError
from publisher.schedules import Timetable, load_timetable
from publisher.sources import polling
from publisher.web.application import Application, application

__all__ = ["PREFIX", "pushed", "router", "verify"]

log = logging.getLogger(__name__)
PREFIX = "/websub/"

router = APIRouter()


def _timetable(app: Application, key: str) -> Timetable | None:
    """The timetable that has this source: the app's, else the file as it is now (a source
    added and reloaded with SIGHUP after the web app started)."""
    if key in app.timetable.sources:
        return app.timetable
    try:
        fresh = load_timetable(app.settings.schedules)
    except PublisherError:
        return None
    return fresh if key in fresh.sources else None


@router.get("/websub/{key}", include_in_schema=False)
def verify(key: str, request: Request, app: Application = Depends(application)) -> Response:
    """The hub checks that we asked for this subscription: its challenge back, else a 404
    (nothing changed); a lease out of bounds is a 400."""
    query = request.query_params
    if _timetable(app, key) is None:
        return PlainTextResponse("no such source", status_code=404)
    try:
        challenge = polling.verify_intent(
            app.engine,
            app.settings,
            key,
            token=query.get("token", ""),
            mode=query.get("hub.mode", ""),
            topic=query.get("hub.topic", ""),
            challenge=query.get("hub.challenge", ""),
            lease_seconds=query.get("hub.lease_seconds", ""),
            now=app.clock(),
        )
    except InputError as exc:
        return PlainTextResponse(exc.message, status_code=exc.http_status)
    if challenge is None:
        return PlainTextResponse("no such subscription is pending", status_code=404)
    return PlainTextResponse(challenge)


@router.post("/websub/{key}", include_in_schema=False)
async def pushed(key: str, request: Request, app: Application = Depends(application)) -> Response:
    """New content from the hub: taken in if its signature is right, acknowledged either way."""
    timetable = await run_in_threadpool(_timetable, app, key)
    if timetable is None:
        return PlainTextResponse("no such source", status_code=404)
    body = await request.body()
    try:
        result = await run_in_threadpool(
            polling.push,
            app.engine,
            app.settings,
            timetable,
            key,
            body,
            signature=request.headers.get("x-hub-signature", ""),
            content_type=request.headers.get("content-type", ""),
            now=app.clock(),
        )
    except PublisherError as exc:
        return PlainTextResponse(exc.message, status_code=exc.http_status)
    # WebSub 8: a push whose signature is wrong is still acknowledged (so the hub does not
    # retry it) and its content ignored; the source's state says so.
    return PlainTextResponse(str(result), status_code=202)
