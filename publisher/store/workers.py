"""Sending processes: registered with a heartbeat; a dead one's leases go back at once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from publisher.models import AwareDateTime, Worker
from publisher.store.engine import deliveries_t

__all__ = [
    "WorkerRow",
    "beat",
    "evict_workers",
    "held_by_others",
    "register_worker",
    "release_leases_of",
    "suspect_workers",
    "unregister_worker",
    "workers_t",
]

workers_t = Worker.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class WorkerRow:
    id: str
    host: str
    pid: int
    proc_start: str
    beat_at: datetime


def register_worker(
    session: Session, worker_id: str, *, host: str, pid: int, proc_start: str, now: datetime
) -> None:
    session.execute(
        insert(workers_t).values(
            id=worker_id, host=host, pid=pid, proc_start=proc_start, started_at=now, beat_at=now
        )
    )


def beat(session: Session, worker_id: str, *, now: datetime) -> bool:
    """Record that the worker is alive; False when another process judged it dead."""
    result = session.execute(
        update(workers_t).where(workers_t.c.id == worker_id).values(beat_at=now)
    )
    return cast(CursorResult[Any], result).rowcount > 0


def suspect_workers(session: Session, *, host: str, stale_before: datetime) -> list[WorkerRow]:
    """Workers whose heartbeat stopped, and every worker on ``host`` (whose process the
    caller can look for)."""
    rows = session.execute(
        select(workers_t).where(or_(workers_t.c.beat_at < stale_before, workers_t.c.host == host))
    )
    return [WorkerRow(r.id, r.host, r.pid, r.proc_start, r.beat_at) for r in rows]


def evict_workers(
    session: Session,
    *,
    gone: Sequence[str],
    stale: Sequence[str],
    stale_before: datetime,
    now: datetime,
) -> int:
    """Forget dead workers and make what they leased claimable now; how many deliveries.
    ``gone``: their process no longer exists. ``stale``: dead only if their heartbeat is still
    older than ``stale_before`` (checked in the same statement, so a late beat saves them)."""
    dead: list[str] = []
    if gone:
        result = session.execute(
            delete(workers_t).where(workers_t.c.id.in_(list(gone))).returning(workers_t.c.id)
        )
        dead += [row.id for row in result]
    if stale:
        result = session.execute(
            delete(workers_t)
            .where(and_(workers_t.c.id.in_(list(stale)), workers_t.c.beat_at < stale_before))
            .returning(workers_t.c.id)
        )
        dead += [row.id for row in result]
    return release_leases_of(session, dead, now=now)


def release_leases_of(session: Session, worker_ids: Sequence[str], *, now: datetime) -> int:
    """The workers' leases run out now (their rows stay ``sending`` for whoever claims them
    next: what was in flight may have been sent)."""
    if not worker_ids:
        return 0
    result = session.execute(
        update(deliveries_t)
        .where(
            and_(
                deliveries_t.c.status == "sending",
                deliveries_t.c.lease_owner.in_(list(worker_ids)),
            )
        )
        .values(lease_until=now)
    )
    return max(cast(CursorResult[Any], result).rowcount, 0)


def unregister_worker(session: Session, worker_id: str, *, now: datetime) -> None:
    """A worker that stops cleanly: forget it, and free anything it still held."""
    session.execute(delete(workers_t).where(workers_t.c.id == worker_id))
    release_leases_of(session, [worker_id], now=now)


def held_by_others(session: Session, worker_id: str) -> tuple[int, datetime | None]:
    """Deliveries other workers lease now, and when the last of their leases runs out."""
    row = session.execute(
        select(func.count(), func.max(deliveries_t.c.lease_until, type_=AwareDateTime())).where(
            and_(deliveries_t.c.status == "sending", deliveries_t.c.lease_owner != worker_id)
        )
    ).one()
    return int(row[0] or 0), row[1]
