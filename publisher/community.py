"""Community use cases: the subscribers, their status and their digests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from publisher import store
from publisher.content import normalise_email
from publisher.errors import InputError, NotFoundError
from publisher.models import Subscriber


@dataclass(frozen=True)
class SubscriberView:
    subscriber: Subscriber
    digests: tuple[str, ...]


def add_subscriber(
    engine: Engine,
    email: str,
    *,
    name: str = "",
    confirmed: bool,
    digests: Sequence[str],
    known_digests: Sequence[str],
    now: datetime,
) -> tuple[SubscriberView, bool]:
    """Add (or update) a subscriber to ``digests`` (every known digest when empty)."""
    try:
        address = normalise_email(email)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    unknown = [d for d in digests if d not in known_digests]
    if unknown:
        raise InputError(
            f"unknown digest(s) {', '.join(unknown)} (known: {', '.join(known_digests) or 'none'})"
        )
    chosen = list(digests) or list(known_digests)
    with store.writing(engine) as session:
        row, created = store.upsert_subscriber(
            session,
            address,
            name=name.strip(),
            status="confirmed" if confirmed else "pending",
            digests=chosen,
            now=now,
        )
        return SubscriberView(row, tuple(chosen)), created


def list_subscribers(engine: Engine) -> list[SubscriberView]:
    views: list[SubscriberView] = []
    after = 0
    with store.reading(engine) as session:
        while True:
            rows = store.subscriber_list(session, after_id=after)
            if not rows:
                return views
            digests = store.subscriptions_of(session, [r.id or 0 for r in rows])
            views.extend(SubscriberView(r, tuple(digests[r.id or 0])) for r in rows)
            after = rows[-1].id or 0


def remove_subscriber(engine: Engine, email: str) -> None:
    """Delete a subscriber and their deliveries (to stop mailing but keep the record,
    unsubscribe them instead)."""
    with store.writing(engine) as session:
        if not store.delete_subscriber(session, email):
            raise NotFoundError(f"no subscriber {email.strip().lower()!r}")
