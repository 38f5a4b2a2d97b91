"""Fetching sources over HTTP, and WebSub subscriptions to their hubs: the httpx user for
sources. A fetch is a conditional GET, streamed under a size limit (of the decoded bytes, as
they are decoded) and a deadline, one gzip or deflate layer undone, a few redirects followed,
and only to the addresses ``egress`` allows; every failure is one OperationalError saying
what."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import time
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from publisher.errors import OperationalError
from publisher.settings import AllowRule
from publisher.sources import egress

__all__ = [
    "ACCEPT",
    "DEADLINE",
    "MAX_BYTES",
    "MAX_REDIRECTS",
    "TIMEOUT",
    "USER_AGENT",
    "Fetched",
    "get",
    "is_public",
    "signature_ok",
    "subscribe",
]

TIMEOUT = 10.0  # seconds to connect, and between two reads
DEADLINE = 30.0  # seconds for a whole fetch: a server that trickles is cut off
MAX_BYTES = 5 * 1024 * 1024  # counted as gzip is undone, so a small bomb is refused too
MAX_REDIRECTS = 5
USER_AGENT = "NewsflashPublisher/0.1 (+feed poller)"
ACCEPT = (
    "application/feed+json, application/atom+xml, application/rss+xml, application/rdf+xml, "
    "application/json;q=0.9, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)


@dataclass(frozen=True)
class Fetched:
    status: int  # 200, or 304 when the validators still hold
    body: bytes
    etag: str
    last_modified: str
    content_type: str
    url: str  # after redirects


def get(
    url: str,
    *,
    allow: Sequence[AllowRule] = (),
    etag: str = "",
    last_modified: str = "",
    timeout: float = TIMEOUT,
    deadline: float = DEADLINE,
    max_bytes: int = MAX_BYTES,
    max_redirects: int = MAX_REDIRECTS,
) -> Fetched:
    """GET ``url`` with the validators of the last answer; OperationalError on any failure
    (unreachable, a private address not in ``allow`` at any hop, too slow, too big, too many
    redirects, an HTTP error status)."""
    headers = {"user-agent": USER_AGENT, "accept": ACCEPT, "accept-encoding": "gzip, deflate"}
    if etag:
        headers["if-none-match"] = etag
    if last_modified:
        headers["if-modified-since"] = last_modified
    started = time.monotonic()
    try:
        with (
            egress.client(
                allow, timeout=timeout, follow_redirects=True, max_redirects=max_redirects
            ) as client,
            client.stream("GET", url, headers=headers) as response,
        ):
            if response.status_code == 304:
                return _answer(response, b"")
            if response.status_code >= 400:
                raise OperationalError(f"{url} answered HTTP {response.status_code}")
            body = _read(response, url, max_bytes, started=started, deadline=deadline)
            return _answer(response, body)
    except egress.Refused as exc:
        raise OperationalError(f"{url} {_hop(url, exc)}refused: {exc.message}") from None
    except httpx.TooManyRedirects:
        raise OperationalError(f"{url}: more than {max_redirects} redirects") from None
    except httpx.TimeoutException:
        raise OperationalError(f"{url} did not answer within {timeout:g} s") from None
    except httpx.HTTPError as exc:
        raise OperationalError(f"{url} unreachable: {exc or type(exc).__name__}") from None
    except httpx.InvalidURL as exc:
        raise OperationalError(f"{url}: not a URL that can be fetched ({exc})") from None


def _hop(url: str, refused: egress.Refused) -> str:
    """Which redirect was refused (nothing when it was ``url`` itself)."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if (parts.hostname or "").rstrip(".") == refused.host.rstrip(".") and port == refused.port:
        return ""
    return f"(redirected to {refused.host}:{refused.port}) "


def _read(
    response: httpx.Response, url: str, max_bytes: int, *, started: float, deadline: float
) -> bytes:
    """The body, its content coding undone as it arrives, cut off past ``max_bytes`` of
    decoded output (however small on the wire) or at ``deadline``; one coding at most."""
    codings = [
        name.strip().lower()
        for value in response.headers.get_list("content-encoding")
        for name in value.split(",")
        if name.strip().lower() not in ("", "identity")
    ]
    if len(codings) > 1:
        raise OperationalError(
            f"{url} sent {len(codings)} content codings ({', '.join(codings)}): refused, as "
            "only one is undone"
        )
    if codings and codings[0] not in _WBITS:
        raise OperationalError(f"{url} sent content coding {codings[0]!r}, which was not asked for")
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes and not codings:
        raise OperationalError(_too_big(url, max_bytes))
    inflater = _Inflater(codings[0]) if codings else None
    chunks: list[bytes] = []
    size = 0
    try:
        for raw in response.iter_raw():
            if time.monotonic() - started > deadline:
                raise OperationalError(f"{url} took longer than {deadline:g} s to send")
            for piece in inflater.feed(raw) if inflater else (raw,):
                size += len(piece)
                if size > max_bytes:
                    raise OperationalError(_too_big(url, max_bytes))
                chunks.append(piece)
        tail = inflater.finish() if inflater else b""
    except zlib.error as exc:
        raise OperationalError(f"{url}: the response could not be decoded ({exc})") from None
    if size + len(tail) > max_bytes:
        raise OperationalError(_too_big(url, max_bytes))
    return b"".join([*chunks, tail])


