"""Subscribers as the newsroom finds them (search, filters, pages, counts) and what the
database already records about one of them (link requests, deliveries, one-off mails)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, exists, func, not_, or_, select, true
from sqlalchemy.orm import Session

from publisher.models import Confirmation, OutboxMessage, Subscriber
from publisher.store.audit import changes, record
from publisher.store.clicks import link_readers_t, tracked_links_t
from publisher.store.engine import (
    categories_t,
    deliveries_t,
    editions_t,
    interests_t,
    subscribers_t,
    subscriptions_t,
)
from publisher.store.outbox import outbox_t
from publisher.store.subscribers import confirmations_t, interests_of, subscriptions_of

__all__ = [
    "EVERY_CATEGORY",
    "SUBSCRIBER",
    "Received",
    "SubscriberFilter",
    "delete_subscriber_by_id",
    "deliveries_count",
    "mails_to",
    "matching",
    "matching_count",
    "matching_ids",
    "received_by",
    "record_subscriber_change",
    "requests_of",
    "subscriber_snapshot",
    "subscriber_status_counts",
    "subscriber_where",
    "subscribers_by_ids",
]

EVERY_CATEGORY = "*"  # the category filter for those who chose none (they get every one)


@dataclass(frozen=True)
class SubscriberFilter:
    """Which subscribers: ``text`` in the address or the name, a status, a digest they
    receive, a category they chose (EVERY_CATEGORY: none chosen), joined on or after
    ``joined_from`` and before ``joined_to``, followed a link in one of the last
    ``clicked_in`` editions sent (individual click tracking keeps who), wanting breaking
    news (``breaking``). Empty: any."""

    text: str = ""
    status: str = ""
    digest: str = ""
    category: str = ""
    joined_from: datetime | None = None
    joined_to: datetime | None = None
    clicked_in: int = 0
    breaking: bool = False


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _where(chosen: SubscriberFilter) -> ColumnElement[bool]:
    conditions: list[ColumnElement[bool]] = []
    text = chosen.text.strip().lower()
    if text:
        pattern = _like(text)
        conditions.append(
            or_(
                subscribers_t.c.email.like(pattern, escape="\\"),
                func.lower(subscribers_t.c.name).like(pattern, escape="\\"),
            )
        )
    if chosen.status:
        conditions.append(subscribers_t.c.status == chosen.status)
    if chosen.digest:
        conditions.append(
            exists().where(
                and_(
                    subscriptions_t.c.subscriber_id == subscribers_t.c.id,
                    subscriptions_t.c.digest == chosen.digest,
                )
            )
        )
    if chosen.category == EVERY_CATEGORY:
        conditions.append(not_(exists().where(interests_t.c.subscriber_id == subscribers_t.c.id)))
    elif chosen.category:
        conditions.append(
            exists().where(
                and_(
                    interests_t.c.subscriber_id == subscribers_t.c.id,
                    interests_t.c.category_id == categories_t.c.id,
                    categories_t.c.slug == chosen.category,
                )
            )
        )
    if chosen.joined_from is not None:
        conditions.append(subscribers_t.c.created_at >= chosen.joined_from)
    if chosen.joined_to is not None:
        conditions.append(subscribers_t.c.created_at < chosen.joined_to)
    if chosen.clicked_in > 0:
        conditions.append(_clicked(chosen.clicked_in))
    if chosen.breaking:
        conditions.append(subscribers_t.c.breaking == true())
    return and_(true(), *conditions)


def _clicked(editions: int) -> ColumnElement[bool]:
    """They followed a tracked link in one of the last ``editions`` editions that went out."""
    recent = (
        select(editions_t.c.id)
        .where(editions_t.c.status.in_(("sending", "sent", "paused", "cancelled")))
        .order_by(editions_t.c.nominal_at.desc(), editions_t.c.id.desc())
        .limit(editions)
    )
    return exists().where(
        and_(
            link_readers_t.c.subscriber_id == subscribers_t.c.id,
            link_readers_t.c.link_id == tracked_links_t.c.id,
            tracked_links_t.c.edition_id.in_(recent.scalar_subquery()),
        )
    )


def subscriber_where(chosen: SubscriberFilter) -> ColumnElement[bool]:
    """The SQL condition on ``subscribers`` that ``chosen`` stands for (built here from the
    filter's values, never from text anyone typed)."""
    return _where(chosen)


def matching_count(session: Session, chosen: SubscriberFilter) -> int:
    query = select(func.count()).select_from(subscribers_t).where(_where(chosen))
    return int(session.scalar(query) or 0)


def matching(
    session: Session, chosen: SubscriberFilter, *, offset: int, limit: int
) -> list[Subscriber]:
    """One page of the matching subscribers, newest first."""
    query = (
        select(Subscriber)
        .where(_where(chosen))
        .order_by(subscribers_t.c.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return list(session.scalars(query).all())


def matching_ids(
    session: Session, chosen: SubscriberFilter, *, statuses: Sequence[str] = ()
) -> list[int]:
    """Every matching subscriber's id (with one of ``statuses``, when given), in order."""
    query = select(subscribers_t.c.id).where(_where(chosen)).order_by(subscribers_t.c.id)
    if statuses:
        query = query.where(subscribers_t.c.status.in_(list(statuses)))
    return [int(i) for i in session.scalars(query)]


def subscriber_status_counts(session: Session) -> dict[str, int]:
    query = select(subscribers_t.c.status, func.count()).group_by(subscribers_t.c.status)
    return {str(status): int(count) for status, count in session.execute(query)}


def subscribers_by_ids(session: Session, ids: Sequence[int]) -> list[Subscriber]:
    """The subscribers of ``ids`` (at most a few thousand: each is a query parameter)."""
    query = select(Subscriber).where(subscribers_t.c.id.in_(list(ids))).order_by(subscribers_t.c.id)
    return list(session.scalars(query).all())


def delete_subscriber_by_id(session: Session, subscriber_id: int) -> bool:
    result: Any = session.execute(delete(subscribers_t).where(subscribers_t.c.id == subscriber_id))
    return bool(result.rowcount)


# ---------------------------------------------------------------- what is recorded of one


@dataclass(frozen=True)
class Received:
    """An edition addressed to the subscriber, and what became of it."""

    edition_id: int
    digest: str
    nominal_at: datetime
    subject: str
    status: str  # pending, sending, sent, retry, failed
    attempts: int
    sent_at: datetime | None
    reply: str  # the mail server's last answer when it refused or failed


def requests_of(session: Session, subscriber_id: int, *, limit: int = 50) -> list[Confirmation]:
    """Their sign-up (confirm) and "Your subscription" (access) link requests, newest first."""
    query = (
        select(Confirmation)
        .where(confirmations_t.c.subscriber_id == subscriber_id)
        .order_by(confirmations_t.c.sent_at.desc(), confirmations_t.c.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query).all())


def received_by(session: Session, subscriber_id: int, *, limit: int = 100) -> list[Received]:
    """The editions addressed to them (newest first) with each delivery's outcome."""
    query = (
        select(
            editions_t.c.id,
            editions_t.c.digest,
            editions_t.c.nominal_at,
            editions_t.c.subject,
            deliveries_t.c.status,
            deliveries_t.c.attempts,
            deliveries_t.c.sent_at,
            deliveries_t.c.last_error,
        )
        .join(editions_t, editions_t.c.id == deliveries_t.c.edition_id)
        .where(deliveries_t.c.subscriber_id == subscriber_id)
        .order_by(editions_t.c.nominal_at.desc(), editions_t.c.id.desc())
        .limit(limit)
    )
    return [
        Received(
            int(row[0]),
            str(row[1]),
            row[2],
            str(row[3]),
            str(row[4]),
            int(row[5]),
            row[6],
            str(row[7] or ""),
        )
        for row in session.execute(query)
    ]


def deliveries_count(session: Session, subscriber_id: int) -> int:
    query = (
        select(func.count())
        .select_from(deliveries_t)
        .where(deliveries_t.c.subscriber_id == subscriber_id)
    )
    return int(session.scalar(query) or 0)


def mails_to(session: Session, address: str, *, limit: int = 20) -> list[OutboxMessage]:
    """One-off mails (confirmation and access links) queued for ``address``, newest first."""
    query = (
        select(OutboxMessage)
        .where(outbox_t.c.recipient == address)
        .order_by(outbox_t.c.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query).all())


# ---------------------------------------------------------------- the audit trail of one

SUBSCRIBER = "subscriber"  # the audit trail's kind for subscribers


def subscriber_snapshot(session: Session, subscriber_id: int) -> dict[str, str]:
    """What the audit trail keeps of a subscriber before and after a change (empty when
    there is no such subscriber): name, status, digests, categories, breaking news and
    languages, as words."""
    found = session.execute(
        select(
            subscribers_t.c.name,
            subscribers_t.c.status,
            subscribers_t.c.breaking,
            subscribers_t.c.language,
            subscribers_t.c.languages,
        ).where(subscribers_t.c.id == subscriber_id)
    ).first()
    if found is None:
        return {}
    digests = subscriptions_of(session, [subscriber_id])[subscriber_id]
    topics = interests_of(session, [subscriber_id])[subscriber_id]
    return {
        "name": str(found.name),
        "status": str(found.status),
        "digests": " ".join(digests) or "none",
        "categories": " ".join(topics) or "all",
        "breaking news": "yes" if found.breaking else "no",
        "language": str(found.language) or "the site's",
        "story languages": str(found.languages) or "all",
    }


def record_subscriber_change(
    session: Session,
    subscriber_id: int,
    before: dict[str, str],
    *,
    actor: str,
    action: str,
    label: str,
    now: datetime,
    always: bool = False,
) -> bool:
    """Record in the audit trail what changed of the subscriber since ``before`` (their
    snapshot); nothing when nothing did, unless ``always``. Whether an entry was made."""
    after = subscriber_snapshot(session, subscriber_id)
    old, new = changes(before, after) if after else (before, {})
    if not (old or new or always):
        return False
    record(
        session,
        actor=actor,
        action=action,
        kind=SUBSCRIBER,
        subject_id=subscriber_id,
        label=label,
        before=old or None,
        after=new or None,
        now=now,
    )
    return True
