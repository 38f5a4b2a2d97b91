"""The digest archive: the list of public editions and each edition's page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse

from publisher.editions import making
from publisher.web import api
from publisher.web.pages import Context


def router(ctx: Context) -> APIRouter:
    """``/digests/`` and ``/digests/{edition_id}``."""
    archive = APIRouter()

    @archive.get("/digests/", response_class=HTMLResponse)
    def digest_archive() -> HTMLResponse:
        public = making.list_editions(ctx.engine, public_only=True)
        return ctx.page("digests.html", editions=public)

    @archive.get("/digests/{edition_id}", response_class=HTMLResponse)
    def digest_edition(edition_id: Annotated[int, PathParam(ge=1, le=api.MAX_ID)]) -> HTMLResponse:
        _edition, html = making.archived(ctx.engine, ctx.settings, edition_id)
        return HTMLResponse(html)

    return archive
