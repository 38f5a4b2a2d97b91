"""Where the daemon may connect when it fetches a source, follows a redirect or asks a WebSub
hub (issue 24): a public address, or a host on ``PUBLISHER_FETCH_ALLOW_HOSTS``.

The check is made on the address actually connected to: an httpx client whose connections
are opened by ``Guard``, an httpcore network backend that resolves the name once, keeps
only the addresses allowed, and connects to one of those. The URL, the ``Host`` header and
TLS (SNI, the certificate's name) are untouched, so a name that resolves to a public address
when checked and to 127.0.0.1 a moment later (DNS rebinding) never gets a second look-up.
httpx reads no proxy from the environment for this client: a proxy would connect for us,
out of sight of the check."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

import httpcore
import httpx

from publisher.errors import OperationalError
from publisher.settings import AllowRule

__all__ = ["Guard", "Refused", "client", "named", "permitted", "refusal"]

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# IPv6 ranges that carry an IPv4 address in their last 32 bits: NAT64 (RFC 6052) and the
# deprecated IPv4-compatible form. IPv4-mapped (::ffff:0:0/96) and 6to4 have properties.
_EMBEDDING = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("::/96"))


def refusal(address: Address) -> str:
    """Why ``address`` is not one to fetch from ("a loopback address", ...), or "" when it is
    a global unicast address; an IPv4 address inside an IPv6 one is judged as itself."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = address.ipv4_mapped or address.sixtofour
        if inner is None and int(address) > 1 and any(address in n for n in _EMBEDDING):
            inner = ipaddress.IPv4Address(address.packed[-4:])
        if inner is not None:
            why = refusal(inner)
            return f"{why} inside an IPv6 address" if why else ""
    kinds = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
        ("non-public", not address.is_global),
    )
    for kind, found in kinds:
        if found:
            return f"{'an' if kind[0] in 'aeiou' else 'a'} {kind} address"
    return ""


def permitted(rules: Sequence[AllowRule], host: str, port: int, address: Address) -> bool:
    """Whether connecting to ``address`` for ``host``:``port`` is allowed: a public address,
    or a rule naming the host (and the port, when the rule has one) or the address's network."""
    return not refusal(address) or _listed(rules, host, port, address)


def named(rules: Sequence[AllowRule], url: str) -> bool:
    """Whether ``url``'s host itself is on the allow-list (by name, or as an IP address in an
    allowed network): what a WebSub hub over plain http needs, as our secret goes in clear."""
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return False
    try:
        literal: Address | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    return bool(host) and _listed(rules, host, port, literal)


def _listed(rules: Sequence[AllowRule], host: str, port: int, address: Address | None) -> bool:
    name = host.lower().rstrip(".")
    for target, wanted in rules:
        if wanted is not None and wanted != port:
            continue
        if isinstance(target, str):
            if target == name:
                return True
        elif address is not None and address.version == target.version and address in target:
            return True
    return False


class Refused(OperationalError):
    """A connection the rules do not allow; ``host`` and ``port`` say where it was going."""

    def __init__(self, host: str, port: int, address: Address) -> None:
        shown = host if host == str(address) else f"{host} ({address})"
        super().__init__(
            f"{shown} is {refusal(address)} (PUBLISHER_FETCH_ALLOW_HOSTS can allow it)"
        )
        self.host = host
        self.port = port


class Guard(httpcore.SyncBackend):
    """Opens a connection only to an address ``rules`` allow, resolving the name once."""

    def __init__(self, rules: Sequence[AllowRule]) -> None:
        self.rules = tuple(rules)

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = _resolve(host, port)
        allowed = [a for a in addresses if permitted(self.rules, host, port, a)]
        if not allowed:
            raise Refused(host, port, addresses[0])
        failure: httpcore.ConnectError | None = None
        for address in allowed:
            try:
                return super().connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError as exc:
                failure = exc
        assert failure is not None
        raise failure


def _resolve(host: str, port: int) -> list[Address]:
    """``host``'s addresses (one look-up; the literal itself for an IP address)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise httpcore.ConnectError(f"{host}: {exc}") from exc
    found: list[Address] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).partition("%")[0])
        if address not in found:
            found.append(address)
    if not found:
        raise httpcore.ConnectError(f"{host}: no address")
    return found


class _GuardedTransport(httpx.HTTPTransport):
    """httpx's own transport, over a connection pool whose connections ``Guard`` opens (the
    transport takes no network backend, so the pool it made is replaced)."""

    def __init__(self, rules: Sequence[AllowRule]) -> None:
        # The environment may name CA certificates (SSL_CERT_FILE); no proxy is taken from it,
        # as httpx takes none when it is given a transport.
        tls = httpx.create_ssl_context()
        super().__init__(verify=tls)
        self._pool = httpcore.ConnectionPool(ssl_context=tls, network_backend=Guard(rules))


def client(
    rules: Sequence[AllowRule],
    *,
    timeout: float,
    follow_redirects: bool = False,
    max_redirects: int = 0,
    headers: dict[str, str] | None = None,
) -> httpx.Client:
    """An httpx client that connects only where ``rules`` allow (every redirect hop too)."""
    return httpx.Client(
        transport=_GuardedTransport(rules),
        timeout=timeout,
        follow_redirects=follow_redirects,
        max_redirects=max_redirects,
        headers=headers,
        trust_env=False,  # no proxy, no .netrc credentials
    )
