"""The editors' side of the community: find subscribers, read what is recorded of one,
change them, remove them, act on many at once, import and export CSV. Every change is in
the audit trail (who, when, before and after), written in the same transaction."""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from publisher import store
from publisher.content import one_line
from publisher.errors import InputError, NotFoundError
from publisher.models import AuditEntry, BounceReport, Confirmation, OutboxMessage, Subscriber
from publisher.store import SubscriberFilter

__all__ = [
    "ALLOWED",
    "BATCH",
    "BULK_ACTIONS",
    "MAX_NAME",
    "PER_PAGE",
    "STATUSES",
    "Change",
    "Counted",
    "FieldsRefused",
    "Found",
    "Member",
    "Person",
    "act_on",
    "change",
    "clear_bounce",
    "count_for",
    "find",
    "person",
    "remove",
    "remove_subscriber",
    "rotate_links",
    "trail_of",
]

PER_PAGE = 50
MAX_NAME = 200  # the column's size
STATUSES = store.SUBSCRIBER_STATUSES
# Consent: only the person brings an unsubscribed or bounced address back (signing up and
# confirming again), and nobody goes back to pending. An editor may confirm a pending
# address (as `subscribers add --confirmed` does), stop mail, or clear a bounce.
ALLOWED = {
    "pending": {"confirmed", "unsubscribed", "bounced"},
    "confirmed": {"unsubscribed", "bounced"},
    "unsubscribed": {"bounced"},
    "bounced": {"unsubscribed"},
}


@dataclass(frozen=True)
class Member:
    subscriber: Subscriber
    digests: tuple[str, ...]
    categories: tuple[str, ...]  # slugs they chose; empty: every category


@dataclass(frozen=True)
class Found:
    members: list[Member]
    total: int  # matching the filter
    page: int
    pages: int
    counts: dict[str, int]  # every subscriber, by status


def _members(session: Session, rows: Sequence[Subscriber]) -> list[Member]:
    ids = [r.id or 0 for r in rows]
    digests = store.subscriptions_of(session, ids)
    topics = store.interests_of(session, ids)
    return [Member(r, tuple(digests[r.id or 0]), tuple(topics[r.id or 0])) for r in rows]


