"""The newsroom's front page (``/admin/``)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from publisher.staff import Staff
from publisher.web.admin import session
from publisher.web.admin.context import Newsroom


def router(room: Newsroom) -> APIRouter:
    routes = APIRouter()
    signed_in = session.requires("editor", room.engine, room.settings, room.clock)

    @routes.get("/", response_class=HTMLResponse)
    def dashboard(request: Request, who: Staff = Depends(signed_in)) -> HTMLResponse:
        return room.page(request, "dashboard.html", staff=who)

    return routes
