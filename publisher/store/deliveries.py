"""Deliveries: one row per edition and subscriber, claimed under leases."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    Engine,
    and_,
    case,
    delete,
    exists,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from publisher.models import (
    AwareDateTime,
    Edition,
)
from publisher.store.engine import (
    _insert_ignore,
    deliveries_t,
    editions_t,
    interests_t,
    subscribers_t,
    subscriptions_t,
    write_lock,
)

# ---------------------------------------------------------------- deliveries

OPEN_DELIVERY = ("pending", "sending", "retry")
HELD = ("paused", "cancelled")  # editions whose deliveries no worker claims (issue 13)


@dataclass(frozen=True)
class Claimed:
    id: int
    edition_id: int
    subscriber_id: int
    email: str
    attempts: int
    link_key: str = ""  # the subscriber's, for their links; empty once they are removed


def start_deliveries(session: Session, edition: Edition, *, now: datetime) -> int:
    """One pending delivery per confirmed subscriber of the edition's digest (insert-if-absent,
    so running it again adds only subscribers confirmed since); the edition is sending."""
    source = (
        select(
            literal(edition.id),
            subscribers_t.c.id,
            subscribers_t.c.email,
            literal("pending"),
            literal(0),
            literal(now, AwareDateTime()),
            literal(""),
            literal(""),
        )
        .join(subscriptions_t, subscriptions_t.c.subscriber_id == subscribers_t.c.id)
        .where(
            and_(subscriptions_t.c.digest == edition.digest, subscribers_t.c.status == "confirmed")
        )
    )
    columns = [
        "edition_id",
        "subscriber_id",
        "email",
        "status",
        "attempts",
        "next_attempt_at",
        "lease_owner",
        "last_error",
    ]
    statement = (
        _insert_ignore(session)(deliveries_t)
        .from_select(columns, source)
        .on_conflict_do_nothing(index_elements=["edition_id", "subscriber_id"])
    )
    count = (
        select(func.count())
        .select_from(deliveries_t)
        .where(deliveries_t.c.edition_id == edition.id)
    )
    before = int(session.scalar(count) or 0)
    session.execute(statement)
    session.execute(
        update(editions_t)
        .where(and_(editions_t.c.id == edition.id, editions_t.c.status.in_(("ready", "sent"))))
        .values(status="sending")
    )
    return int(session.scalar(count) or 0) - before


def claim_deliveries(
    session: Session, worker: str, *, now: datetime, lease: timedelta, limit: int
) -> list[Claimed]:
    """Lease up to ``limit`` deliveries that are due, or whose lease ran out (a worker died).
    PostgreSQL skips rows other workers hold (FOR UPDATE SKIP LOCKED); SQLite has one writer."""
    due = or_(
        and_(
            deliveries_t.c.status.in_(("pending", "retry")), deliveries_t.c.next_attempt_at <= now
        ),
        and_(deliveries_t.c.status == "sending", deliveries_t.c.lease_until < now),
    )
    held = select(editions_t.c.id).where(editions_t.c.status.in_(HELD))
    due = and_(due, deliveries_t.c.edition_id.notin_(held.scalar_subquery()))
    pick = select(deliveries_t.c.id).where(due).order_by(deliveries_t.c.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    statement = (
        update(deliveries_t)
        .where(deliveries_t.c.id.in_(pick.scalar_subquery()))
        .values(status="sending", lease_owner=worker, lease_until=now + lease)
        .returning(
            deliveries_t.c.id,
            deliveries_t.c.edition_id,
            deliveries_t.c.subscriber_id,
            deliveries_t.c.email,
            deliveries_t.c.attempts,
        )
    )
    claimed = list(session.execute(statement))
    # The readers' link keys in one query for the batch, not one a message.
    keys: dict[int, str] = {
        int(r.id): str(r.link_key or "")
        for r in session.execute(
            select(subscribers_t.c.id, subscribers_t.c.link_key).where(
                subscribers_t.c.id.in_({r.subscriber_id for r in claimed})
            )
        )
    }
    rows = [
        Claimed(
            r.id, r.edition_id, r.subscriber_id, r.email, r.attempts, keys.get(r.subscriber_id, "")
        )
        for r in claimed
    ]
    return sorted(rows, key=lambda r: r.id)


def renew_lease(session: Session, ids: Sequence[int], worker: str, *, until: datetime) -> None:
    session.execute(
        update(deliveries_t)
        .where(
            and_(
                deliveries_t.c.id.in_(list(ids)),
                deliveries_t.c.lease_owner == worker,
                deliveries_t.c.status == "sending",
            )
        )
        .values(lease_until=until)
    )


@dataclass(frozen=True)
class Addressee:
    """A subscriber as the sender needs them, read at send time."""

    name: str
    status: str
    topics: frozenset[int]  # category ids they chose; empty: every category


def recipients(session: Session, subscriber_ids: Sequence[int]) -> dict[int, Addressee]:
    """Name, status and chosen categories of each subscriber."""
    ids = list(subscriber_ids)
    topics: dict[int, set[int]] = {}
    for subscriber_id, category_id in session.execute(
        select(interests_t.c.subscriber_id, interests_t.c.category_id).where(
            interests_t.c.subscriber_id.in_(ids)
        )
    ):
        topics.setdefault(subscriber_id, set()).add(category_id)
    rows = session.execute(
        select(subscribers_t.c.id, subscribers_t.c.name, subscribers_t.c.status).where(
            subscribers_t.c.id.in_(ids)
        )
    )
    return {
        row.id: Addressee(row.name, row.status, frozenset(topics.get(row.id, ()))) for row in rows
    }


class OutcomeWriter:
    """Records one sending connection's delivery outcomes on a dedicated driver connection,
    written by a thread of its own while the caller sends on: ``record`` returns at once, and
    the writer commits whatever gathered meanwhile in one transaction (usually one outcome:
    a single autocommitted UPDATE by primary key). ``wait`` returns once everything recorded
    so far is committed; the sender calls it before the server may take its next message, so
    at most one message a connection is ever accepted by the server and not recorded. This is
    the per-message hot path: SQLAlchemy's execution machinery, a separate BEGIN IMMEDIATE on
    SQLite, or waiting for each commit before sending on cost more than the message itself;
    so did a writer shared by the connections (its commits queue behind each other, and
    every connection waits for the slowest group), measured on the bench."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sqlite = engine.dialect.name == "sqlite"
        mark = "?" if self.sqlite else "%s"
        common = f"status = {mark}, lease_owner = '', lease_until = NULL, last_error = {mark}"
        self._sql = {
            "sent": f"UPDATE deliveries SET {common}, attempts = attempts + 1, sent_at = {mark} "
            f"WHERE id = {mark}",
            "retry": f"UPDATE deliveries SET {common}, attempts = attempts + 1, "
            f"next_attempt_at = {mark} WHERE id = {mark}",
            "failed": f"UPDATE deliveries SET {common}, attempts = attempts + 1 WHERE id = {mark}",
            "cancelled": f"UPDATE deliveries SET {common} WHERE id = {mark}",
        }
        self._changed = threading.Condition()
        self._queue: list[tuple[int, str, list[Any]]] = []
        self._issued = 0  # tickets handed out
        self._committed = 0  # every ticket up to this one is committed
        self._error: BaseException | None = None
        self._closing = False
        self._raw = self._open()  # used by the writing thread only from here on
        self._thread = threading.Thread(target=self._run, name="outcomes", daemon=True)
        self._thread.start()

    def _open(self) -> Any:
        raw = self.engine.raw_connection()
        if not self.sqlite:
            # One round trip per outcome: the UPDATE commits by itself. And if the database
            # server itself crashes, the last few hundred milliseconds of
            # outcomes may be lost and those messages sent again (nothing is ever lost; our
            # own crashes are unaffected), so no outcome waits for a disk flush.
            raw.driver_connection.autocommit = True  # type: ignore[union-attr]
            cursor = raw.cursor()
            cursor.execute("SET synchronous_commit = off")
            cursor.close()
        return raw

    def _when(self, value: datetime) -> Any:
        utc = value.astimezone(UTC)
        # SQLite: the text form SQLAlchemy's DateTime stores, so comparisons stay exact.
        return utc.strftime("%Y-%m-%d %H:%M:%S.%f") if self.sqlite else utc

    def record(
        self,
        delivery_id: int,
        status: str,
        *,
        now: datetime,
        error: str = "",
        retry_at: datetime | None = None,
    ) -> None:
        """Queue an outcome for the next commit."""
        params: list[Any] = [status, error[:1000]]
        if status == "sent":
            params.append(self._when(now))
        elif status == "retry":
            params.append(self._when(retry_at or now))
        params.append(delivery_id)
        with self._changed:
            self._issued += 1
            self._queue.append((self._issued, status, params))
            self._changed.notify_all()

    def wait(self) -> None:
        """Return once every outcome recorded so far is committed (raise if one failed)."""
        with self._changed:
            ticket = self._issued
            while self._committed < ticket and self._error is None:
                self._changed.wait()
            if self._committed < ticket:
                raise RuntimeError("recording delivery outcomes failed") from self._error

    def _run(self) -> None:
        try:
            while True:
                with self._changed:
                    while not self._queue and not self._closing:
                        self._changed.wait()
                    if not self._queue:
                        return
                    group, self._queue = self._queue, []
                self._write(group)
                with self._changed:
                    self._committed = group[-1][0]
                    self._changed.notify_all()
        except BaseException as exc:  # every waiter hears of it
            with self._changed:
                self._error = exc
                self._changed.notify_all()
        finally:
            self._close()

    def _write(self, group: list[tuple[int, str, list[Any]]]) -> None:
        by_status: dict[str, list[list[Any]]] = {}
        for _, status, params in group:
            by_status.setdefault(status, []).append(params)
        with write_lock(self.engine):
            cursor = self._raw.cursor()
            try:
                if len(group) == 1:
                    cursor.execute(self._sql[group[0][1]], group[0][2])  # commits by itself
                    return
                cursor.execute("BEGIN IMMEDIATE" if self.sqlite else "BEGIN")
                try:
                    for status, rows in by_status.items():
                        cursor.executemany(self._sql[status], rows)
                except BaseException:
                    cursor.execute("ROLLBACK")
                    raise
                cursor.execute("COMMIT")
            finally:
                cursor.close()

    def close(self) -> None:
        """Commit what is queued and stop (raise if recording failed)."""
        with self._changed:
            self._closing = True
            self._changed.notify_all()
        self._thread.join()
        if self._error is not None:
            raise RuntimeError("recording delivery outcomes failed") from self._error

    def _close(self) -> None:
        if not self.sqlite:
            cursor = self._raw.cursor()
            cursor.execute("RESET synchronous_commit")
            cursor.close()
            self._raw.driver_connection.autocommit = False
        self._raw.close()


