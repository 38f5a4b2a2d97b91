"""Feed state (the last ETag of each feed) and the WebSub notifications still owed."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    and_,
    delete,
    select,
    update,
)
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from publisher.models import (
    WebSubPing,
)
from publisher.store.engine import (
    feed_state_t,
    insert_ignore,
    pings_t,
)

__all__ = ["due_pings", "ping_done", "ping_failed", "queue_pings", "record_feed_etags"]

# ---------------------------------------------------------------- feed state and WebSub


def record_feed_etags(session: Session, etags: dict[str, str], *, now: datetime) -> list[str]:
    """Store each path's ETag; the paths whose ETag changed (new paths count as changed).

    The conditional UPDATE lets exactly one of several daemons see a given change.
    """
    known = {
        row.path
        for row in session.execute(
            select(feed_state_t.c.path).where(feed_state_t.c.path.in_(list(etags)))
        )
    }
    changed: list[str] = []
    fresh = [p for p in etags if p not in known]
    if fresh:
        statement = (
            insert_ignore(session)(feed_state_t)
            .on_conflict_do_nothing(index_elements=["path"])
            .returning(feed_state_t.c.path)
        )
        for path in fresh:
            inserted = session.execute(
                statement, {"path": path, "etag": etags[path], "changed_at": now}
            ).first()
            if inserted is not None:
                changed.append(path)
    for path in known:
        result = session.execute(
            update(feed_state_t)
            .where(and_(feed_state_t.c.path == path, feed_state_t.c.etag != etags[path]))
            .values(etag=etags[path], changed_at=now)
        )
        if cast(CursorResult[Any], result).rowcount:
            changed.append(path)
    return sorted(changed)


def queue_pings(session: Session, feed_urls: Iterable[str], *, now: datetime) -> None:
    """Owe the hub a notification for each URL (one row per URL however often it changes)."""
    rows = [{"feed_url": url, "due_at": now, "attempts": 0, "last_error": ""} for url in feed_urls]
    if not rows:
        return
    statement = insert_ignore(session)(pings_t)
    statement = statement.on_conflict_do_update(
        index_elements=["feed_url"],
        set_={"due_at": now, "attempts": 0, "last_error": ""},
    )
    session.execute(statement, rows)


def due_pings(session: Session, *, now: datetime, limit: int = 100) -> list[WebSubPing]:
    query = select(WebSubPing).where(pings_t.c.due_at <= now).order_by(pings_t.c.due_at)
    return list(session.scalars(query.limit(limit)).all())


def ping_done(session: Session, feed_url: str, *, queued_before: datetime) -> None:
    """Forget a ping that went through, unless the feed changed again meanwhile."""
    session.execute(
        delete(pings_t).where(
            and_(pings_t.c.feed_url == feed_url, pings_t.c.due_at <= queued_before)
        )
    )


def ping_failed(session: Session, feed_url: str, error: str, *, retry_at: datetime) -> None:
    session.execute(
        update(pings_t)
        .where(pings_t.c.feed_url == feed_url)
        .values(attempts=pings_t.c.attempts + 1, last_error=error[:500], due_at=retry_at)
    )
