"""The outbox: one-off mails queued by the web side and sent by the daemon's outbox worker."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from publisher.models import OutboxMessage

__all__ = ["Queued", "claim_outbox", "finish_outbox", "outbox_counts", "outbox_t", "queue_mail"]

outbox_t = OutboxMessage.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Queued:
    id: int
    recipient: str
    message: bytes
    attempts: int


def queue_mail(session: Session, recipient: str, message: bytes, *, now: datetime) -> int:
    """Queue ``message`` for ``recipient``, due now; its id."""
    result = session.execute(
        insert(outbox_t).values(
            recipient=recipient,
            message=message.decode("utf-8"),
            status="pending",
            attempts=0,
            next_attempt_at=now,
            last_error="",
            created_at=now,
        )
    )
    key = cast(CursorResult[Any], result).inserted_primary_key
    assert key is not None
    return int(key[0])


def claim_outbox(
    session: Session, *, now: datetime, lease_until: datetime, limit: int
) -> list[Queued]:
    """Lease up to ``limit`` due messages (pending and due, or leased by a worker that died);
    each is claimed by a conditional update, so two workers never send the same one."""
    due = or_(
        and_(outbox_t.c.status == "pending", outbox_t.c.next_attempt_at <= now),
        and_(outbox_t.c.status == "sending", outbox_t.c.lease_until < now),
    )
    claimed: list[Queued] = []
    rows = session.execute(
        select(outbox_t.c.id, outbox_t.c.status, outbox_t.c.lease_until)
        .where(due)
        .order_by(outbox_t.c.next_attempt_at, outbox_t.c.id)
        .limit(limit)
    ).all()
    for row in rows:
        result = session.execute(
            update(outbox_t)
            .where(and_(outbox_t.c.id == row.id, due))
            .values(status="sending", lease_until=lease_until, attempts=outbox_t.c.attempts + 1)
            .returning(outbox_t.c.recipient, outbox_t.c.message, outbox_t.c.attempts)
        ).first()
        if result is not None:
            claimed.append(
                Queued(row.id, result.recipient, result.message.encode("utf-8"), result.attempts)
            )
    return claimed


def finish_outbox(
    session: Session,
    message_id: int,
    status: str,
    *,
    now: datetime,
    error: str = "",
    retry_at: datetime | None = None,
) -> None:
    """Record how sending went: sent (the message, which holds a live link, is dropped),
    pending again at ``retry_at``, or failed for good."""
    values: dict[str, Any] = {"status": status, "lease_until": None, "last_error": error}
    if status == "sent":
        values.update(sent_at=now, message="")
    elif status == "failed":
        values.update(message="")
    elif retry_at is not None:
        values.update(next_attempt_at=retry_at)
    session.execute(update(outbox_t).where(outbox_t.c.id == message_id).values(values))


def outbox_counts(session: Session) -> dict[str, int]:
    """How many messages are in each status."""
    rows = session.execute(select(outbox_t.c.status, func.count()).group_by(outbox_t.c.status))
    return {status: int(count) for status, count in rows}