def release_deliveries(
    session: Session, ids: Sequence[int], worker: str, *, retry_at: datetime
) -> None:
    """Give back leased, unattempted deliveries (on shutdown, or when the server is down)."""
    if not ids:
        return
    session.execute(
        update(deliveries_t)
        .where(
            and_(
                deliveries_t.c.id.in_(list(ids)),
                deliveries_t.c.lease_owner == worker,
                deliveries_t.c.status == "sending",
            )
        )
        .values(
            # Given back from a cancelled edition: cancelled, never sent (issue 13).
            status=case(
                (deliveries_t.c.edition_id.in_(_cancelled_editions()), "cancelled"),
                (deliveries_t.c.attempts > 0, "retry"),
                else_="pending",
            ),
            lease_owner="",
            lease_until=None,
            next_attempt_at=retry_at,
        )
    )


def open_deliveries(session: Session, *, due_by: datetime | None = None) -> int:
    """Deliveries not finished yet (only those due by ``due_by``, leased ones included, and
    none of a paused or cancelled edition's)."""
    query = (
        select(func.count())
        .select_from(deliveries_t)
        .where(deliveries_t.c.status.in_(OPEN_DELIVERY))
    )
    if due_by is not None:
        held = select(editions_t.c.id).where(editions_t.c.status.in_(HELD))
        query = query.where(
            or_(deliveries_t.c.status == "sending", deliveries_t.c.next_attempt_at <= due_by),
            deliveries_t.c.edition_id.notin_(held.scalar_subquery()),
        )
    return int(session.scalar(query) or 0)


