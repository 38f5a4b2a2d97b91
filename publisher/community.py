"""Community use cases: the subscribers, their status and their digests."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from jinja2 import Environment
from sqlalchemy import Engine

from publisher import roster, store
from publisher.content import normalise_email, one_line, xml_text
from publisher.errors import InputError, NotFoundError, OperationalError
from publisher.mailer import envelope_sender, simple_message
from publisher.models import Report, Subscriber
from publisher.settings import Settings
from publisher.tokens import CONFIRM_TTL, Signer
from publisher.transports import DeliveryError, Transport


@dataclass(frozen=True)
class SubscriberView:
    subscriber: Subscriber
    digests: tuple[str, ...]
    categories: tuple[str, ...] = ()  # slugs of the categories they chose; empty: every one


def add_subscriber(
    engine: Engine,
    email: str,
    *,
    name: str = "",
    confirmed: bool,
    digests: Sequence[str],
    known_digests: Sequence[str],
    categories: Sequence[str] | None = None,
    now: datetime,
) -> tuple[SubscriberView, bool]:
    """Add (or update) a subscriber to ``digests`` (every known digest when empty), with
    only ``categories``' stories (category slugs; None keeps their choice, empty: all)."""
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
        if categories is not None:
            slugs = [unicodedata.normalize("NFC", c.strip().lower()) for c in categories]
            store.set_interests(session, row.id or 0, slugs)
        topics = store.interests_of(session, [row.id or 0])[row.id or 0]
        return SubscriberView(row, tuple(chosen), tuple(topics)), created


def list_subscribers(engine: Engine) -> list[SubscriberView]:
    views: list[SubscriberView] = []
    after = 0
    with store.reading(engine) as session:
        while True:
            rows = store.subscriber_list(session, after_id=after)
            if not rows:
                return views
            ids = [r.id or 0 for r in rows]
            digests = store.subscriptions_of(session, ids)
            topics = store.interests_of(session, ids)
            views.extend(
                SubscriberView(r, tuple(digests[r.id or 0]), tuple(topics[r.id or 0])) for r in rows
            )
            after = rows[-1].id or 0


def remove_subscriber(engine: Engine, email: str) -> None:
    """Delete a subscriber and their deliveries (to stop mailing but keep the record,
    unsubscribe them instead)."""
    with store.writing(engine) as session:
        if not store.delete_subscriber(session, email):
            raise NotFoundError(f"no subscriber {email.strip().lower()!r}")


def member(
    engine: Engine, signer: Signer, purpose: str, token: str, *, now: datetime
) -> SubscriberView:
    """The subscriber a link's token names; TokenError for a forged, altered or expired one,
    NotFoundError when the subscriber has since been removed."""
    claim = signer.check(purpose, token, now=now)
    with store.reading(engine) as session:
        try:
            row = store.subscriber_by_id(session, claim.subscriber_id)
        except NotFoundError:
            raise NotFoundError("this subscription no longer exists") from None
        digests = store.subscriptions_of(session, [claim.subscriber_id])[claim.subscriber_id]
        topics = store.interests_of(session, [claim.subscriber_id])[claim.subscriber_id]
    return SubscriberView(row, tuple(digests), tuple(topics))


def unsubscribe(engine: Engine, signer: Signer, token: str, *, now: datetime) -> SubscriberView:
    """Stop every digest for the token's subscriber (RFC 8058 one-click too). Idempotent; a
    bounced address stays bounced."""
    view = member(engine, signer, "unsubscribe", token, now=now)
    if view.subscriber.status != "bounced":
        with store.writing(engine) as session:
            store.set_subscriber_status(session, view.subscriber.id or 0, "unsubscribed", now=now)
    return member(engine, signer, "unsubscribe", token, now=now)


