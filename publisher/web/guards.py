"""What guards every response: security headers, the cross-site form guard and a
per-client rate limit."""

from __future__ import annotations

import threading
from collections import deque
from urllib.parse import urlsplit

from fastapi.responses import HTMLResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from publisher.settings import Settings

SECURITY_HEADERS = [
    # Script only from our own /static, never inline (images.js takes out an image that fails
    # to load); inline styles for the archived digests (mail HTML is inlined).
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; "
        b"style-src 'self' 'unsafe-inline'; img-src 'self' https: data:; frame-ancestors 'none'; "
        b"base-uri 'none'; form-action 'self'; object-src 'none'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    # Same-origin only: token URLs (/unsubscribe/..., /confirm/...) never leak to other sites.
    (b"referrer-policy", b"same-origin"),
]


class SecurityHeaders:
    """The headers above on every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                kind = dict(headers).get(b"content-type", b"")
                # A feed opened in a browser runs its XSLT stylesheet, which CSP counts as
                # script: feeds get every header but the policy. A 304 updates the headers a
                # browser stored, so it must not add a policy either (a response that needs
                # one, the feed's page, carries it itself). /docs is Swagger UI, which runs
                # script from its CDN.
                relaxed = b"xml" in kind or message["status"] == 304 or scope["path"] == "/docs"
                present = {name.lower() for name, _ in headers}
                extra = SECURITY_HEADERS[1:] if relaxed else SECURITY_HEADERS
                message["headers"] = [*headers, *(h for h in extra if h[0] not in present)]
            await send(message)

        await self.app(scope, receive, with_headers)


class CrossSiteGuard:
    """Refuses form posts that a browser sends from another site (CSRF). Browsers say where a
    request comes from (Sec-Fetch-Site, Origin); clients without them are not browsers. The
    RFC 8058 one-click unsubscribe is exempt: mail providers post it from their own origin."""

    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.site_host = urlsplit(settings.site_url).netloc

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or scope["path"].startswith(("/unsubscribe/", "/api/"))
        ):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        fetch_site = headers.get(b"sec-fetch-site", b"").decode("latin-1")
        origin = headers.get(b"origin", b"").decode("latin-1")
        own = {self.site_host, headers.get(b"host", b"").decode("latin-1")}
        cross = fetch_site in ("cross-site", "same-site") or (
            origin not in ("", "null") and urlsplit(origin).netloc not in own
        )
        if not cross:
            await self.app(scope, receive, send)
            return
        response = HTMLResponse(
            "<!doctype html><title>Refused</title><p>This form was sent from another site, "
            "so it was not accepted. Please use the form on our own pages.</p>",
            status_code=403,
        )
        await response(scope, receive, send)


class ClientLimit:
    """At most ``per_window`` form posts per client address in ``window`` seconds."""

    def __init__(self, *, per_window: int, window: float) -> None:
        self.per_window = per_window
        self.window = window
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, client: str, now: float) -> bool:
        with self._lock:
            if len(self._seen) > 10_000:
                self._seen.clear()
            times = self._seen.setdefault(client, deque())
            while times and now - times[0] > self.window:
                times.popleft()
            if len(times) >= self.per_window:
                return False
            times.append(now)
            return True
