"""The outbox worker: sends the one-off mails the web side queued (confirmations, access
links), so that no visitor's request waits on, or learns anything from, the mail server.
A temporary failure is retried with back-off; the server's reply goes to the log only."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Engine

from publisher import store
from publisher.mail.mime import envelope_sender
from publisher.mail.transports import DeliveryError, Transport, make_transport
from publisher.settings import Settings

__all__ = ["BATCH", "LEASE", "POLL_SECONDS", "send_due", "work"]

log = logging.getLogger(__name__)
POLL_SECONDS = 2.0
LEASE = timedelta(minutes=5)
BATCH = 50


def send_due(
    engine: Engine,
    settings: Settings,
    *,
    now: datetime,
    transport_factory: Callable[[], Transport] | None = None,
) -> tuple[int, int]:
    """Send every queued mail that is due; (sent, not sent this time). Stops at an outage
    (the rest waits for the next round)."""
    with store.writing(engine) as session:
        due = store.claim_outbox(session, now=now, lease_until=now + LEASE, limit=BATCH)
    if not due:
        return 0, 0
    smtp_url = settings.smtp_url.get_secret_value() if settings.smtp_url else None
    factory = transport_factory or (lambda: make_transport(smtp_url, settings.var_dir / "mail"))
    sender = envelope_sender(settings.mail_from)
    transport = factory()
    sent = 0
    try:
        for index, item in enumerate(due):
            try:
                transport.send(sender, item.recipient, item.message)
            except DeliveryError as exc:
                retry = exc.temporary and item.attempts < settings.send_max_attempts
                wait = timedelta(seconds=settings.send_retry_base * 2 ** (item.attempts - 1))
                log.warning(
                    "outbox: mail %d to %s not sent (%s); %s",
                    item.id,
                    item.recipient,
                    exc.reply,
                    f"trying again in {wait}" if retry else "giving up",
                )
                with store.writing(engine) as session:
                    store.finish_outbox(
                        session,
                        item.id,
                        "pending" if retry else "failed",
                        now=now,
                        error=exc.reply,
                        retry_at=now + wait,
                    )
                if exc.server_down or (exc.temporary and exc.code == 0):
                    _give_back(engine, [q.id for q in due[index + 1 :]], now)
                    break
                continue
            sent += 1
            with store.writing(engine) as session:
                store.finish_outbox(session, item.id, "sent", now=now)
    finally:
        transport.close()
    return sent, len(due) - sent


def _give_back(engine: Engine, ids: list[int], now: datetime) -> None:
    with store.writing(engine) as session:
        for message_id in ids:
            store.finish_outbox(session, message_id, "pending", now=now, retry_at=now)


def work(
    engine: Engine,
    settings: Settings,
    stop: threading.Event,
    *,
    clock: Callable[[], datetime],
    every: float = POLL_SECONDS,
    transport_factory: Callable[[], Transport] | None = None,
) -> None:
    """Send queued mail every ``every`` seconds until ``stop`` is set; a failure is logged
    and tried again on the next round."""
    while not stop.is_set():
        try:
            send_due(engine, settings, now=clock(), transport_factory=transport_factory)
        except Exception:
            log.exception("outbox: sending failed; trying again in %s s", every)
        stop.wait(every)
