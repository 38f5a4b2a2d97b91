"""The digest archive: the list of public editions (``/digests/``) and each edition's page
(``/digests/{edition_id}``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse

from publisher.editions import making
from publisher.web import api
from publisher.web.application import Application, application
from publisher.web.pages import render

__all__ = ["digest_archive", "digest_edition", "router"]

router = APIRouter()


@router.get("/digests/", response_class=HTMLResponse)
def digest_archive(app: Application = Depends(application)) -> HTMLResponse:
    """Every public edition, newest first."""
    public = making.list_editions(app.engine, public_only=True)
    return render(app, "digests.html", editions=public)


@router.get("/digests/{edition_id}", response_class=HTMLResponse)
def digest_edition(
    edition_id: Annotated[int, PathParam(ge=1, le=api.MAX_ID)],
    app: Application = Depends(application),
) -> HTMLResponse:
    """A public edition as it was mailed, less any story taken down since (a 404 for any
    other)."""
    _edition, html = making.archived(
        app.engine,
        app.settings,
        edition_id,
        timetable=app.timetable,
        env=app.env,
        now=app.clock(),
    )
    return HTMLResponse(html)
