"""What guards every response: security headers, the cross-site form guard and a
per-client rate limit."""

from __future__ import annotations

import ipaddress
import logging
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from fastapi.responses import HTMLResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from publisher.settings import Settings

__all__ = [
    "ADMIN_HEADERS",
    "ADMIN_PREFIX",
    "DOCS_PATH",
    "DOCS_POLICY",
    "SECURITY_HEADERS",
    "ClientLimit",
    "CrossSiteGuard",
    "ReaderLimits",
    "SecurityHeaders",
    "SiteHost",
    "client_key",
    "proxy_hosts",
]

log = logging.getLogger(__name__)

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


# Swagger UI at /docs, served from /static/swagger-ui/ (vendored, pinned): its own script,
# no inline one, and nothing from another site.
DOCS_POLICY = (
    b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    b"img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    b"form-action 'self'; object-src 'none'"
)
DOCS_PATH = "/docs"

# The newsroom (issue 12): no inline script or style at all (htmx from /static, told to add no
# style of its own), never indexed, never stored by a browser or a proxy.
ADMIN_PREFIX = "/admin"
ADMIN_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; "
        b"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; "
        b"object-src 'none'",
    ),
    (b"x-robots-tag", b"noindex, nofollow"),
    (b"cache-control", b"no-store"),
]

_FAILED = (
    b"<!doctype html><title>Something went wrong</title>"
    b"<p>Something went wrong on our side. Please try again in a few minutes.</p>"
)


class SecurityHeaders:
    """The headers above on every response, a 500 included: an exception that nothing
    handled is logged and answered here, inside this layer, with the same headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = self._add(scope, message)
            await send(message)

        try:
            await self.app(scope, receive, with_headers)
        except Exception:
            # %r: a decoded path may hold CR LF, which would forge a log line.
            log.exception("%s %r failed", scope["method"], scope["path"])
            if started:
                raise
            await with_headers(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [(b"content-type", b"text/html; charset=utf-8")],
                }
            )
            await with_headers({"type": "http.response.body", "body": _FAILED})

    @staticmethod
    def _add(scope: Scope, message: Message) -> list[tuple[bytes, bytes]]:
        headers = list(message.get("headers", []))
        kind = dict(headers).get(b"content-type", b"")
        # A feed opened in a browser runs its XSLT stylesheet, which CSP counts as script:
        # feeds get every header but the policy. A 304 updates the headers a browser stored,
        # so it must not add a policy either (a response that needs one, the feed's page,
        # carries it itself). /docs runs Swagger UI's own script from /static.
        relaxed = b"xml" in kind or message["status"] == 304
        present = {name.lower() for name, _ in headers}
        extra = SECURITY_HEADERS[1:] if relaxed else SECURITY_HEADERS
        if scope["path"] == DOCS_PATH:
            extra = [(b"content-security-policy", DOCS_POLICY), *SECURITY_HEADERS[1:]]
        elif scope["path"] == ADMIN_PREFIX or scope["path"].startswith(ADMIN_PREFIX + "/"):
            extra = [*ADMIN_HEADERS, *SECURITY_HEADERS[1:]]
            headers = [h for h in headers if h[0].lower() != b"cache-control"]
            present = {name.lower() for name, _ in headers}
        return [*headers, *(h for h in extra if h[0] not in present)]


class CrossSiteGuard:
    """Refuses form posts that a browser sends from another site (CSRF). Browsers say where a
    request comes from (Sec-Fetch-Site, Origin); clients without them are not browsers. The
    RFC 8058 one-click unsubscribe is exempt: mail providers post it from their own origin;
    so are a source's WebSub pushes (``/websub/``): a hub posts from its own, and each push
    is checked by its HMAC signature instead; and sending services' webhooks
    (``/webhooks/``), each checked by its provider's signature."""

    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        parts = urlsplit(settings.site_url)
        self.site_origin = f"{parts.scheme}://{parts.netloc}".lower()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or scope["path"].startswith(("/unsubscribe/", "/api/", "/websub/", "/webhooks/"))
        ):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        fetch_site = headers.get(b"sec-fetch-site", b"").decode("latin-1")
        origin = headers.get(b"origin")
        if origin == b"null":
            # Sandboxed frames, data: URLs and some redirects send "null": never our own page,
            # whatever Sec-Fetch-Site says (issue 16).
            cross = True
        elif fetch_site:  # the browser's own verdict (same-origin, or none: typed, bookmarked)
            cross = fetch_site not in ("same-origin", "none")
        else:
            # Older browsers send only Origin: it must be the site's own (PUBLISHER_SITE_URL),
            # never compared with the Host header, which the client chooses.
            cross = origin is not None and origin.decode("latin-1").lower() != self.site_origin
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
    """At most ``per_window`` form posts per client in ``window`` seconds. A client is an
    IPv4 address or an IPv6 /64 (one subscriber line gets a whole /64). At most ``keys``
    clients are remembered; past that the one seen least recently is forgotten, so a flood
    of new addresses never wipes everyone's count."""

    def __init__(self, *, per_window: int, window: float, keys: int = 10_000) -> None:
        self.per_window = per_window
        self.window = window
        self.keys = keys
        self._seen: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def allow(self, client: str, now: float) -> bool:
        """Count one more for ``client``, unless it is at its limit (then False)."""
        with self._lock:
            times = self._times(client, now)
            if len(times) >= self.per_window:
                return False
            times.append(now)
            return True

    def full(self, client: str, now: float) -> bool:
        """Whether ``client`` is at its limit (counting nothing): with ``note``, a limit on
        failures only, such as wrong passwords."""
        with self._lock:
            return len(self._times(client, now)) >= self.per_window

    def note(self, client: str, now: float) -> None:
        """Count one for ``client`` (a failure)."""
        with self._lock:
            self._times(client, now).append(now)

    def _times(self, client: str, now: float) -> deque[float]:
        key = client_key(client)
        times = self._seen.pop(key, None)
        if times is None:
            times = deque()
            while len(self._seen) >= self.keys:
                self._seen.popitem(last=False)
        self._seen[key] = times
        while times and now - times[0] > self.window:
            times.popleft()
        return times


