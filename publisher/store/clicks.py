"""Tracked links and the readers who followed them; unsubscribes through an edition's links."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Interval, and_, delete, func, literal, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from publisher.models import EditionUnsubscribe, LinkReader, TrackedLink
from publisher.store.engine import deliveries_t, editions_t, insert_ignore

tracked_links_t = TrackedLink.__table__  # type: ignore[attr-defined]
link_readers_t = LinkReader.__table__  # type: ignore[attr-defined]
edition_unsubscribes_t = EditionUnsubscribe.__table__  # type: ignore[attr-defined]


def edition_exists(session: Session, edition_id: int) -> bool:
    found = session.scalar(select(editions_t.c.id).where(editions_t.c.id == edition_id))
    return found is not None


def tracked_link(session: Session, edition_id: int, url: str, *, now: datetime) -> int:
    """The id of edition ``edition_id``'s link to ``url``, made if it is the first click."""
    digest = hashlib.sha256(url.encode("utf-8")).hexdigest()
    session.execute(
        insert_ignore(session)(tracked_links_t)
        .values(
            edition_id=edition_id, url_hash=digest, url=url, readers=0, ignored=0, created_at=now
        )
        .on_conflict_do_nothing(index_elements=["edition_id", "url_hash"])
    )
    found = session.scalar(
        select(tracked_links_t.c.id).where(
            and_(tracked_links_t.c.edition_id == edition_id, tracked_links_t.c.url_hash == digest)
        )
    )
    return int(found or 0)


def ignore_click(session: Session, link_id: int) -> None:
    session.execute(
        update(tracked_links_t)
        .where(tracked_links_t.c.id == link_id)
        .values(ignored=tracked_links_t.c.ignored + 1)
    )


def count_reader(
    session: Session,
    link_id: int,
    reader: str,
    *,
    subscriber_id: int | None,
    at: datetime | None,
) -> bool:
    """Count ``reader`` on the link once; True when this was their first click on it."""
    result = session.execute(
        insert_ignore(session)(link_readers_t)
        .values(link_id=link_id, reader=reader, subscriber_id=subscriber_id, at=at)
        .on_conflict_do_nothing(index_elements=["link_id", "reader"])
        .returning(link_readers_t.c.link_id)
    )
    if result.first() is None:  # counted before
        return False
    session.execute(
        update(tracked_links_t)
        .where(tracked_links_t.c.id == link_id)
        .values(readers=tracked_links_t.c.readers + 1)
    )
    return True


def link_counts(session: Session, edition_id: int) -> dict[str, tuple[int, int]]:
    """url -> (readers, ignored) of an edition's followed links."""
    rows = session.execute(
        select(tracked_links_t.c.url, tracked_links_t.c.readers, tracked_links_t.c.ignored).where(
            tracked_links_t.c.edition_id == edition_id
        )
    )
    return {str(r.url): (int(r.readers), int(r.ignored)) for r in rows}


def prune_link_readers(session: Session, *, before: datetime) -> int:
    """Delete who-clicked rows of editions made before ``before``; the counts stay."""
    old = (
        select(tracked_links_t.c.id)
        .join(editions_t, editions_t.c.id == tracked_links_t.c.edition_id)
        .where(editions_t.c.created_at < before)
    )
    result = session.execute(
        delete(link_readers_t).where(link_readers_t.c.link_id.in_(old.scalar_subquery()))
    )
    return max(cast(CursorResult[Any], result).rowcount, 0)


# ---------------------------------------------------------------- unsubscribes


# A copy of the mail is made just before it is handed over; its delivery's sent_at is when the
# server took it (seconds later, or minutes on a slow server).
MADE_BEFORE_SENT = timedelta(minutes=5)


def record_unsubscribe(
    session: Session, subscriber_id: int, *, made: datetime, now: datetime
) -> int | None:
    """Note that the subscriber left through a link in the copy of the mail made at ``made``
    (read from the link's token): the edition whose delivery to them was sent then; its id,
    or None when no such delivery is known (a link from elsewhere, pruned deliveries)."""
    made_floor = made.replace(microsecond=0)
    found = session.execute(
        select(deliveries_t.c.edition_id, deliveries_t.c.sent_at)
        .where(
            and_(
                deliveries_t.c.subscriber_id == subscriber_id,
                deliveries_t.c.status == "sent",
                deliveries_t.c.sent_at >= made_floor - timedelta(seconds=1),
                deliveries_t.c.sent_at <= made_floor + MADE_BEFORE_SENT,
            )
        )
        .order_by(deliveries_t.c.sent_at)
        .limit(1)
    ).first()
    if found is None:
        return None
    session.execute(
        edition_unsubscribes_t.insert().values(
            edition_id=found.edition_id, subscriber_id=subscriber_id, sent_at=found.sent_at, at=now
        )
    )
    return int(found.edition_id)


def unsubscribes_within(session: Session, edition_id: int, days: int) -> int:
    """Readers who left through the edition's links within ``days`` of their copy."""
    window: Any = edition_unsubscribes_t.c.sent_at + literal(timedelta(days=days), Interval())
    if session.get_bind().dialect.name == "sqlite":
        # SQLite has no interval arithmetic: compare the stored text forms.
        window = func.datetime(edition_unsubscribes_t.c.sent_at, f"+{days} days")
        limit = func.datetime(edition_unsubscribes_t.c.at)
    else:
        limit = edition_unsubscribes_t.c.at
    query = (
        select(func.count())
        .select_from(edition_unsubscribes_t)
        .where(and_(edition_unsubscribes_t.c.edition_id == edition_id, limit <= window))
    )
    return int(session.scalar(query) or 0)


__all__ = [
    "MADE_BEFORE_SENT",
    "count_reader",
    "edition_exists",
    "edition_unsubscribes_t",
    "ignore_click",
    "link_counts",
    "link_readers_t",
    "prune_link_readers",
    "record_unsubscribe",
    "tracked_link",
    "tracked_links_t",
    "unsubscribes_within",
]
