"""The digest's look in the admin API (``/api/look``, admins and the bearer token): read it,
change fields of it, give it a logo; the same checks and audit trail as the newsroom's Look
page and ``publisher look``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from starlette.concurrency import run_in_threadpool

from publisher import store
from publisher.errors import InputError
from publisher.look import changes
from publisher.look.logo import MAX_BYTES
from publisher.look.values import Look, read_look
from publisher.web.api import actor, authorised
from publisher.web.application import Application, application

__all__ = ["change_look", "look", "router", "set_logo"]

router = APIRouter(prefix="/api", dependencies=[Depends(authorised)], tags=["admin"])


def _json(found: Look, version: int | None = None) -> dict[str, Any]:
    data = {**found.values, "logo_url": found.logo.url if found.logo else ""}
    return data if version is None else {**data, "version": version}


@router.get("/look")
def look(app: Application = Depends(application)) -> dict[str, Any]:
    """The look in force: every field (``logo`` a kept logo's hash, ``logo_url`` where mail
    programs fetch it), and its version."""
    with store.reading(app.engine) as session:
        found, version = read_look(session, app.settings, app.timetable.brand_studio)
    return _json(found, version)


@router.patch("/look")
def change_look(
    request: Request,
    fields: Annotated[dict[str, str | bool], Body(description="The fields to change")],
    app: Application = Depends(application),
) -> dict[str, Any]:
    """Change these fields (the others stay): every problem in one 400, nothing saved."""
    _, after = changes.change(
        app.engine,
        app.settings,
        app.timetable.brand_studio,
        fields,
        actor=actor(request),
        now=app.clock(),
    )
    return _json(after)


@router.put("/look/logo")
async def set_logo(request: Request, app: Application = Depends(application)) -> dict[str, Any]:
    """The request's body (a PNG, JPEG or GIF file, at most 512 kB) made the look's logo."""
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_BYTES:
            break
    if not data:
        raise InputError("send the logo's bytes as the request's body")
    _, after = await run_in_threadpool(
        changes.change,
        app.engine,
        app.settings,
        app.timetable.brand_studio,
        {},
        logo=bytes(data),
        actor=actor(request),
        now=app.clock(),
    )
    return _json(after)
