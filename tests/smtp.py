"""A real SMTP server for the tests (aiosmtpd), recording what it accepts, failing on demand."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.browser import free_port


@dataclass
class Received:
    sender: str
    recipient: str
    data: bytes

    def parsed(self) -> EmailMessage:
        message = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(message, EmailMessage)
        return message


@dataclass
class Recorder:
    """The handler: ``plans`` maps an address to replies to give its next RCPTs (e.g.
    ``["451 4.3.0 try later"]``); ``delay`` slows every DATA a little. ``pipelining``: offer
    PIPELINING (RFC 2920) in reply to EHLO, as Postfix and most servers do (off by default,
    as aiosmtpd has it; it reads pipelined commands in order either way).
    ``drop_after_data``: addresses whose next message is received and then the connection
    dropped before the reply."""

    received: list[Received] = field(default_factory=list)
    plans: dict[str, list[str]] = field(default_factory=dict)
    delay: float = 0.0
    lock: threading.RLock = field(default_factory=threading.RLock)
    arrived: threading.Condition = field(init=False)
    # Cleared: every DATA waits until it is set (to hold senders at a known point).
    gate: threading.Event = field(default_factory=lambda: _opened(threading.Event()))
    waiting: int = 0  # messages held at the gate right now
    pipelining: bool = False
    drop_after_data: set[str] = field(default_factory=set)
    greeted: int = 0  # EHLOs answered: the connections opened

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname
        with self.lock:
            self.greeted += 1
        if self.pipelining:
            responses.insert(1, "250-PIPELINING")
        return responses

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        with self.lock:
            plan = self.plans.get(address.lower())
            reply = plan.pop(0) if plan else None
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if not self.gate.is_set():
            self.waiting += 1
            while not self.gate.is_set():
                await asyncio.sleep(0.01)
            self.waiting -= 1
        if self.delay:
            await asyncio.sleep(self.delay)
        content = envelope.original_content or b""
        with self.arrived:
            for recipient in envelope.rcpt_tos:
                self.received.append(Received(envelope.mail_from or "", recipient.lower(), content))
            self.arrived.notify_all()
            dropped = self.drop_after_data & {r.lower() for r in envelope.rcpt_tos}
            self.drop_after_data -= dropped
        if dropped and isinstance(server.transport, asyncio.Transport):
            server.transport.abort()  # received, but the sender never hears so
        return "250 OK: queued"

    def wait_for(self, count: int, timeout: float = 15.0) -> list[Received]:
        """What was received, once ``count`` messages are in (a sender in another thread)."""
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.received) >= count, timeout)
            return list(self.received)

    def __post_init__(self) -> None:
        self.arrived = threading.Condition(self.lock)

    def counts(self) -> Counter[str]:
        with self.lock:
            return Counter(r.recipient for r in self.received)


def _opened(event: threading.Event) -> threading.Event:
    event.set()
    return event


class SmtpServer:
    """aiosmtpd on a loopback port that stays the same across stop() and start()."""

    def __init__(self, recorder: Recorder | None = None, **options: Any) -> None:
        """``options`` go to aiosmtpd: ``tls_context`` and ``require_starttls`` for STARTTLS,
        ``ssl_context`` for implicit TLS, ``authenticator`` and ``auth_required``, say."""
        self.recorder = recorder or Recorder()
        self.port = free_port()
        self.url = f"smtp://127.0.0.1:{self.port}"
        self.controller: Controller | None = None
        self.options = options

    def start(self) -> None:
        kwargs: dict[str, Any] = {
            "data_size_limit": 10 * 1024 * 1024,
            "decode_data": False,
            **self.options,
        }
        self.controller = Controller(
            self.recorder, hostname="127.0.0.1", port=self.port, ready_timeout=10, **kwargs
        )
        for _ in range(50):
            try:
                self.controller.start()
                return
            except OSError:  # the port is still in TIME_WAIT from the last run
                time.sleep(0.1)
        raise RuntimeError(f"cannot listen on {self.port}")

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None
