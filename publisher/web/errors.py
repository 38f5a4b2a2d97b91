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
from publisher.web.limits import BodyRefused
from publisher.web.pages import Context

log = logging.getLogger(__name__)

UNAVAILABLE = "We could not do that just now; please try again in a few minutes."
NOWHERE = "There is no page at this address."
Handler = Callable[[Request, Any], Coroutine[Any, Any, Response]]


def handlers(ctx: Context) -> dict[Any, Handler]:
    """The exception handlers for ``FastAPI(exception_handlers=...)``."""

    def page(request: Request, status: int, message: str) -> Response:
        if request.url.path.startswith("/admin/") or request.url.path == "/admin":
            # The newsroom's own page (its stylesheet, a way back), never the reader site's.
            html = ctx.env.get_template("admin/error.html").render(
                settings=ctx.settings,
                staff=None,
                csrf="",  # no form on this page: it shows nobody's session
                path=request.url.path,
                message=message,
                http_status=status,
            )
            return HTMLResponse(html, status_code=status)
        return ctx.page("error.html", http_status=status, message=message)

    async def gone(request: Request, exc: ClientDisconnect) -> Response:
        # The client hung up while sending its form: nobody to answer, nothing was done.
        log.info("%s %r: the client disconnected", request.method, request.url.path)
        return Response(status_code=400)

    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        headers = getattr(exc, "headers", None)
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": exc.detail}, exc.status_code, headers=headers)
        if exc.status_code == 404:
            return page(request, 404, NOWHERE)
        if isinstance(exc, BodyRefused) or 400 <= exc.status_code < 500:
            # A form too big or too long, a method not allowed: said on a page like the rest.
            answer = page(request, exc.status_code, f"Sorry: {exc.detail}")
            answer.headers.update(headers or {})
            return answer
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)

    async def publisher_error(request: Request, exc: PublisherError) -> Response:
        message, details = exc.message, exc.details
        if exc.http_status >= 500:
            # A server-side failure: its message names internals (the database's URL, the
            # mail server's host and reply), which go to the log, never to a visitor.
            log.warning("%s %r: %s", request.method, request.url.path, "; ".join(exc.lines()))
            message, details = UNAVAILABLE, []
        if request.url.path.startswith("/api/"):
            return JSONResponse(
                {"detail": message, "problems": details}, status_code=exc.http_status
            )
        return page(request, exc.http_status, message)

    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        if request.url.path.startswith("/api/"):
            return await request_validation_exception_handler(request, exc)
        # A page's address with an id that cannot be one (/admin/people/abc, /admin/subscribers/0)
        # names nothing; a query value that does not parse is the visitor's mistake.
        where = {str(error.get("loc", ("",))[0]) for error in exc.errors()}
        if "path" in where:
            return page(request, 404, NOWHERE)
        return page(request, 400, "Sorry: that address has a value we cannot read.")

    return {
        RequestValidationError: invalid,
        ClientDisconnect: gone,
        StarletteHTTPException: http_error,
        PublisherError: publisher_error,
    }
