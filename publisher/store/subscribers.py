"""Subscribers and the digests they receive."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    and_,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from publisher.errors import InputError, NotFoundError
from publisher.models import (
    Confirmation,
    Subscriber,
)
from publisher.store.articles import category_is_public
from publisher.store.engine import (
    categories_t,
    insert_ignore,
    interests_t,
    subscribers_t,
    subscriptions_t,
)
from publisher.tokens import new_link_key

__all__ = [
    "SUBSCRIBER_STATUSES",
    "audience_size",
    "category_ids",
    "confirmations_t",
    "delete_subscriber",
    "interests_of",
    "lock_subscriber",
    "record_request",
    "request_by_id",
    "requests_since",
    "rotate_link_key",
    "set_breaking",
    "set_interests",
    "set_languages",
    "set_name",
    "set_subscriber_status",
    "set_subscriptions",
    "subscriber_by_email",
    "subscriber_by_id",
    "subscriber_list",
    "subscriptions_of",
    "upsert_subscriber",
    "use_request",
]

# ---------------------------------------------------------------- subscribers

SUBSCRIBER_STATUSES = ("pending", "confirmed", "unsubscribed", "bounced")


def subscriber_by_email(session: Session, email: str) -> Subscriber | None:
    return session.scalars(
        select(Subscriber).where(subscribers_t.c.email == email.strip().lower())
    ).first()


def subscriber_by_id(session: Session, subscriber_id: int) -> Subscriber:
    found = session.get(Subscriber, subscriber_id)
    if found is None:
        raise NotFoundError(f"no subscriber {subscriber_id}")
    return found


def upsert_subscriber(
    session: Session,
    email: str,
    *,
    name: str,
    status: str,
    digests: Sequence[str],
    now: datetime,
    created_at: datetime | None = None,
    confirmed_at: datetime | None = None,
) -> tuple[Subscriber, bool]:
    """Create or update a subscriber (by lower-cased address) and set their digests.
    An unsubscribed or bounced address never becomes confirmed this way; only the person
    confirming again does that (``confirm_subscriber``). Returns the row and whether it is new."""
    address = email.strip().lower()
    found = subscriber_by_email(session, address)
    if found is None:
        statement = (
            insert_ignore(session)(subscribers_t)
            .values(
                email=address,
                name=name,
                status=status,
                link_key=new_link_key(),
                created_at=created_at or now,
                updated_at=now,
                confirmed_at=(confirmed_at or now) if status == "confirmed" else confirmed_at,
            )
            .on_conflict_do_nothing(index_elements=["email"])
        )
        session.execute(statement)
        created = True
    else:
        created = False
        values: dict[str, Any] = {"updated_at": now}
        if name:
            values["name"] = name
        # Never back to confirmed from unsubscribed or bounced, never down to pending.
        locked = found.status in ("unsubscribed", "bounced")
        downgrade = found.status == "confirmed" and status == "pending"
        if status != found.status and not locked and not downgrade:
            values["status"] = status
            if status == "confirmed":
                values["confirmed_at"] = now
        session.execute(update(subscribers_t).where(subscribers_t.c.id == found.id).values(values))
    row = subscriber_by_email(session, address)
    assert row is not None and row.id is not None
    set_subscriptions(session, row.id, digests)
    session.refresh(row)
    return row, created


def set_name(session: Session, subscriber_id: int, name: str, *, now: datetime) -> None:
    session.execute(
        update(subscribers_t)
        .where(subscribers_t.c.id == subscriber_id)
        .values(name=name, updated_at=now)
    )


def set_languages(
    session: Session,
    subscriber_id: int,
    *,
    language: str | None,
    languages: Sequence[str] | None,
    now: datetime,
) -> None:
    """A member's language (of pages and mail) and the languages of the stories they read
    (empty: every language); None leaves either as it is."""
    values: dict[str, Any] = {}
    if language is not None:
        values["language"] = language
    if languages is not None:
        values["languages"] = " ".join(languages)
    if values:
        session.execute(
            update(subscribers_t)
            .where(subscribers_t.c.id == subscriber_id)
            .values(updated_at=now, **values)
        )


def lock_subscriber(session: Session, subscriber_id: int) -> None:
    """Hold the subscriber's row until this transaction ends (PostgreSQL; SQLite's writes are
    one at a time already), so concurrent changes to their choices queue up."""
    session.execute(
        select(subscribers_t.c.id).where(subscribers_t.c.id == subscriber_id).with_for_update()
    )


def set_subscriptions(session: Session, subscriber_id: int, digests: Sequence[str]) -> None:
    session.execute(delete(subscriptions_t).where(subscriptions_t.c.subscriber_id == subscriber_id))
    rows = [{"subscriber_id": subscriber_id, "digest": d} for d in dict.fromkeys(digests)]
    if rows:
        session.execute(insert(subscriptions_t), rows)


def subscriptions_of(session: Session, subscriber_ids: Sequence[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {i: [] for i in subscriber_ids}
    for row in session.execute(
        select(subscriptions_t.c.subscriber_id, subscriptions_t.c.digest)
        .where(subscriptions_t.c.subscriber_id.in_(list(subscriber_ids)))
        .order_by(subscriptions_t.c.digest)
    ):
        out[row.subscriber_id].append(row.digest)
    return out


def set_interests(
    session: Session, subscriber_id: int, slugs: Sequence[str], *, now: datetime | None = None
) -> None:
    """The categories (by slug) the subscriber wants; none means every category. Unknown
    slugs raise InputError and change nothing. With ``now``, a reader's choice: only public
    categories and those they already have count as known."""
    wanted = list(dict.fromkeys(slugs))
    had = interests_of(session, [subscriber_id])[subscriber_id] if now is not None else []
    ids = category_ids(session, wanted, now=now, keep=had)
    session.execute(delete(interests_t).where(interests_t.c.subscriber_id == subscriber_id))
    rows = [{"subscriber_id": subscriber_id, "category_id": ids[slug]} for slug in wanted]
    if rows:
        # Ignore a row another transaction has just added for the same choice.
        session.execute(insert_ignore(session)(interests_t).values(rows).on_conflict_do_nothing())


def category_ids(
    session: Session,
    slugs: Sequence[str],
    *,
    now: datetime | None = None,
    keep: Sequence[str] = (),
) -> dict[str, int]:
    """The id of each category slug; InputError naming any unknown one. With ``now`` (a
    reader's choice), a category is known only when public at ``now`` or in ``keep``, and
    the message lists only public ones."""
    wanted = list(dict.fromkeys(slugs))
    query = select(categories_t.c.slug, categories_t.c.id).where(categories_t.c.slug.in_(wanted))
    if now is not None:
        query = query.where(or_(category_is_public(now), categories_t.c.slug.in_(list(keep))))
    ids: dict[str, int] = {slug: category_id for slug, category_id in session.execute(query)}
    unknown = [slug for slug in wanted if slug not in ids]
    if unknown:
        listed = select(categories_t.c.slug).order_by(categories_t.c.slug)
        if now is not None:
            listed = listed.where(category_is_public(now))
        known = session.scalars(listed).all()
        raise InputError(
            f"unknown category {', '.join(map(repr, unknown))} "
            f"(known: {', '.join(known) or 'none yet'})"
        )
    return ids


def interests_of(session: Session, subscriber_ids: Sequence[int]) -> dict[int, list[str]]:
    """The category slugs each subscriber chose (an empty list: every category)."""
    out: dict[int, list[str]] = {i: [] for i in subscriber_ids}
    for row in session.execute(
        select(interests_t.c.subscriber_id, categories_t.c.slug)
        .join(categories_t, categories_t.c.id == interests_t.c.category_id)
        .where(interests_t.c.subscriber_id.in_(list(subscriber_ids)))
        .order_by(categories_t.c.slug)
    ):
        out[row.subscriber_id].append(row.slug)
    return out


def set_breaking(session: Session, subscriber_id: int, wanted: bool, *, now: datetime) -> bool:
    """Whether the subscriber gets breaking news (issue 27); False when it was already so."""
    result = session.execute(
        update(subscribers_t)
        .where(and_(subscribers_t.c.id == subscriber_id, subscribers_t.c.breaking != wanted))
        .values(breaking=wanted, updated_at=now)
    )
    return bool(cast(CursorResult[Any], result).rowcount)


def set_subscriber_status(
    session: Session, subscriber_id: int, status: str, *, now: datetime
) -> bool:
    """Change a subscriber's status; False when it already had it."""
    values: dict[str, Any] = {"status": status, "updated_at": now}
    if status == "confirmed":
        values["confirmed_at"] = now
    result = session.execute(
        update(subscribers_t)
        .where(and_(subscribers_t.c.id == subscriber_id, subscribers_t.c.status != status))
        .values(values)
    )
    return bool(cast(CursorResult[Any], result).rowcount)


def subscriber_list(session: Session, *, after_id: int = 0, limit: int = 1000) -> list[Subscriber]:
    query = select(Subscriber).where(subscribers_t.c.id > after_id).order_by(subscribers_t.c.id)
    return list(session.scalars(query.limit(limit)).all())


def delete_subscriber(session: Session, email: str) -> bool:
    result = session.execute(
        delete(subscribers_t).where(subscribers_t.c.email == email.strip().lower())
    )
    return bool(cast(CursorResult[Any], result).rowcount)


def audience_size(session: Session, digest: str) -> int:
    """Confirmed subscribers of ``digest``."""
    query = (
        select(func.count())
        .select_from(subscriptions_t)
        .join(subscribers_t, subscribers_t.c.id == subscriptions_t.c.subscriber_id)
        .where(and_(subscriptions_t.c.digest == digest, subscribers_t.c.status == "confirmed"))
    )
    return int(session.scalar(query) or 0)


confirmations_t = Confirmation.__table__  # type: ignore[attr-defined]


def rotate_link_key(session: Session, subscriber_id: int, *, now: datetime) -> bool:
    """A new link key for the subscriber: every link made before stops working."""
    result = session.execute(
        update(subscribers_t)
        .where(subscribers_t.c.id == subscriber_id)
        .values(link_key=new_link_key(), legacy_links_until=None, updated_at=now)
    )
    return bool(cast(CursorResult[Any], result).rowcount)


def requests_since(session: Session, mailbox: str, kind: str, since: datetime) -> int:
    """Link requests of ``kind`` for ``mailbox`` since ``since`` (sign-up and access caps)."""
    query = (
        select(func.count())
        .select_from(confirmations_t)
        .where(
            and_(
                confirmations_t.c.mailbox == mailbox,
                confirmations_t.c.kind == kind,
                confirmations_t.c.sent_at >= since,
            )
        )
    )
    return int(session.scalar(query) or 0)


def record_request(
    session: Session,
    subscriber_id: int | None,
    *,
    kind: str,
    mailbox: str,
    now: datetime,
    name: str = "",
    digests: Sequence[str] = (),
    categories: Sequence[str] | None = None,
    language: str = "",
    languages: Sequence[str] | None = None,
) -> int:
    """Record a link request (with the changes a sign-up asks for: ``language`` empty and
    ``languages`` None change nothing); its id."""
    result = session.execute(
        insert(confirmations_t).values(
            subscriber_id=subscriber_id,
            sent_at=now,
            kind=kind,
            mailbox=mailbox,
            name=name,
            digests=" ".join(digests),
            categories=None if categories is None else " ".join(categories),
            language=language,
            languages=None if languages is None else " ".join(languages),
        )
    )
    key = cast(CursorResult[Any], result).inserted_primary_key
    assert key is not None
    return int(key[0])


def request_by_id(session: Session, request_id: int) -> Confirmation | None:
    return session.get(Confirmation, request_id)


def use_request(session: Session, request_id: int, *, now: datetime) -> bool:
    """Mark a one-time request used; False when it already was (the link works once)."""
    result = session.execute(
        update(confirmations_t)
        .where(and_(confirmations_t.c.id == request_id, confirmations_t.c.used_at.is_(None)))
        .values(used_at=now)
    )
    return bool(cast(CursorResult[Any], result).rowcount)