def categories(engine: Engine, chosen: Sequence[str] = ()) -> list[tuple[str, str]]:
    """(slug, name) of every category a reader can choose: those with stories, and those in
    ``chosen`` (a reader's choice stays visible after its last story moved elsewhere)."""
    with store.reading(engine) as session:
        offered = {c.slug: c.name for c in store.categories_with_articles(session)}
        offered |= {c.slug: c.name for c in store.category_list(session) if c.slug in chosen}
    return sorted(offered.items())


def set_preferences(
    engine: Engine,
    signer: Signer,
    token: str,
    digests: Sequence[str],
    *,
    known_digests: Sequence[str],
    categories: Sequence[str] = (),
    now: datetime,
) -> SubscriberView:
    """Choose which digests the token's subscriber receives (none unsubscribes them, some
    brings an unsubscribed member back) and which categories' stories they contain (none:
    every category). An unknown category is an InputError and changes nothing."""
    view = member(engine, signer, "preferences", token, now=now)
    chosen = [d for d in dict.fromkeys(digests) if d in known_digests]
    subscriber_id = view.subscriber.id or 0
    status = view.subscriber.status
    with store.writing(engine) as session:
        store.lock_subscriber(session, subscriber_id)  # two saves at once: one after the other
        store.set_interests(session, subscriber_id, categories)
        store.set_subscriptions(session, subscriber_id, chosen)
        if not chosen and status == "confirmed":
            store.set_subscriber_status(session, subscriber_id, "unsubscribed", now=now)
        elif chosen and status == "unsubscribed":
            # The link came in their mail and saving is a deliberate POST: they are back.
            # A bounced address stays bounced: that mailbox does not exist.
            store.set_subscriber_status(session, subscriber_id, "confirmed", now=now)
    return member(engine, signer, "preferences", token, now=now)


MAX_REPORT = 5000


def report_error(engine: Engine, slug: str, message: str, email: str, *, now: datetime) -> int:
    """Store a reader's "Spot an error?" report for the editors; its id."""
    text = xml_text(message).strip()
    if len(text) < 5:
        raise InputError("please say what is wrong (a few words at least)")
    if len(text) > MAX_REPORT:
        raise InputError(f"please keep it under {MAX_REPORT:,} characters")
    address = ""
    if email.strip():
        try:
            address = normalise_email(email)
        except ValueError as exc:
            raise InputError(str(exc)) from None
    with store.writing(engine) as session:
        return store.add_report(session, slug, text, address, now=now)


def list_reports(engine: Engine, *, include_resolved: bool = False) -> list[Report]:
    with store.reading(engine) as session:
        return store.report_list(session, include_resolved=include_resolved)


def resolve_report(engine: Engine, report_id: int, *, now: datetime) -> bool:
    with store.writing(engine) as session:
        return store.resolve_report(session, report_id, now=now)


CONFIRMATIONS_PER_DAY = 3


def signup(
    engine: Engine,
    settings: Settings,
    signer: Signer,
    env: Environment,
    transport: Transport,
    email: str,
    *,
    name: str,
    digests: Sequence[str],
    known_digests: Sequence[str],
    categories: Sequence[str] = (),
    now: datetime,
) -> bool:
    """Join The Community, double opt-in: store a pending subscriber (with their digests and
    the categories they want, none meaning all) and mail a confirmation link. The caller shows
    the same answer whatever happened (no one learns whether an address is known); returns
    whether a mail went out. A confirmed member is left as they are (their choices are theirs
    to change, through their preferences link), and at most CONFIRMATIONS_PER_DAY mails go to
    one address a day. An unknown category is an InputError and stores nothing."""
    try:
        address = normalise_email(email)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    chosen = [d for d in dict.fromkeys(digests) if d in known_digests] or list(known_digests)
    name = one_line(name)[:200]
    with store.writing(engine) as session:
        # Checked before the address is looked up, so the answer cannot tell who is a member.
        store.category_ids(session, categories)
        row = store.subscriber_by_email(session, address)
        if row is not None and row.status == "confirmed":
            return False
        row, _ = store.upsert_subscriber(
            session, address, name=name, status="pending", digests=chosen, now=now
        )
        subscriber_id = row.id or 0
        store.set_interests(session, subscriber_id, categories)
        if store.confirmations_since(session, subscriber_id, now - timedelta(days=1)) >= (
            CONFIRMATIONS_PER_DAY
        ):
            return False
        store.record_confirmation(session, subscriber_id, now=now)
    token = signer.make("confirm", subscriber_id, expires=now + CONFIRM_TTL)
    values = {
        "name": name,
        "site_title": settings.site_title,
        "language": settings.site_language,
        "postal_address": settings.postal_address,
        "confirm_url": f"{settings.site_url}/confirm/{token}",
        "subject": f"Confirm your {settings.site_title} subscription",
    }
    message = simple_message(
        sender=settings.mail_from,
        to=address,
        subject=values["subject"],
        text=env.get_template("email/confirm.txt").render(**values),
        html=env.get_template("email/confirm.html").render(**values),
        message_id=f"confirm-{subscriber_id}.{int(now.timestamp())}@{settings.site_host}",
        date=now,
    )
    try:
        transport.send(envelope_sender(settings.mail_from), address, message)
    except DeliveryError as exc:
        raise OperationalError(
            "we could not send the confirmation email just now; please try again in a few "
            f"minutes ({exc.reply})"
        ) from None
    finally:
        transport.close()
    return True


