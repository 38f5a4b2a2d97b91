"""The web side's answers to errors, translated once: a page for a reader, a newsroom page
under /admin/, JSON under /api/. A server-side failure's message names internals and goes to
the log, never to a visitor."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from publisher.errors import PublisherError
from publisher.languages import N_
from publisher.web.application import application
from publisher.web.limits import BodyRefused
from publisher.web.pages import reader_message, render

__all__ = [
    "NOWHERE",
    "UNAVAILABLE",
    "Handler",
    "gone",
    "handlers",
    "http_error",
    "invalid",
    "publisher_error",
]

log = logging.getLogger(__name__)

UNAVAILABLE = N_("We could not do that just now; please try again in a few minutes.")
NOWHERE = N_("There is no page at this address.")
Handler = Callable[[Request, Any], Coroutine[Any, Any, Response]]


def _page(request: Request, status: int, message: str) -> Response:
    app = application(request)
    if request.url.path.startswith("/admin/") or request.url.path == "/admin":
        # The newsroom's own page (its stylesheet, a way back), never the reader site's.
        html = app.env.get_template("admin/error.html").render(
            settings=app.settings,
            staff=None,
            csrf="",  # no form on this page: it shows nobody's session
            path=request.url.path,
            message=message,
            http_status=status,
        )
        return HTMLResponse(html, status_code=status)
    return render(app, "error.html", http_status=status, message=reader_message(app, message))


async def gone(request: Request, exc: ClientDisconnect) -> Response:
    """The client hung up while sending its form: nobody to answer, nothing was done."""
    log.info("%s %r: the client disconnected", request.method, request.url.path)
    return Response(status_code=400)


async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
    """An HTTP error: JSON under /api/, else a page (a 5xx from Starlette stays JSON)."""
    headers = getattr(exc, "headers", None)
    if request.url.path.startswith("/api/"):
        return JSONResponse({"detail": exc.detail}, exc.status_code, headers=headers)
    if exc.status_code == 404:
        return _page(request, 404, NOWHERE)
    if isinstance(exc, BodyRefused) or 400 <= exc.status_code < 500:
        # A form too big or too long, a method not allowed: said on a page like the rest.
        answer = _page(request, exc.status_code, f"Sorry: {exc.detail}")
        answer.headers.update(headers or {})
        return answer
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)


async def publisher_error(request: Request, exc: PublisherError) -> Response:
    """The product's own errors, with their status; a server-side one's message is logged
    and the visitor told only that it failed."""
    message, details = exc.message, exc.details
    if exc.http_status >= 500:
        # A server-side failure: its message names internals (the database's URL, the
        # mail server's host and reply), which go to the log, never to a visitor.
        log.warning("%s %r: %s", request.method, request.url.path, "; ".join(exc.lines()))
        message, details = UNAVAILABLE, []
    if request.url.path.startswith("/api/"):
        return JSONResponse({"detail": message, "problems": details}, status_code=exc.http_status)
    return _page(request, exc.http_status, message)


async def invalid(request: Request, exc: RequestValidationError) -> Response:
    """A value that does not parse: FastAPI's 422 under /api/, else a 404 for an address
    that names nothing and a 400 for a query value."""
    if request.url.path.startswith("/api/"):
        return await request_validation_exception_handler(request, exc)
    # A page's address with an id that cannot be one (/admin/people/abc, /admin/subscribers/0)
    # names nothing; a query value that does not parse is the visitor's mistake.
    where = {str(error.get("loc", ("",))[0]) for error in exc.errors()}
    if "path" in where:
        return _page(request, 404, NOWHERE)
    return _page(request, 400, "Sorry: that address has a value we cannot read.")


def handlers() -> dict[Any, Handler]:
    """The exception handlers for ``FastAPI(exception_handlers=...)``; they render with the
    app's :class:`~publisher.web.application.Application`."""
    return {
        RequestValidationError: invalid,
        ClientDisconnect: gone,
        StarletteHTTPException: http_error,
        PublisherError: publisher_error,
    }