def find(engine: Engine, chosen: SubscriberFilter, *, page: int = 1) -> Found:
    """One page (PER_PAGE, newest first) of the subscribers matching ``chosen``."""
    with store.reading(engine) as session:
        total = store.matching_count(session, chosen)
        pages = max(1, -(-total // PER_PAGE))
        page = min(max(page, 1), pages)
        rows = store.matching(session, chosen, offset=(page - 1) * PER_PAGE, limit=PER_PAGE)
        counts = {status: 0 for status in STATUSES} | store.subscriber_status_counts(session)
        return Found(_members(session, rows), total, page, pages, counts)


@dataclass(frozen=True)
class Person:
    member: Member
    requests: list[Confirmation]  # sign-up and access link requests, newest first
    received: list[store.Received]  # editions addressed to them, newest first
    received_total: int
    mails: list[OutboxMessage]  # one-off mails to their address, newest first
    trail: list[AuditEntry]  # changes to them, newest first
    reports: list[BounceReport]  # bounces and complaints about mail to them, newest first


def person(engine: Engine, subscriber_id: int) -> Person:
    """A subscriber and everything recorded about them; NotFoundError if there is none."""
    with store.reading(engine) as session:
        row = session.get(Subscriber, subscriber_id)
        if row is None:
            raise NotFoundError(f"no subscriber {subscriber_id}")
        return Person(
            _members(session, [row])[0],
            store.requests_of(session, subscriber_id),
            store.received_by(session, subscriber_id),
            store.deliveries_count(session, subscriber_id),
            store.mails_to(session, row.email),
            store.audit_entries(session, kind=store.SUBSCRIBER, subject_id=subscriber_id),
            store.bounce_reports_of(session, subscriber_id),
        )


def trail_of(engine: Engine, subscriber_id: int) -> list[AuditEntry]:
    """The changes recorded of a subscriber (removed ones too), newest first."""
    with store.reading(engine) as session:
        return store.audit_entries(session, kind=store.SUBSCRIBER, subject_id=subscriber_id)


class FieldsRefused(InputError):
    """A change refused, with a message for each field that was wrong."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("nothing was changed: " + "; ".join(fields.values()))
        self.fields = fields


@dataclass(frozen=True)
class Change:
    """What an editor wants a subscriber to be (None: leave it as it is)."""

    name: str | None = None
    status: str | None = None
    digests: Sequence[str] | None = None
    categories: Sequence[str] | None = None  # slugs; empty: every category
    known_digests: Sequence[str] = field(default_factory=tuple)


def _check(row: Subscriber, wanted: Change) -> dict[str, str]:
    problems: dict[str, str] = {}
    if wanted.name is not None and len(one_line(wanted.name).strip()) > MAX_NAME:
        problems["name"] = f"a name is at most {MAX_NAME} characters"
    status = wanted.status
    if status is not None and status != row.status:
        if status not in STATUSES:
            problems["status"] = f"status must be one of {', '.join(STATUSES)}"
        elif status not in ALLOWED[row.status]:
            problems["status"] = _refused_status(row.status, status)
    unknown = [d for d in wanted.digests or () if d not in wanted.known_digests]
    if unknown:
        problems["digests"] = (
            f"unknown digest(s) {', '.join(unknown)} "
            f"(known: {', '.join(wanted.known_digests) or 'none'})"
        )
    return problems


def _refused_status(was: str, wanted: str) -> str:
    if wanted == "confirmed":
        return (
            f"an {was} address becomes confirmed only when the person signs up and confirms again"
        )
    return f"a {was} subscriber cannot go back to {wanted}"


def change(
    engine: Engine, subscriber_id: int, wanted: Change, *, actor: str, now: datetime
) -> Member:
    """Change a subscriber's name, status, digests and categories at once, or nothing
    (FieldsRefused says what was wrong with each field)."""
    with store.writing(engine) as session:
        store.lock_subscriber(session, subscriber_id)
        row = session.get(Subscriber, subscriber_id)
        if row is None:
            raise NotFoundError(f"no subscriber {subscriber_id}")
        problems = _check(row, wanted)
        slugs = [unicodedata.normalize("NFC", c.strip().lower()) for c in wanted.categories or ()]
        if wanted.categories is not None and "categories" not in problems:
            try:
                store.category_ids(session, slugs)
            except InputError as exc:
                problems["categories"] = exc.message
        if problems:
            raise FieldsRefused(problems)
        before = store.subscriber_snapshot(session, subscriber_id)
        was = row.status
        if wanted.name is not None:
            store.set_name(session, subscriber_id, one_line(wanted.name).strip(), now=now)
        if wanted.status is not None:
            store.set_subscriber_status(session, subscriber_id, wanted.status, now=now)
            if was == "bounced" and wanted.status != "bounced":  # cleared by an admin
                store.clear_bounce_reports(session, subscriber_id, now=now)
        if wanted.digests is not None:
            store.set_subscriptions(session, subscriber_id, wanted.digests)
        if wanted.categories is not None:
            store.set_interests(session, subscriber_id, slugs)
        store.record_subscriber_change(
            session,
            subscriber_id,
            before,
            actor=actor,
            action="subscriber.change",
            label=row.email,
            now=now,
        )
        session.refresh(row)
        return _members(session, [row])[0]


def remove(engine: Engine, subscriber_id: int, *, actor: str, now: datetime) -> str:
    """Delete a subscriber and their deliveries; their address. The trail keeps what they
    were (their id is never given to anyone else)."""
    with store.writing(engine) as session:
        row = session.get(Subscriber, subscriber_id)
        if row is None:
            raise NotFoundError(f"no subscriber {subscriber_id}")
        _remove(session, row, actor=actor, action="subscriber.remove", now=now)
        return row.email


def _remove(session: Session, row: Subscriber, *, actor: str, action: str, now: datetime) -> None:
    subscriber_id = row.id or 0
    before = store.subscriber_snapshot(session, subscriber_id)
    store.delete_subscriber_by_id(session, subscriber_id)
    store.record_subscriber_change(
        session, subscriber_id, before, actor=actor, action=action, label=row.email, now=now
    )


def _by_email(session: Session, email: str) -> Subscriber:
    row = store.subscriber_by_email(session, email)
    if row is None:
        raise NotFoundError(f"no subscriber {email.strip().lower()!r}")
    return row


def remove_subscriber(engine: Engine, email: str, *, actor: str, now: datetime) -> None:
    """Delete a subscriber and their deliveries (to stop mailing but keep the record,
    unsubscribe them instead)."""
    with store.writing(engine) as session:
        row = _by_email(session, email)
        _remove(session, row, actor=actor, action="subscriber.remove", now=now)


def rotate_links(engine: Engine, email: str, *, actor: str, now: datetime) -> None:
    """The editors' "sign out of all links" for ``email`` (a forwarded digest, a lost phone)."""
    with store.writing(engine) as session:
        row = _by_email(session, email)
        store.rotate_link_key(session, row.id or 0, now=now)
        store.record_subscriber_change(
            session,
            row.id or 0,
            {},
            actor=actor,
            action="subscriber.rotate-links",
            label=row.email,
            now=now,
            always=True,
        )


def clear_bounce(engine: Engine, email: str, *, actor: str, now: datetime) -> None:
    """An editor says mail to ``email`` works again: bounced becomes unsubscribed, so the
    person can sign up and confirm again (a bounced address cannot do that itself)."""
    with store.writing(engine) as session:
        row = _by_email(session, email)
        if row.status != "bounced":
            raise InputError(f"{row.email} has not bounced (it is {row.status})")
        before = store.subscriber_snapshot(session, row.id or 0)
        store.set_subscriber_status(session, row.id or 0, "unsubscribed", now=now)
        store.clear_bounce_reports(session, row.id or 0, now=now)  # soft bounces start over
        store.record_subscriber_change(
            session,
            row.id or 0,
            before,
            actor=actor,
            action="subscriber.clear-bounce",
            label=row.email,
            now=now,
        )


# ---------------------------------------------------------------- many at once

BULK_ACTIONS = ("unsubscribe", "remove")
BATCH = 1000  # subscribers read at once: every id is a query parameter (PostgreSQL: 65,535)


@dataclass(frozen=True)
class Counted:
    """The set a bulk action will act on, as counted for its confirmation page."""

    count: int
    fingerprint: str  # changes whenever the set does


def _fingerprint(ids: Sequence[int]) -> str:
    return hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()[:32]


def _targets(session: Session, action: str, chosen: SubscriberFilter) -> list[int]:
    # Unsubscribing counts only those it changes: the pending and confirmed ones.
    statuses = ("pending", "confirmed") if action == "unsubscribe" else ()
    return store.matching_ids(session, chosen, statuses=statuses)


def count_for(engine: Engine, action: str, chosen: SubscriberFilter) -> Counted:
    """How many subscribers ``action`` would change in the set ``chosen``."""
    if action not in BULK_ACTIONS:
        raise InputError(f"unknown action {action!r} (one of {', '.join(BULK_ACTIONS)})")
    with store.reading(engine) as session:
        ids = _targets(session, action, chosen)
    return Counted(len(ids), _fingerprint(ids))


def act_on(
    engine: Engine,
    action: str,
    chosen: SubscriberFilter,
    counted: Counted,
    *,
    actor: str,
    now: datetime,
) -> int:
    """Unsubscribe or remove exactly the set that was counted (InputError, changing
    nothing, when it is not the same set any more); how many changed. One audit entry per
    subscriber, as if each was done alone, and one for the action as a whole."""
    if action not in BULK_ACTIONS:
        raise InputError(f"unknown action {action!r} (one of {', '.join(BULK_ACTIONS)})")
    with store.writing(engine) as session:
        ids = _targets(session, action, chosen)
        if len(ids) != counted.count or _fingerprint(ids) != counted.fingerprint:
            raise InputError(
                f"the set changed since it was counted ({counted.count:,} then, {len(ids):,} "
                "now): nothing was done; count again"
            )
        batches = (ids[start : start + BATCH] for start in range(0, len(ids), BATCH))
        for row in (row for batch in batches for row in store.subscribers_by_ids(session, batch)):
            if action == "remove":
                _remove(session, row, actor=actor, action="subscriber.bulk-remove", now=now)
                continue
            before = store.subscriber_snapshot(session, row.id or 0)
            store.set_subscriber_status(session, row.id or 0, "unsubscribed", now=now)
            store.record_subscriber_change(
                session,
                row.id or 0,
                before,
                actor=actor,
                action="subscriber.bulk-unsubscribe",
                label=row.email,
                now=now,
            )
        store.record(
            session,
            actor=actor,
            action=f"subscribers.bulk-{action}",
            kind="bulk",
            subject_id=None,
            label=_describe(chosen),
            after={"count": len(ids)},
            now=now,
        )
    return len(ids)


def _describe(chosen: SubscriberFilter) -> str:
    parts = [
        f"{name}={value!r}"
        for name, value in (
            ("search", chosen.text),
            ("status", chosen.status),
            ("digest", chosen.digest),
            ("category", chosen.category),
        )
        if value
    ]
    return ", ".join(parts) or "every subscriber"
