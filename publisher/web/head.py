"""HEAD for every GET route, once for the whole app: uptime checks and link checkers ask with
HEAD (RFC 9110 9.3.2: the same answer as GET, headers and all, without the body)."""

from __future__ import annotations

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["HeadAsGet"]


class HeadAsGet:
    """A HEAD request that no route answers itself (the static files, the feeds and the
    tracked links do) goes on as a GET; the answer keeps its status and headers (its
    ``content-length`` too) and loses its body. A path that answers only POST still says 405."""

    def __init__(self, app: ASGIApp, *, routes: list[BaseRoute]) -> None:
        self.app = app
        self.routes = routes  # the app's route table itself, read at each request

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def bodiless(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        if not self._answers_head(scope):
            scope = {**scope, "method": "GET"}
        await self.app(scope, receive, bodiless)

    def _answers_head(self, scope: Scope) -> bool:
        return any(route.matches(scope)[0] is Match.FULL for route in self.routes)
