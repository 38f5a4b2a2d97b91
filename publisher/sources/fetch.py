"""Fetching sources over HTTP, and WebSub subscriptions to their hubs: the httpx user for
sources. A fetch is a conditional GET, streamed under a size limit and a deadline, gzip
undone, a few redirects followed; every failure is one OperationalError saying what."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from publisher.errors import OperationalError

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
MAX_BYTES = 5 * 1024 * 1024  # after gzip is undone, so a small bomb is refused too
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
    etag: str = "",
    last_modified: str = "",
    timeout: float = TIMEOUT,
    deadline: float = DEADLINE,
    max_bytes: int = MAX_BYTES,
    max_redirects: int = MAX_REDIRECTS,
) -> Fetched:
    """GET ``url`` with the validators of the last answer; OperationalError on any failure
    (unreachable, too slow, too big, too many redirects, an HTTP error status)."""
    headers = {"user-agent": USER_AGENT, "accept": ACCEPT, "accept-encoding": "gzip, deflate"}
    if etag:
        headers["if-none-match"] = etag
    if last_modified:
        headers["if-modified-since"] = last_modified
    started = time.monotonic()
    try:
        with (
            httpx.Client(
                follow_redirects=True, max_redirects=max_redirects, timeout=timeout
            ) as client,
            client.stream("GET", url, headers=headers) as response,
        ):
            if response.status_code == 304:
                return _answer(response, b"")
            if response.status_code >= 400:
                raise OperationalError(f"{url} answered HTTP {response.status_code}")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes and not _encoded(response):
                raise OperationalError(_too_big(url, max_bytes))
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise OperationalError(_too_big(url, max_bytes))
                if time.monotonic() - started > deadline:
                    raise OperationalError(f"{url} took longer than {deadline:g} s to send")
                chunks.append(chunk)
            return _answer(response, b"".join(chunks))
    except httpx.TooManyRedirects:
        raise OperationalError(f"{url}: more than {max_redirects} redirects") from None
    except httpx.TimeoutException:
        raise OperationalError(f"{url} did not answer within {timeout:g} s") from None
    except httpx.DecodingError as exc:
        raise OperationalError(f"{url}: the response could not be decoded ({exc})") from None
    except httpx.HTTPError as exc:
        raise OperationalError(f"{url} unreachable: {exc or type(exc).__name__}") from None
    except httpx.InvalidURL as exc:
        raise OperationalError(f"{url}: not a URL that can be fetched ({exc})") from None


def _encoded(response: httpx.Response) -> bool:
    return str(response.headers.get("content-encoding", "identity")) != "identity"


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
    timeout: float = TIMEOUT,
) -> None:
    """Ask a WebSub hub to push ``topic`` to ``callback`` (WebSub 5.1); OperationalError
    unless it accepted (202, or any 2xx)."""
    data = {
        "hub.mode": "subscribe",
        "hub.topic": topic,
        "hub.callback": callback,
        "hub.secret": secret,
        "hub.lease_seconds": str(lease_seconds),
    }
    try:
        response = httpx.post(hub, data=data, timeout=timeout, headers={"user-agent": USER_AGENT})
    except httpx.HTTPError as exc:
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
