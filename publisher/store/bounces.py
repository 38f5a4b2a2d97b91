"""What mail systems report back (issue 28): bounce and complaint reports and what each did,
the bounce mailbox's polling state, and the webhook events seen."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import and_, case, delete, func, literal, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from publisher.models import AwareDateTime, BounceMailbox, BounceReport, WebhookEvent
from publisher.store.engine import deliveries_t, insert_ignore

__all__ = [
    "BOUNCE_KINDS",
    "MAILBOX",
    "BounceTarget",
    "add_bounce_report",
    "bounce_reports_of",
    "bounce_reports_t",
    "bounce_target",
    "claim_mailbox",
    "clear_bounce_reports",
    "complained_count",
    "edition_rates",
    "mailbox_failed",
    "mailbox_state",
    "mailbox_succeeded",
    "mailbox_t",
    "prune_webhook_events",
    "see_webhook_event",
    "set_report_action",
    "soft_bounces_since",
    "webhook_events_t",
]

bounce_reports_t = BounceReport.__table__  # type: ignore[attr-defined]
mailbox_t = BounceMailbox.__table__  # type: ignore[attr-defined]
webhook_events_t = WebhookEvent.__table__  # type: ignore[attr-defined]

BOUNCE_KINDS = ("hard", "soft")
MAILBOX = "bounces"  # the one mailbox's state row


@dataclass(frozen=True)
class BounceTarget:
    """The delivery a report names, as far as it is still recorded."""

    delivery_id: int
    edition_id: int
    subscriber_id: int
    email: str


def bounce_target(session: Session, delivery_id: int) -> BounceTarget | None:
    """The delivery ``delivery_id`` (None once pruned, or never made)."""
    row = session.execute(
        select(
            deliveries_t.c.id,
            deliveries_t.c.edition_id,
            deliveries_t.c.subscriber_id,
            deliveries_t.c.email,
        ).where(deliveries_t.c.id == delivery_id)
    ).first()
    if row is None:
        return None
    return BounceTarget(int(row.id), int(row.edition_id), int(row.subscriber_id), str(row.email))


def add_bounce_report(session: Session, report: BounceReport) -> int | None:
    """Record a report; its id, or None when one with the same key was recorded before (the
    same report read twice counts once)."""
    values = report.model_dump(exclude={"id"})
    result = session.execute(
        insert_ignore(session)(bounce_reports_t)
        .values(values)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(bounce_reports_t.c.id)
    )
    found = result.scalar()
    return None if found is None else int(found)


def set_report_action(session: Session, report_id: int, action: str) -> None:
    session.execute(
        update(bounce_reports_t).where(bounce_reports_t.c.id == report_id).values(action=action)
    )


def soft_bounces_since(session: Session, subscriber_id: int, since: datetime) -> int:
    """The subscriber's soft bounces since ``since`` not cleared by an admin, each delivery
    once (a provider's event and the mailbox's report of one message are one bounce)."""
    one = func.coalesce(bounce_reports_t.c.delivery_id, -bounce_reports_t.c.id)
    query = select(func.count(func.distinct(one))).where(
        and_(
            bounce_reports_t.c.subscriber_id == subscriber_id,
            bounce_reports_t.c.kind == "soft",
            bounce_reports_t.c.received_at >= since,
            bounce_reports_t.c.cleared_at.is_(None),
        )
    )
    return int(session.scalar(query) or 0)


def clear_bounce_reports(session: Session, subscriber_id: int, *, now: datetime) -> int:
    """An admin cleared the subscriber: their reports so far count no more."""
    result = session.execute(
        update(bounce_reports_t)
        .where(
            and_(
                bounce_reports_t.c.subscriber_id == subscriber_id,
                bounce_reports_t.c.cleared_at.is_(None),
            )
        )
        .values(cleared_at=now)
    )
    return int(cast(CursorResult[Any], result).rowcount)


def bounce_reports_of(
    session: Session, subscriber_id: int, *, limit: int = 100
) -> list[BounceReport]:
    """The reports about a subscriber, newest first."""
    query = (
        select(BounceReport)
        .where(bounce_reports_t.c.subscriber_id == subscriber_id)
        .order_by(bounce_reports_t.c.received_at.desc(), bounce_reports_t.c.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query).all())


def complained_count(session: Session, edition_id: int) -> int:
    """Readers of the edition who reported it as spam, each once."""
    query = select(func.count(func.distinct(bounce_reports_t.c.email))).where(
        and_(bounce_reports_t.c.edition_id == edition_id, bounce_reports_t.c.kind == "complaint")
    )
    return int(session.scalar(query) or 0)


def edition_rates(session: Session, edition_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
    """(bounced, complained) of each edition that has reports: readers, each once."""
    kind, email = bounce_reports_t.c.kind, bounce_reports_t.c.email
    rows = session.execute(
        select(
            bounce_reports_t.c.edition_id,
            func.count(func.distinct(case((kind.in_(BOUNCE_KINDS), email)))),
            func.count(func.distinct(case((kind == "complaint", email)))),
        )
        .where(bounce_reports_t.c.edition_id.in_(list(edition_ids)))
        .group_by(bounce_reports_t.c.edition_id)
    )
    return {int(e): (int(b), int(c)) for e, b, c in rows}


# ---------------------------------------------------------------- the bounce mailbox


def mailbox_state(session: Session) -> BounceMailbox | None:
    return session.get(BounceMailbox, MAILBOX)


def claim_mailbox(session: Session, *, now: datetime, next_at: datetime) -> bool:
    """Take this poll of the mailbox for this process: True for exactly one of the daemons
    that ask while it is due (as ``claim_poll`` does for sources)."""
    session.execute(
        insert_ignore(session)(mailbox_t)
        .values(name=MAILBOX, next_poll_at=now, failures=0, last_error="", read_total=0)
        .on_conflict_do_nothing(index_elements=["name"])
    )
    result = session.execute(
        update(mailbox_t)
        .where(and_(mailbox_t.c.name == MAILBOX, mailbox_t.c.next_poll_at <= now))
        .values(next_poll_at=next_at)
    )
    return cast(CursorResult[Any], result).rowcount == 1


def mailbox_succeeded(session: Session, *, now: datetime, read: int) -> None:
    session.execute(
        update(mailbox_t)
        .where(mailbox_t.c.name == MAILBOX)
        .values(
            last_poll_at=now,
            failures=0,
            last_error="",
            down_since=None,
            read_total=mailbox_t.c.read_total + read,
        )
    )


def mailbox_failed(session: Session, error: str, *, now: datetime) -> int:
    """A poll that failed; how many in a row have now."""
    session.execute(
        update(mailbox_t)
        .where(mailbox_t.c.name == MAILBOX)
        .values(
            last_poll_at=now,
            failures=mailbox_t.c.failures + 1,
            last_error=error[:2000],
            down_since=func.coalesce(mailbox_t.c.down_since, literal(now, AwareDateTime())),
        )
    )
    return int(session.scalar(select(mailbox_t.c.failures).where(mailbox_t.c.name == MAILBOX)) or 0)


# ---------------------------------------------------------------- webhooks


def see_webhook_event(session: Session, provider: str, event_id: str, *, now: datetime) -> bool:
    """Remember a provider's event; False when it was seen before (a replay)."""
    result = session.execute(
        insert_ignore(session)(webhook_events_t)
        .values(provider=provider, event_id=event_id[:200], seen_at=now)
        .on_conflict_do_nothing(index_elements=["provider", "event_id"])
        .returning(webhook_events_t.c.event_id)
    )
    return result.scalar() is not None


def prune_webhook_events(session: Session, *, before: datetime) -> int:
    """Forget events older than the replay window (their timestamps refuse them anyway)."""
    result = session.execute(delete(webhook_events_t).where(webhook_events_t.c.seen_at < before))
    return int(cast(CursorResult[Any], result).rowcount)
