"""Deliveries: one row per edition and subscriber, claimed under leases."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from select import select as wait_io
from typing import Any, cast

from sqlalchemy import (
    ARRAY,
    Engine,
    Integer,
    and_,
    any_,
    bindparam,
    case,
    delete,
    exists,
    func,
    literal,
    literal_column,
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
from publisher.store.audiences import edition_recipients
from publisher.store.engine import (
    deliveries_t,
    editions_t,
    insert_ignore,
    interests_t,
    subscribers_t,
    write_lock,
)

__all__ = [
    "GONE",
    "HELD",
    "OPEN_DELIVERY",
    "Addressee",
    "Claimed",
    "OutcomeWriter",
    "cancel_owed",
    "claim_deliveries",
    "delivery_counts",
    "finish_editions",
    "held_editions",
    "last_sends",
    "open_deliveries",
    "prune_deliveries",
    "release_deliveries",
    "renew_lease",
    "start_deliveries",
    "status_counts",
    "sweep_cancelled",
]

# ---------------------------------------------------------------- deliveries

OPEN_DELIVERY = ("pending", "sending", "retry")
HELD = ("paused", "cancelled")  # editions whose deliveries no worker claims (issue 13)


@dataclass(frozen=True)
class Addressee:
    """A subscriber as the sender needs them, read when their delivery is claimed."""

    name: str
    status: str
    topics: frozenset[int]  # category ids they chose; empty: every category
    language: str = ""  # of their mail (a catalog's tag); empty: the site's
    languages: frozenset[str] = frozenset()  # of the stories they read; empty: every one


GONE = Addressee("", "gone", frozenset())


@dataclass(frozen=True)
class Claimed:
    id: int
    edition_id: int
    subscriber_id: int
    email: str
    attempts: int
    link_key: str = ""  # the subscriber's, for their links; empty once they are removed
    reader: Addressee = GONE  # who they are now (gone: removed since the edition started)


def start_deliveries(session: Session, edition: Edition, *, now: datetime) -> int:
    """One pending delivery per member the edition goes to, counted now (a digest's confirmed
    subscribers, within its audience if it has one; a one-off edition's audience): insert-if-
    absent, so running it again adds only members who qualify since; the edition is sending."""
    source = select(
        literal(edition.id),
        subscribers_t.c.id,
        subscribers_t.c.email,
        literal("pending"),
        literal(0),
        literal(now, AwareDateTime()),
        literal(""),
        literal(""),
    ).where(edition_recipients(edition))
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
        insert_ignore(session)(deliveries_t)
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
    readers = _readers(session, [r.subscriber_id for r in claimed])
    rows = [
        Claimed(
            r.id,
            r.edition_id,
            r.subscriber_id,
            r.email,
            r.attempts,
            *readers.get(r.subscriber_id, ("", GONE)),
        )
        for r in claimed
    ]
    return sorted(rows, key=lambda r: r.id)


def _readers(session: Session, subscriber_ids: list[int]) -> dict[int, tuple[str, Addressee]]:
    """Link key, name, status and chosen categories of each subscriber, in two queries for a
    claimed batch (not one a message)."""
    topics: dict[int, set[int]] = {}
    for subscriber_id, category_id in session.execute(
        select(interests_t.c.subscriber_id, interests_t.c.category_id).where(
            _among(session, interests_t.c.subscriber_id, subscriber_ids)
        )
    ):
        topics.setdefault(subscriber_id, set()).add(category_id)
    rows = session.execute(
        select(
            subscribers_t.c.id,
            subscribers_t.c.link_key,
            subscribers_t.c.name,
            subscribers_t.c.status,
            subscribers_t.c.language,
            subscribers_t.c.languages,
        ).where(_among(session, subscribers_t.c.id, subscriber_ids))
    )
    return {
        row.id: (
            str(row.link_key or ""),
            Addressee(
                row.name,
                row.status,
                frozenset(topics.get(row.id, ())),
                str(row.language or ""),
                frozenset(str(row.languages or "").split()),
            ),
        )
        for row in rows
    }


def _among(session: Session, column: Any, ids: list[int]) -> Any:
    """``column IN ids`` with the ids as one bound value (an array on PostgreSQL, JSON on
    SQLite): the statement's text stays the same whatever the batch, so it is compiled once.
    With an IN list of up to 400 parameters each batch's statements were new to SQLAlchemy's
    and psycopg's caches, and compiling them took about a fifth of the sending threads' time
    in the profile (issue 15)."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam("ids", ids, type_=ARRAY(Integer)))
    listed: Any = select(literal_column("value")).select_from(
        func.json_each(bindparam("ids", json.dumps(ids)))
    )
    return column.in_(listed.scalar_subquery())


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


class OutcomeWriter:
    """Records one sending connection's delivery outcomes on a dedicated driver connection,
    on the sending thread itself (no writer thread: handing each outcome to one, and waking
    it, cost about 100 us of CPU a message in GIL hand-offs, more than the UPDATE, issue 15).

    On PostgreSQL ``record`` sends the autocommitted UPDATE and returns without waiting for
    its answer, which is collected by ``wait`` (or the next ``record``): the database works
    on it while the next message's content goes out. On SQLite, where the database is this
    process, ``record`` commits at once. The sender calls ``wait`` before the server may take
    its next message, so at most one message a connection is ever accepted by the server and
    not recorded. SQLAlchemy's execution machinery or a separate BEGIN on this path cost more
    than the message itself, measured on the bench."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sqlite = engine.dialect.name == "sqlite"
        # {0} status, {1} last_error, then the time if any, and the id last.
        common = "UPDATE deliveries SET status = {0}, lease_owner = '', lease_until = NULL, "
        common += "last_error = {1}"
        sql = {
            "sent": common + ", attempts = attempts + 1, sent_at = {2} WHERE id = {3}",
            "retry": common + ", attempts = attempts + 1, next_attempt_at = {2} WHERE id = {3}",
            "failed": common + ", attempts = attempts + 1 WHERE id = {2}",
            "cancelled": common + " WHERE id = {2}",
        }
        marks = ["?"] * 4 if self.sqlite else [f"${n}" for n in range(1, 5)]
        self._sql = {status: text.format(*marks) for status, text in sql.items()}
        # PostgreSQL: each a prepared statement of this connection, parsed and planned once
        # (unprepared, the database spent about 100 us more CPU on each outcome, measured).
        self._prepared = {status: f"publisher_outcome_{status}".encode() for status in sql}
        self._raw: Any = None
        self._pg: Any = None  # the libpq connection (PostgreSQL)
        self._owed: int | None = None  # the delivery whose UPDATE is sent, not yet answered
        self._broken = False  # an answer not read: the connection is in doubt
        self._lock = write_lock(engine)
        self._raw = self._open()

    def _open(self) -> Any:
        raw = self.engine.raw_connection()
        if not self.sqlite:
            import psycopg  # only on PostgreSQL, where the engine has loaded it

            # One round trip per outcome: the UPDATE commits by itself. And if the database
            # server itself crashes, the last few hundred milliseconds of
            # outcomes may be lost and those messages sent again (nothing is ever lost; our
            # own crashes are unaffected), so no outcome waits for a disk flush.
            driver = raw.driver_connection
            driver.autocommit = True  # type: ignore[union-attr]
            cursor = raw.cursor()
            cursor.execute("SET synchronous_commit = off")
            cursor.close()
            self._pg = driver.pgconn  # type: ignore[union-attr]
            self._ok = psycopg.pq.ExecStatus.COMMAND_OK
            self._pg_error: type[Exception] = psycopg.Error
            for status, name in self._prepared.items():
                made = self._pg.prepare(name, self._sql[status].encode())
                if made.status != self._ok:
                    problem = made.error_message.decode("utf-8", "replace").strip()
                    raw.invalidate()
                    raw.close()
                    raise psycopg.OperationalError(f"preparing the outcome UPDATE: {problem}")
        return raw

    def _when(self, value: datetime) -> Any:
        utc = value.astimezone(UTC)
        if self.sqlite:
            # The text form SQLAlchemy's DateTime stores ("%Y-%m-%d %H:%M:%S.%f"), so that
            # comparisons stay exact (isoformat makes it in half the time strftime takes).
            return utc.replace(tzinfo=None).isoformat(" ", "microseconds")
        return utc.isoformat()

    def record(
        self,
        delivery_id: int,
        status: str,
        *,
        now: datetime,
        error: str = "",
        retry_at: datetime | None = None,
    ) -> None:
        """Record an outcome: committed now (SQLite), or sent to the database (PostgreSQL)
        with its answer collected by ``wait``."""
        params: list[Any] = [status, error[:1000]]
        if status == "sent":
            params.append(self._when(now))
        elif status == "retry":
            params.append(self._when(retry_at or now))
        params.append(delivery_id)
        if self.sqlite:
            with self._lock:
                cursor = self._raw.cursor()
                try:
                    cursor.execute(self._sql[status], params)  # commits by itself
                finally:
                    cursor.close()
            return
        self.wait()  # libpq takes one statement at a time
        values = [str(value).encode() for value in params]
        self._pg.send_query_prepared(self._prepared[status], values)
        self._owed = delivery_id

    def wait(self) -> None:
        """Return once every outcome recorded so far is committed (raise if one failed)."""
        if self._owed is None:
            return
        owed, self._owed = self._owed, None
        pg = self._pg
        self._broken = True  # until the answer is read
        try:
            while pg.flush():  # the rest of the statement, if the socket was full
                wait_io([], [pg.socket], [])
            pg.consume_input()  # usually the answer is in already: no wait, no wake-up
            while pg.is_busy():
                wait_io([pg.socket], [], [])  # without the GIL, unlike libpq's own wait
                pg.consume_input()
            failed = None
            while (result := pg.get_result()) is not None:
                if result.status != self._ok:
                    failed = result.error_message.decode("utf-8", "replace").strip()
        except self._pg_error as exc:
            raise RuntimeError(f"recording delivery {owed}'s outcome failed: {exc}") from exc
        self._broken = False
        if failed is not None:
            raise RuntimeError(f"recording delivery {owed}'s outcome failed: {failed}")

    def close(self) -> None:
        """Collect the last answer and give the connection back (raise if recording failed)."""
        try:
            self.wait()
        finally:
            self._close()

    def _close(self) -> None:
        raw, self._raw = self._raw, None
        if raw is None or self.sqlite:
            if raw is not None:
                raw.close()
            return
        import psycopg

        try:
            if self._broken:
                raise psycopg.InterfaceError("an outcome's answer was not read")
            cursor = raw.cursor()
            for name in self._prepared.values():
                cursor.execute(f"DEALLOCATE {name.decode()}")
            cursor.execute("RESET synchronous_commit")
            cursor.close()
            raw.driver_connection.autocommit = False
        except psycopg.Error:
            raw.invalidate()  # a connection in doubt is not given back to the pool
        raw.close()


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
