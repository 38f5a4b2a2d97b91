"""Request bodies: a cap on their size, counted as they stream, and on how long a client may
pause while sending one (issue 16: a 72 MB body was read and parsed before the 401).

Any area that takes uploads (CSV import, the admin's files) names its path and its own,
documented limit in ``larger`` (``/{id}`` at its end stands for any number: the article
form of each story); every other path gets the default. A newsroom request that
changes something (a POST under /admin/) without a live session gets UNSIGNED_ADMIN_BYTES
at most, whatever its path, decided from the cookie before a byte of the body is read
(issue 24: a 50 MB upload was spooled, a 58 MB form parsed, before the sign-in page).
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import Awaitable, Callable, Mapping

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from publisher.templating import size_text

__all__ = ["ADMIN_PREFIX", "UNSIGNED_ADMIN_BYTES", "BodyLimit", "BodyRefused", "SignedIn"]

ADMIN_PREFIX = "/admin/"
# The sign-in forms, and a form sent after the session ended (kept while signing in again).
UNSIGNED_ADMIN_BYTES = 64 * 1024
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
SignedIn = Callable[[Scope], Awaitable[bool]]


class BodyRefused(HTTPException):
    """A body over its limit (413) or stalled (408). It is an HTTPException so that FastAPI's
    body parsing passes it on instead of turning it into a 400; the connection is closed
    after the answer, since the rest of the body is never read."""


class BodyLimit:
    """At most ``default`` bytes of body per request (``larger``: path -> limit), enforced
    on the Content-Length before anything is read and on the bytes as they arrive (chunked
    bodies too); a client that sends nothing for ``idle`` seconds mid-body gets a 408.
    ``signed_in``: whether a request carries a live newsroom session (read from its cookie):
    a newsroom request that changes something without one gets UNSIGNED_ADMIN_BYTES."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        default: int,
        larger: Mapping[str, int],
        idle: float,
        signed_in: SignedIn | None = None,
    ) -> None:
        self.app = app
        self.default = default
        self.larger = dict(larger)
        self.idle = idle
        self.signed_in = signed_in

    def limit_for(self, path: str) -> int:
        if path in self.larger:
            return self.larger[path]
        head, _, last = path.rpartition("/")
        return self.larger.get(f"{head}/{{id}}" if last.isdigit() else path, self.default)

    async def _limit(self, scope: Scope) -> tuple[int, bool]:
        """This request's limit, and whether it is the one of a newsroom form sent without
        a session."""
        limit = self.limit_for(scope["path"])
        unsafe_admin = (
            str(scope["path"]).startswith(ADMIN_PREFIX) and scope["method"] not in SAFE_METHODS
        )
        checked = unsafe_admin and self.signed_in is not None and limit > UNSIGNED_ADMIN_BYTES
        if checked and self.signed_in is not None and not await self.signed_in(scope):
            return UNSIGNED_ADMIN_BYTES, True
        return limit, False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, unsigned = await self._limit(scope)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            too_large = _not_signed_in(limit) if unsigned else _too_large(limit)
            await _refuse(send, too_large, page=_wants_page(scope))
            return
        received = 0
        body_done = False
        refused = False
        started = False

        async def counted() -> Message:
            nonlocal received, body_done, refused
            if body_done:  # waiting for a disconnect while the response streams: no clock
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), self.idle)
            except TimeoutError:
                refused = True
                raise BodyRefused(408, "the request body stopped arriving") from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                body_done = not message.get("more_body", False)
                if received > limit:
                    refused = True
                    raise _not_signed_in(limit) if unsigned else _too_large(limit)
            return message

        async def closing(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if refused:  # the unread rest of the body must not be taken for a request
                    message["headers"] = [*message.get("headers", []), (b"connection", b"close")]
            await send(message)

        try:
            await self.app(scope, counted, closing)
        except BodyRefused as exc:
            if started:
                raise
            await _refuse(send, exc)


def _too_large(limit: int) -> BodyRefused:
    return BodyRefused(413, f"the request body is larger than {size_text(limit)}")


def _not_signed_in(limit: int) -> BodyRefused:
    return BodyRefused(
        413,
        "you are not signed in (or your session has ended), and a form sent without a session "
        f"may have at most {size_text(limit)}: sign in, then go back and send it again",
    )


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _wants_page(scope: Scope) -> bool:
    """A person in the newsroom's browser (an upload too large): they get a page."""
    return str(scope.get("path", "")).startswith("/admin/")


# No script and no inline style: the newsroom's Content-Security-Policy covers this page too.
_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Too large</title><link rel="stylesheet" href="/static/admin.css"></head>
<body><main id="main"><h1>That is too large</h1>
<p class="error" role="alert">Nothing was changed: {detail}.</p>
<p>Go back and choose a smaller file, or split it in parts and send each; or, if you were
not signed in, <a href="/admin/login">sign in</a> in another tab and send it again.</p>
<p><a href="/admin/">Back to the newsroom</a></p></main></body></html>
"""


async def _refuse(send: Send, exc: BodyRefused, *, page: bool = False) -> None:
    body = f"{exc.detail}\n".encode()
    kind = b"text/plain; charset=utf-8"
    if page:
        body, kind = (
            _PAGE.format(detail=html.escape(str(exc.detail))).encode(),
            b"text/html; charset=utf-8",
        )
    await send(
        {
            "type": "http.response.start",
            "status": exc.status_code,
            "headers": [
                (b"content-type", kind),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
