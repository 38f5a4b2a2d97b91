"""Newsroom sessions (``staff_sessions``) and the sign-in attempts counted per key
(``signin_attempts``): both in the database, so that every daemon sees the same."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, delete, or_, select, update
from sqlalchemy.orm import Session

from publisher.models import SignInAttempts, StaffSession, StaffUser
from publisher.store.engine import insert_ignore
from publisher.store.staff import staff_t

__all__ = [
    "add_session",
    "attempts_t",
    "drop_session",
    "prune_attempts",
    "prune_sessions",
    "release_attempts",
    "reserve_attempts",
    "session_row",
    "sessions_t",
    "touch_session",
]

sessions_t = StaffSession.__table__  # type: ignore[attr-defined]
attempts_t = SignInAttempts.__table__  # type: ignore[attr-defined]


def _rows(result: Any) -> int:
    return max(cast(CursorResult[Any], result).rowcount, 0)


def add_session(session: Session, id_hash: str, staff_id: int, *, now: datetime) -> None:
    session.execute(
        sessions_t.insert().values(id_hash=id_hash, staff_id=staff_id, created_at=now, seen_at=now)
    )


def session_row(session: Session, id_hash: str) -> tuple[StaffSession, StaffUser] | None:
    """The session whose id hashes to ``id_hash``, with its person; None if there is none."""
    found = session.execute(
        select(StaffSession, StaffUser)
        .join(StaffUser, staff_t.c.id == sessions_t.c.staff_id)
        .where(sessions_t.c.id_hash == id_hash)
    ).first()
    return None if found is None else (found[0], found[1])


def touch_session(session: Session, id_hash: str, *, now: datetime) -> None:
    session.execute(update(sessions_t).where(sessions_t.c.id_hash == id_hash).values(seen_at=now))


def drop_session(session: Session, id_hash: str) -> None:
    session.execute(delete(sessions_t).where(sessions_t.c.id_hash == id_hash))


def prune_sessions(session: Session, *, idle_before: datetime, made_before: datetime) -> int:
    """Forget sessions that have ended (idle since ``idle_before``, or made before
    ``made_before``); how many."""
    return _rows(
        session.execute(
            delete(sessions_t).where(
                or_(sessions_t.c.seen_at < idle_before, sessions_t.c.created_at < made_before)
            )
        )
    )


def _reserve_one(session: Session, key: str, limit: int, *, since: datetime, now: datetime) -> bool:
    session.execute(
        insert_ignore(session)(attempts_t)
        .values(key=key, count=0, window_start=now)
        .on_conflict_do_nothing(index_elements=["key"])
    )
    # A window that is over starts again (only the first of two concurrent requests does:
    # the second, waiting for the row, sees the new window_start).
    session.execute(
        update(attempts_t)
        .where(attempts_t.c.key == key, attempts_t.c.window_start < since)
        .values(count=0, window_start=now)
    )
    taken = session.execute(
        update(attempts_t)
        .where(attempts_t.c.key == key, attempts_t.c.count < limit)
        .values(count=attempts_t.c.count + 1)
    )
    return _rows(taken) == 1


def reserve_attempts(
    session: Session, keys: Sequence[tuple[str, int]], *, since: datetime, now: datetime
) -> bool:
    """One attempt reserved against every (key, limit) of ``keys``, each counted in the
    window that began after ``since``: all of them, or (one is at its limit) none. Each is
    one UPDATE ... WHERE count < limit, so of many requests at once no more than ``limit``
    get through, on SQLite and PostgreSQL alike."""
    taken: list[str] = []
    for key, limit in keys:
        if not _reserve_one(session, key, limit, since=since, now=now):
            release_attempts(session, taken)
            return False
        taken.append(key)
    return True


def release_attempts(session: Session, keys: Sequence[str]) -> None:
    """Give back one attempt of each key (the secret was right: it was no failure). One key
    at a time, in the order reserved: two transactions never wait for each other's rows."""
    for key in keys:
        session.execute(
            update(attempts_t)
            .where(attempts_t.c.key == key, attempts_t.c.count > 0)
            .values(count=attempts_t.c.count - 1)
        )


def prune_attempts(session: Session, *, before: datetime) -> int:
    """Forget counts whose window began before ``before`` (they no longer limit anyone).
    Rows another transaction holds are left for the next time (SKIP LOCKED on PostgreSQL), so
    that this never waits while holding rows a reservation waits for."""
    stale = (
        select(attempts_t.c.key)
        .where(attempts_t.c.window_start < before)
        .with_for_update(skip_locked=True)
    )
    return _rows(session.execute(delete(attempts_t).where(attempts_t.c.key.in_(stale))))