def _ten_in_ten_minutes() -> ClientLimit:
    return ClientLimit(per_window=10, window=600.0)


@dataclass(frozen=True)
class ReaderLimits:
    """The per-client limits of the reader forms that store or send something: ten of each
    in ten minutes from one client."""

    signups: ClientLimit = field(default_factory=_ten_in_ten_minutes)
    access_links: ClientLimit = field(default_factory=_ten_in_ten_minutes)
    reports: ClientLimit = field(default_factory=_ten_in_ten_minutes)


def client_key(host: str) -> str:
    """The rate-limit key of a client address: itself, or its /64 for IPv6."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def proxy_hosts(settings: Settings) -> list[str]:
    """The networks whose X-Forwarded-For uvicorn's ProxyHeadersMiddleware believes: it
    takes the right-most hop that is not one of them as the client. None are by default
    (PUBLISHER_TRUSTED_PROXIES), since anyone can write that header."""
    return [str(network) for network in settings.proxy_networks]


class SiteHost:
    """Requests are read as addressed to PUBLISHER_SITE_URL, whatever Host header the client
    sent: a URL the app builds (Starlette's trailing-slash redirect, say) never points
    elsewhere (issue 16)."""

    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        parts = urlsplit(settings.site_url)
        self.scheme = parts.scheme
        self.host = parts.netloc.encode("idna")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = [(n, v) for n, v in scope["headers"] if n != b"host"]
            scope = {**scope, "scheme": self.scheme, "headers": [(b"host", self.host), *headers]}
        await self.app(scope, receive, send)
