"""The newsroom's figures: counts and short lists, each one query bounded by an index or a
LIMIT, so that the dashboard costs the same with ten subscribers or a million."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Integer, and_, cast, func, select
from sqlalchemy.orm import Session

from publisher.models import Article, AuditEntry, Report
from publisher.store.audit import audit_t
from publisher.store.deliveries import OPEN_DELIVERY
from publisher.store.engine import articles_t, deliveries_t, subscribers_t
from publisher.store.outbox import outbox_t
from publisher.store.reports import reports_t
from publisher.store.workers import workers_t

# Sign-ups are counted in 15-minute UTC buckets, which every time zone in use today (whole,
# half and quarter hours from UTC) folds into its own local days exactly, on both backends:
# SQLite has no time zones, and this needs none.
BUCKET_SECONDS = 900


def subscriber_statuses(session: Session) -> dict[str, int]:
    """How many subscribers have each status (ix_subscribers_status)."""
    rows = session.execute(
        select(subscribers_t.c.status, func.count()).group_by(subscribers_t.c.status)
    )
    return {status: int(count) for status, count in rows}


def _epoch_bucket(session: Session, column: Any) -> Any:
    if session.get_bind().dialect.name == "sqlite":
        # AwareDateTime keeps UTC text on SQLite; strftime('%s') reads it as UTC.
        seconds = cast(func.strftime("%s", column), Integer)
    else:
        seconds = cast(func.floor(func.extract("epoch", column)), BigInteger)
    return seconds // BUCKET_SECONDS


def signups(session: Session, *, since: datetime, until: datetime) -> list[tuple[datetime, int]]:
    """Subscribers created in [since, until), as (start of a 15-minute UTC bucket, count),
    oldest first: a GROUP BY in the database, at most 96 rows a day."""
    column = subscribers_t.c.created_at
    inner = (
        select(_epoch_bucket(session, column).label("bucket"))
        .where(and_(column >= since, column < until))
        .subquery()
    )
    rows = session.execute(
        select(inner.c.bucket, func.count()).group_by(inner.c.bucket).order_by(inner.c.bucket)
    )
    return [
        (datetime.fromtimestamp(int(bucket) * BUCKET_SECONDS, since.tzinfo), int(count))
        for bucket, count in rows
    ]


def queue_counts(session: Session, *, now: datetime) -> dict[str, int]:
    """The deliveries not finished yet by status, and ``due``: how many a worker may take
    now (ix_deliveries_open: only open rows are read)."""
    found = {status: 0 for status in OPEN_DELIVERY}
    for status, count in session.execute(
        select(deliveries_t.c.status, func.count())
        .where(deliveries_t.c.status.in_(OPEN_DELIVERY))
        .group_by(deliveries_t.c.status)
    ):
        found[status] = int(count)
    # The partial index's own condition, word for word, so that SQLite's planner uses it.
    due = and_(
        deliveries_t.c.status.in_(OPEN_DELIVERY),
        deliveries_t.c.status != "sending",
        deliveries_t.c.next_attempt_at <= now,
    )
    found["due"] = int(
        session.scalar(select(func.count()).select_from(deliveries_t).where(due)) or 0
    )
    return found


def outbox_waiting(session: Session) -> int:
    """One-off mails (confirmations, access links) not sent yet (ix_outbox_due)."""
    query = (
        select(func.count())
        .select_from(outbox_t)
        .where(outbox_t.c.status.in_(("pending", "sending")))
    )
    return int(session.scalar(query) or 0)


def live_workers(session: Session, *, beat_since: datetime) -> int:
    """Sending processes whose heartbeat is newer than ``beat_since``."""
    query = select(func.count()).select_from(workers_t).where(workers_t.c.beat_at >= beat_since)
    return int(session.scalar(query) or 0)


def open_reports(session: Session, *, limit: int) -> tuple[int, list[Report]]:
    """How many reports are open, and the newest ``limit`` of them (ix_reports_status)."""
    is_open = reports_t.c.status == "open"
    count = session.scalar(select(func.count()).select_from(reports_t).where(is_open))
    newest = session.scalars(
        select(Report).where(is_open).order_by(reports_t.c.id.desc()).limit(limit)
    ).all()
    return int(count or 0), list(newest)


def scheduled_articles(session: Session, *, now: datetime, limit: int) -> tuple[int, list[Article]]:
    """How many articles are scheduled (published, with a time still to come), and the
    ``limit`` soonest (ix_articles_status_published)."""
    later = and_(articles_t.c.status == "published", articles_t.c.published_at > now)
    count = session.scalar(select(func.count()).select_from(articles_t).where(later))
    soonest = session.scalars(
        select(Article)
        .where(later)
        .order_by(articles_t.c.published_at, articles_t.c.id)
        .limit(limit)
    ).all()
    return int(count or 0), list(soonest)


def audit_ids(session: Session) -> tuple[int, int]:
    """The smallest and largest audit entry ids (0, 0 when there is none)."""
    # Two queries: each alone is one step down the primary key; together SQLite scans.
    low = session.scalar(select(func.min(audit_t.c.id)))
    high = session.scalar(select(func.max(audit_t.c.id)))
    return int(low or 0), int(high or 0)


def audit_page(
    session: Session,
    *,
    kinds: Sequence[str] | None = None,
    actor: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_id: int | None = None,
    above_id: int | None = None,
    limit: int = 50,
) -> list[AuditEntry]:
    """Audit entries newest first, ``kinds`` (None: any), ``actor`` and ``action`` exact,
    ``at`` in [since, until), id in (above_id, before_id): keyset pages on the primary key,
    so a page reads at most the ids between the two bounds."""
    query = select(AuditEntry).order_by(audit_t.c.id.desc()).limit(limit)
    conditions = []
    if kinds is not None:
        # Through an expression, so that no planner sorts every entry of a kind by id (the
        # kind's index is by subject) instead of walking the primary key down.
        conditions.append((audit_t.c.subject_kind + "").in_(list(kinds)))
    if actor is not None:
        conditions.append(audit_t.c.actor == actor)
    if action is not None:
        conditions.append(audit_t.c.action == action)
    if since is not None:
        conditions.append(audit_t.c.at >= since)
    if until is not None:
        conditions.append(audit_t.c.at < until)
    if before_id is not None:
        conditions.append(audit_t.c.id < before_id)
    if above_id is not None:
        conditions.append(audit_t.c.id > above_id)
    if conditions:
        query = query.where(and_(*conditions))
    return list(session.scalars(query).all())


__all__ = [
    "BUCKET_SECONDS",
    "audit_ids",
    "audit_page",
    "live_workers",
    "open_reports",
    "outbox_waiting",
    "queue_counts",
    "scheduled_articles",
    "signups",
    "subscriber_statuses",
]