def confirm(engine: Engine, signer: Signer, token: str, *, now: datetime) -> SubscriberView:
    """The person clicked the link in their mail and pressed the button: they are in."""
    view = member(engine, signer, "confirm", token, now=now)
    if view.subscriber.status != "confirmed":
        with store.writing(engine) as session:
            store.set_subscriber_status(session, view.subscriber.id or 0, "confirmed", now=now)
    return member(engine, signer, "confirm", token, now=now)


@dataclass(frozen=True)
class ImportedSubscribers:
    created: int
    updated: int
    merged: int = 0  # rows that named someone an earlier row of the file named


def import_subscribers(
    engine: Engine, path: Path, *, known_digests: Sequence[str], zone: ZoneInfo, now: datetime
) -> ImportedSubscribers:
    """Import a subscriber CSV, all or nothing; every bad row is reported with its line.
    Addresses are matched case-insensitively, and an unsubscribed or bounced address is never
    turned back into a confirmed one (only the person confirming again does that)."""
    problems: list[str] = []
    people: dict[str, roster.Row] = {}
    created = updated = merged = 0
    with store.writing(engine) as session:
        categories = [c.slug for c in store.category_list(session)]
        rows = roster.read_rows(
            path, known_digests=known_digests, zone=zone, known_categories=categories
        )
        for row in rows:  # every row is read, so that every problem is reported
            if isinstance(row, str):
                problems.append(row)
            elif row.email in people:  # the same person again (addresses are lower-cased)
                people[row.email] = people[row.email].merged(row)
                merged += 1
            else:
                people[row.email] = row
        if problems:
            raise InputError(f"nothing imported: {len(problems)} problem(s)", details=problems)
        for row in people.values():
            found, new = store.upsert_subscriber(
                session,
                row.email,
                name=row.name,
                status=row.status,
                digests=row.digests,
                now=now,
                created_at=row.created_at,
                confirmed_at=row.confirmed_at,
            )
            if row.categories is not None:  # a file without the column keeps their choice
                store.set_interests(session, found.id or 0, row.categories)
            created += new
            updated += not new
    return ImportedSubscribers(created, updated, merged)


def export_subscribers(engine: Engine, out: TextIO) -> int:
    """Every subscriber as CSV (CONTRACT.md columns); how many."""

    def rows() -> Iterator[tuple[object, ...]]:
        for view in list_subscribers(engine):
            row = view.subscriber
            yield (
                row.email,
                row.name,
                row.status,
                " ".join(view.digests),
                row.created_at.isoformat(),
                row.confirmed_at.isoformat() if row.confirmed_at else "",
                " ".join(view.categories),
            )

    return roster.write_rows(out, rows())
