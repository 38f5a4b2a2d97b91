"""The newsroom (``/admin/``): one module per area, each with its own router, sharing one
session and form-token dependency (``session.requires``)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.middleware.sessions import SessionMiddleware

from publisher.settings import Settings
from publisher.web.admin import articles, dashboard, reports, session, signin
from publisher.web.admin.context import Newsroom

__all__ = ["Newsroom", "install", "router"]


def router(room: Newsroom) -> APIRouter:
    """Every newsroom page, under /admin."""
    routes = APIRouter(prefix="/admin", include_in_schema=False)
    for area in (signin, dashboard, articles, reports):
        routes.include_router(area.router(room))
    return routes


async def _sign_in_first(request: Request, exc: Exception) -> Response:
    if request.url.path.startswith("/api/"):
        return JSONResponse({"detail": "not signed in"}, status_code=401)
    if request.method in session.SAFE_METHODS:
        target = quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
        return RedirectResponse(f"/admin/login?next={target}", status_code=303)
    return RedirectResponse("/admin/login", status_code=303)


def install(app: FastAPI, settings: Settings) -> None:
    """The session cookie and the sign-in redirect on ``app`` (call before the outer
    middleware, so that the session is read inside them)."""
    app.add_middleware(SessionMiddleware, **session.middleware_options(settings))
    app.add_exception_handler(session.SignInNeeded, _sign_in_first)
