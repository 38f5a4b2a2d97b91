"""The queries behind an edition's progress and figures: counts by status, the send rate,
the servers' replies to failures. Each is one indexed query (ix_deliveries_edition_status),
cheap enough to poll every few seconds while a big edition sends."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, and_, cast, exists, func, select, union
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement, Label

from publisher.models import AwareDateTime, EditionFigures
from publisher.store.bounces import BOUNCE_KINDS, bounce_reports_t
from publisher.store.engine import deliveries_t, editions_t, subscribers_t

__all__ = [
    "bounced_count",
    "edition_status_counts",
    "editions_to_keep",
    "failure_replies",
    "figures_t",
    "keep_figures",
    "kept_figures",
    "sent_per_bucket",
    "sent_since",
    "sent_span",
]

figures_t = EditionFigures.__table__  # type: ignore[attr-defined]


def edition_status_counts(session: Session, edition_id: int) -> dict[str, int]:
    """The edition's deliveries by status."""
    rows = session.execute(
        select(deliveries_t.c.status, func.count())
        .where(deliveries_t.c.edition_id == edition_id)
        .group_by(deliveries_t.c.status)
    )
    return {str(status): int(n) for status, n in rows}


def sent_since(session: Session, edition_id: int, since: datetime) -> int:
    """Messages of the edition the server took at or after ``since``."""
    query = (
        select(func.count())
        .select_from(deliveries_t)
        .where(
            and_(
                deliveries_t.c.edition_id == edition_id,
                deliveries_t.c.status == "sent",
                deliveries_t.c.sent_at >= since,
            )
        )
    )
    return int(session.scalar(query) or 0)


def sent_span(session: Session, edition_id: int) -> tuple[datetime | None, datetime | None]:
    """When the edition's first and last messages were taken."""
    row = session.execute(
        select(
            func.min(deliveries_t.c.sent_at, type_=AwareDateTime()),
            func.max(deliveries_t.c.sent_at, type_=AwareDateTime()),
        ).where(and_(deliveries_t.c.edition_id == edition_id, deliveries_t.c.status == "sent"))
    ).one()
    return row[0], row[1]


def _epoch(session: Session) -> ColumnElement[int]:
    if session.get_bind().dialect.name == "sqlite":
        return cast(func.strftime("%s", deliveries_t.c.sent_at), Integer)
    return cast(func.floor(func.extract("epoch", deliveries_t.c.sent_at)), Integer)


def sent_per_bucket(session: Session, edition_id: int, seconds: int) -> list[tuple[int, int]]:
    """(bucket start as a Unix time, messages taken in it), in time order."""
    bucket: Label[Any]
    if session.get_bind().dialect.name == "sqlite":
        bucket = (_epoch(session) / seconds).label("bucket")  # integer division there
    else:
        bucket = cast(func.floor(_epoch(session) / float(seconds)), Integer).label("bucket")
    rows = session.execute(
        select(bucket, func.count())
        .where(and_(deliveries_t.c.edition_id == edition_id, deliveries_t.c.status == "sent"))
        .group_by(bucket)
        .order_by(bucket)
    )
    return [(int(b) * seconds, int(n)) for b, n in rows]


def failure_replies(session: Session, edition_id: int) -> list[tuple[str, int]]:
    """The servers' replies to the edition's failed deliveries, with how many got each."""
    rows = session.execute(
        select(deliveries_t.c.last_error, func.count())
        .where(and_(deliveries_t.c.edition_id == edition_id, deliveries_t.c.status == "failed"))
        .group_by(deliveries_t.c.last_error)
    )
    return [(str(reply), int(n)) for reply, n in rows]


def bounced_count(session: Session, edition_id: int) -> int:
    """Readers of the edition whose copy bounced, each once: a failed delivery whose address
    is now suppressed as bounced, or a hard or soft bounce reported about their copy."""
    failed = (
        select(deliveries_t.c.email)
        .join(subscribers_t, subscribers_t.c.id == deliveries_t.c.subscriber_id)
        .where(
            and_(
                deliveries_t.c.edition_id == edition_id,
                deliveries_t.c.status == "failed",
                subscribers_t.c.status == "bounced",
            )
        )
    )
    reported = select(bounce_reports_t.c.email).where(
        and_(
            bounce_reports_t.c.edition_id == edition_id,
            bounce_reports_t.c.kind.in_(BOUNCE_KINDS),
        )
    )
    either = union(failed, reported).subquery()
    return int(session.scalar(select(func.count()).select_from(either)) or 0)


def kept_figures(session: Session, edition_ids: Sequence[int]) -> dict[int, EditionFigures]:
    """The figures kept for editions whose deliveries were pruned, by edition."""
    rows = session.scalars(
        select(EditionFigures).where(
            EditionFigures.edition_id.in_(list(edition_ids))  # type: ignore[attr-defined]
        )
    )
    return {row.edition_id: row for row in rows}


def editions_to_keep(session: Session, *, before: datetime) -> list[int]:
    """Editions made before ``before`` that have finished deliveries and no kept figures."""
    finished = (
        exists()
        .where(deliveries_t.c.edition_id == editions_t.c.id)
        .where(deliveries_t.c.status.in_(("sent", "failed", "cancelled")))
    )
    query = (
        select(editions_t.c.id)
        .where(
            and_(
                editions_t.c.created_at < before,
                finished,
                editions_t.c.id.not_in(select(figures_t.c.edition_id).scalar_subquery()),
            )
        )
        .order_by(editions_t.c.id)
    )
    return [int(i) for i in session.scalars(query)]


def keep_figures(session: Session, figures: EditionFigures) -> None:
    session.add(figures)