_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


class _Inflater:
    """One content coding (gzip or deflate) undone as the bytes arrive: each call to zlib
    gives at most ``STEP`` bytes, so a bomb is seen growing and never held whole."""

    STEP = 64 * 1024

    def __init__(self, coding: str) -> None:
        self.coding = coding
        self.started = False
        self.zlib = zlib.decompressobj(_WBITS[coding])

    def feed(self, data: bytes) -> Iterator[bytes]:
        while True:
            try:
                out = self.zlib.decompress(data, self.STEP)
            except zlib.error:
                if self.started or self.coding != "deflate":
                    raise
                # "deflate" is meant to be zlib-wrapped; some servers send it raw
                self.zlib = zlib.decompressobj(-zlib.MAX_WBITS)
                out = self.zlib.decompress(data, self.STEP)
            self.started = True
            if out:
                yield out
            data = self.zlib.unconsumed_tail
            if not data and len(out) < self.STEP:
                return

    def finish(self) -> bytes:
        """What zlib still holds once the input is all in (a few bytes at most)."""
        return self.zlib.flush(self.STEP)


def _too_big(url: str, max_bytes: int) -> str:
    return f"{url} sent more than {max_bytes // (1024 * 1024)} MB: refused"


def _answer(response: httpx.Response, body: bytes) -> Fetched:
    return Fetched(
        status=response.status_code,
        body=body,
        etag=response.headers.get("etag", ""),
        last_modified=response.headers.get("last-modified", ""),
        content_type=response.headers.get("content-type", ""),
        url=str(response.url),
    )


def is_public(url: str) -> bool:
    """Whether a hub on the internet could reach ``url``: not localhost, a private, loopback
    or link-local address, or a name with no dot or under .local/.internal/.localhost."""
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    if not host:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        local = ("localhost", ".local", ".internal", ".localhost", ".lan", ".home.arpa")
        return "." in host and not any(host == s.lstrip(".") or host.endswith(s) for s in local)
    return bool(address.is_global)


def subscribe(
    hub: str,
    *,
    topic: str,
    callback: str,
    secret: str,
    lease_seconds: int,
    allow: Sequence[AllowRule] = (),
    timeout: float = TIMEOUT,
) -> None:
    """Ask a WebSub hub to push ``topic`` to ``callback`` (WebSub 5.1); OperationalError
    unless it accepted (202, or any 2xx). Only over https (the secret is in the request),
    unless the hub's host is on ``allow``; never to an address ``allow`` does not let in."""
    scheme = urlsplit(hub).scheme.lower()
    if scheme != "https" and not (scheme == "http" and egress.named(allow, hub)):
        raise OperationalError(
            f"WebSub hub {hub} is not https: not asked, as the subscription's secret would "
            "travel in clear (PUBLISHER_FETCH_ALLOW_HOSTS can allow its host)"
        )
    data = {
        "hub.mode": "subscribe",
        "hub.topic": topic,
        "hub.callback": callback,
        "hub.secret": secret,
        "hub.lease_seconds": str(lease_seconds),
    }
    try:
        with egress.client(allow, timeout=timeout) as client:
            response = client.post(hub, data=data, headers={"user-agent": USER_AGENT})
    except egress.Refused as exc:
        raise OperationalError(f"WebSub hub {hub} refused: {exc.message}") from None
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise OperationalError(f"WebSub hub {hub} unreachable: {exc}") from None
    if not 200 <= response.status_code < 300:
        raise OperationalError(f"WebSub hub {hub} answered {response.status_code}")


_DIGESTS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha384": hashlib.sha384,
            "sha512": hashlib.sha512}  # fmt: skip


def signature_ok(secret: str, body: bytes, header: str) -> bool:
    """Whether ``X-Hub-Signature`` (``method=hex``, WebSub 8) is the HMAC of ``body`` with
    ``secret``; compared in constant time."""
    method, _, given = header.strip().partition("=")
    digest = _DIGESTS.get(method.lower())
    if digest is None or not given:
        return False
    expected = hmac.new(secret.encode(), body, digest).hexdigest()
    return hmac.compare_digest(expected, given.strip().lower())
