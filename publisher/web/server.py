"""Serving the app with uvicorn, within limits, stopping cleanly on the signal the daemon
handles.

uvicorn bounds the wait between requests (keep-alive) but not the wait for a request's head:
a socket that connects and sends nothing, or a header a byte at a time, stays open for ever
(issue 16: three slow sockets stayed open 75 s). ``_HeadDeadline`` adds that bound, and a
size bound on the head that holds for httptools too (uvicorn's only covers h11).
"""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.h11_impl import H11Protocol

from publisher.settings import Settings

__all__ = ["serve", "server_config"]

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _Base
except ImportError:  # no httptools (PyPy): uvicorn's pure-Python h11 protocol
    _Base = H11Protocol  # type: ignore[assignment, misc]

_TIMEOUT = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
_TOO_BIG = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n"
    b"connection: close\r\n\r\n"
)


class _HeadDeadline(_Base):
    """A request head must be complete within ``header_timeout`` seconds of the connection
    (or of its first byte, after a keep-alive wait) and within ``max_header_bytes``; a
    client that fails either is answered 408 or 431 and the connection is closed."""

    header_timeout = 10.0
    max_header_bytes = 16 * 1024

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_bytes = 0
        self._head_timer: asyncio.TimerHandle | None = None
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        awaiting = self._awaiting_head()
        if awaiting:
            self._arm_head_timer()
            self._head_bytes += len(data)
        super().data_received(data)
        if not awaiting:
            return
        if not self._awaiting_head():  # the head is complete: the app has the request
            self._disarm_head_timer()
            self._head_bytes = 0
        elif self._head_bytes > self.max_header_bytes and not self.transport.is_closing():
            self._refuse(_TOO_BIG)

    def _awaiting_head(self) -> bool:
        return self.cycle is None or bool(self.cycle.response_complete)

    def _arm_head_timer(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.header_timeout, self._head_late)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_late(self) -> None:
        self._head_timer = None
        if self._awaiting_head() and not self.transport.is_closing():
            self._refuse(_TIMEOUT if self._head_bytes else b"")

    def _refuse(self, answer: bytes) -> None:
        self._disarm_head_timer()
        if answer:
            self.transport.write(answer)
        self.transport.close()


class _Server(uvicorn.Server):
    """uvicorn re-raises SIGTERM after a graceful stop, so the process would die of the
    signal; ops (and systemd) expect a clean exit 0 after a clean shutdown."""

    def handle_exit(self, sig: int, frame: Any) -> None:
        super().handle_exit(sig, frame)
        self._captured_signals.clear()


def server_config(
    app: FastAPI, settings: Settings, *, host: str, port: int, access_log: bool = False
) -> uvicorn.Config:
    """uvicorn's configuration for ``app``, with the limits of the PUBLISHER_HTTP_* settings."""
    protocol = type(
        "HeadDeadline",
        (_HeadDeadline,),
        {
            "header_timeout": settings.http_header_timeout,
            "max_header_bytes": settings.http_max_header_bytes,
        },
    )
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=protocol,
        access_log=access_log,
        # X-Forwarded-For is the app's business, from PUBLISHER_TRUSTED_PROXIES only: uvicorn
        # would otherwise believe it from 127.0.0.1 (its forwarded_allow_ips default).
        proxy_headers=False,
        server_header=False,  # no "server: uvicorn" to tell a visitor what to aim at
        timeout_keep_alive=settings.http_keep_alive,
        limit_concurrency=settings.http_max_connections,
        backlog=settings.http_backlog,
        h11_max_incomplete_event_size=settings.http_max_header_bytes,
        log_config=None,  # log through the process's handlers (text or JSON, see cli)
    )


def serve(app: FastAPI, settings: Settings, *, host: str, port: int) -> None:
    """Serve ``app`` until SIGTERM or SIGINT, then return normally."""
    _Server(server_config(app, settings, host=host, port=port)).run()