def finish_editions(session: Session) -> list[int]:
    """Editions being sent whose every delivery is finished are sent; their ids."""
    unfinished = (
        exists()
        .where(deliveries_t.c.edition_id == editions_t.c.id)
        .where(deliveries_t.c.status.in_(OPEN_DELIVERY))
    )
    done = session.execute(
        update(editions_t)
        .where(and_(editions_t.c.status == "sending", ~unfinished))
        .values(status="sent")
        .returning(editions_t.c.id)
    )
    return [int(edition_id) for edition_id in done.scalars()]


def delivery_counts(session: Session, edition_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    out: dict[int, dict[str, int]] = {i: {} for i in edition_ids}
    for row in session.execute(
        select(deliveries_t.c.edition_id, deliveries_t.c.status, func.count())
        .where(deliveries_t.c.edition_id.in_(list(edition_ids)))
        .group_by(deliveries_t.c.edition_id, deliveries_t.c.status)
    ):
        out[row[0]][row[1]] = int(row[2])
    return out


def status_counts(session: Session) -> tuple[dict[str, int], dict[str, int]]:
    """(deliveries by status, editions by status) over the whole database."""
    deliveries = {
        row[0]: int(row[1])
        for row in session.execute(
            select(deliveries_t.c.status, func.count()).group_by(deliveries_t.c.status)
        )
    }
    editions = {
        row[0]: int(row[1])
        for row in session.execute(
            select(editions_t.c.status, func.count()).group_by(editions_t.c.status)
        )
    }
    return deliveries, editions


def last_sends(session: Session) -> dict[str, datetime]:
    """When each digest last had a message accepted."""
    query = (
        select(editions_t.c.digest, func.max(deliveries_t.c.sent_at, type_=AwareDateTime()))
        .join(deliveries_t, deliveries_t.c.edition_id == editions_t.c.id)
        .where(deliveries_t.c.status == "sent")
        .group_by(editions_t.c.digest)
    )
    return {digest: when for digest, when in session.execute(query) if when is not None}


def prune_deliveries(session: Session, *, before: datetime) -> int:
    """Delete finished delivery rows of editions made before ``before``; how many went.
    The editions themselves (and their story counts) stay."""
    old_editions = select(editions_t.c.id).where(editions_t.c.created_at < before)
    result = session.execute(
        delete(deliveries_t).where(
            and_(
                deliveries_t.c.status.in_(("sent", "failed", "cancelled")),
                deliveries_t.c.edition_id.in_(old_editions.scalar_subquery()),
            )
        )
    )
    return max(cast(CursorResult[Any], result).rowcount, 0)


# ---------------------------------------------------------------- pause and cancel (issue 13)


def _cancelled_editions() -> Any:
    return select(editions_t.c.id).where(editions_t.c.status == "cancelled").scalar_subquery()


def held_editions(session: Session) -> set[int]:
    """Editions paused or cancelled: a worker holding a batch of one gives the rest back."""
    return set(session.scalars(select(editions_t.c.id).where(editions_t.c.status.in_(HELD))))


def cancel_owed(session: Session, edition_id: int, *, now: datetime) -> int:
    """Mark every delivery the edition still owes cancelled, leased ones too; how many. A
    worker sees the edition cancelled within a second and sends nothing more of it; a
    message it had in hand meanwhile is recorded as it ended (sent, say) over the mark."""
    result = session.execute(
        update(deliveries_t)
        .where(
            and_(
                deliveries_t.c.edition_id == edition_id,
                deliveries_t.c.status.in_(OPEN_DELIVERY),
            )
        )
        .values(status="cancelled", lease_owner="", lease_until=None, last_error="cancelled")
    )
    return max(cast(CursorResult[Any], result).rowcount, 0)


def sweep_cancelled(session: Session, *, now: datetime) -> int:
    """Cancel what cancelled editions still owe: rows given back, or left by a dead worker."""
    result = session.execute(
        update(deliveries_t)
        .where(
            and_(
                deliveries_t.c.edition_id.in_(_cancelled_editions()),
                or_(
                    deliveries_t.c.status.in_(("pending", "retry")),
                    and_(deliveries_t.c.status == "sending", deliveries_t.c.lease_until < now),
                ),
            )
        )
        .values(status="cancelled", lease_owner="", lease_until=None, last_error="cancelled")
    )
    return max(cast(CursorResult[Any], result).rowcount, 0)
