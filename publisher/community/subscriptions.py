"""Community use cases: the subscribers, their status and their digests. What readers
do to their own subscription (sign up, confirm, unsubscribe, preferences, sign out of all
links) is in the audit trail as the actor READER; the editors' side is ``community.subscribers``."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from jinja2 import Environment
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from publisher import store
from publisher.content import normalise_email, one_line, plain_text
from publisher.errors import ConflictError, InputError, NotFoundError
from publisher.languages import CATALOGS, N_, catalog_for, gettext, parse_tags
from publisher.look.values import read_look
from publisher.mail.mime import simple_message
from publisher.models import Confirmation, Report, Subscriber
from publisher.settings import Settings
from publisher.tokens import (
    ACCESS_TTL,
    CONFIRM_TTL,
    GONE,
    PREFERENCES_TTL,
    UNSUBSCRIBE_TTL,
    Signer,
    TokenError,
)

__all__ = [
    "ACCESS_LINKS_PER_DAY",
    "ACCESS_SESSION",
    "CONFIRMATIONS_PER_DAY",
    "MAX_NAME",
    "MAX_REPORT",
    "READER",
    "UNNAMED",
    "SubscriberView",
    "add_subscriber",
    "categories",
    "clean_name",
    "confirm",
    "list_reports",
    "list_subscribers",
    "mailbox_of",
    "member",
    "open_access",
    "preferences_token",
    "report_error",
    "request_access",
    "send_confirmation",
    "set_preferences",
    "sign_out_everywhere",
    "signup",
    "unsubscribe",
]

READER = "reader"  # the audit trail's actor for a reader's own change
UNNAMED = "system"  # the actor of a change whose caller names none


@dataclass(frozen=True)
class SubscriberView:
    subscriber: Subscriber
    digests: tuple[str, ...]
    categories: tuple[str, ...] = ()  # slugs of the categories they chose; empty: every one
    used: bool = False  # for a confirm or access link: whether it was used already


def add_subscriber(
    engine: Engine,
    email: str,
    *,
    name: str = "",
    confirmed: bool,
    digests: Sequence[str],
    known_digests: Sequence[str],
    categories: Sequence[str] | None = None,
    language: str | None = None,
    languages: Sequence[str] | None = None,
    now: datetime,
    actor: str = UNNAMED,
) -> tuple[SubscriberView, bool]:
    """Add (or update) a subscriber to ``digests`` (every known digest when empty), with
    only ``categories``' stories (category slugs; None keeps their choice, empty: all), in
    ``language`` with stories in ``languages`` (None keeps them; empty: the site's, all);
    in the audit trail as ``actor``."""
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
    chosen_language = None if language is None else reader_language(language)
    tags = story_languages(languages)
    with store.writing(engine) as session:
        known = store.subscriber_by_email(session, address)
        before = store.subscriber_snapshot(session, known.id or 0) if known else {}
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
        if chosen_language is not None or tags is not None:
            store.set_languages(
                session, row.id or 0, language=chosen_language, languages=tags, now=now
            )
            session.refresh(row)
        store.record_subscriber_change(
            session,
            row.id or 0,
            before,
            actor=actor,
            action="subscriber.add",
            label=address,
            now=now,
        )
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


def member(
    engine: Engine, signer: Signer, purpose: str, token: str, *, now: datetime
) -> SubscriberView:
    """The subscriber a link's token names; TokenError for a forged, altered or expired one,
    or one whose subscriber was removed or signed out of all links."""
    with store.reading(engine) as session:
        row, request = _resolve(session, signer, purpose, token, now=now)
        return _view(session, row, used=request is not None and request.used_at is not None)


def _resolve(
    session: Session, signer: Signer, purpose: str, token: str, *, now: datetime
) -> tuple[Subscriber, Confirmation | None]:
    if purpose == "unsubscribe":
        legacy = signer.legacy_unsubscribe(token)
        if legacy is not None:  # a link mailed before link keys (migration 0008)
            found = session.get(Subscriber, legacy)
            until = found.legacy_links_until if found else None
            if found is None or until is None or now >= until:
                raise TokenError(GONE)
            return found, None
    subject = signer.subject(token)
    request = None
    if purpose in ("confirm", "access"):
        request = store.request_by_id(session, subject)
        if request is None or request.kind != purpose or request.subscriber_id is None:
            raise TokenError(GONE)
        subject = request.subscriber_id
    row = session.get(Subscriber, subject)
    if row is None:
        raise TokenError(GONE)
    try:
        signer.check(purpose, token, row.link_key, now=now)
    except TokenError as exc:
        # Written canonically but not signed with the current key: signed out, or forged.
        raise TokenError(GONE if "not valid" in exc.message else exc.message) from None
    return row, request


def _view(session: Session, row: Subscriber, *, used: bool = False) -> SubscriberView:
    subscriber_id = row.id or 0
    digests = store.subscriptions_of(session, [subscriber_id])[subscriber_id]
    topics = store.interests_of(session, [subscriber_id])[subscriber_id]
    return SubscriberView(row, tuple(digests), tuple(topics), used)


def preferences_token(signer: Signer, view: SubscriberView, *, now: datetime) -> str:
    """A preferences link for the subscriber, valid PREFERENCES_TTL."""
    row = view.subscriber
    return signer.make("preferences", row.id or 0, row.link_key, expires=now + PREFERENCES_TTL)


def sign_out_everywhere(engine: Engine, signer: Signer, token: str, *, now: datetime) -> str:
    """ "Sign out of all links": a new link key for the preferences token's subscriber, so that
    every link mailed before (this one too) stops working; their address."""
    view = member(engine, signer, "preferences", token, now=now)
    with store.writing(engine) as session:
        subscriber_id = view.subscriber.id or 0
        store.rotate_link_key(session, subscriber_id, now=now)
        store.record_subscriber_change(
            session,
            subscriber_id,
            {},
            actor=READER,
            action="subscriber.rotate-links",
            label=view.subscriber.email,
            now=now,
            always=True,
        )
    return view.subscriber.email


def unsubscribe(engine: Engine, signer: Signer, token: str, *, now: datetime) -> SubscriberView:
    """Stop every digest for the token's subscriber (RFC 8058 one-click too). Idempotent; a
    bounced address stays bounced."""
    view = member(engine, signer, "unsubscribe", token, now=now)
    if view.subscriber.status != "bounced":
        with store.writing(engine) as session:
            subscriber_id = view.subscriber.id or 0
            before = store.subscriber_snapshot(session, subscriber_id)
            store.set_subscriber_status(session, subscriber_id, "unsubscribed", now=now)
            if view.subscriber.status == "confirmed":
                _left_through(session, subscriber_id, token, UNSUBSCRIBE_TTL, now=now)
            store.record_subscriber_change(
                session,
                subscriber_id,
                before,
                actor=READER,
                action="subscriber.unsubscribe",
                label=view.subscriber.email,
                now=now,
            )
    return member(engine, signer, "unsubscribe", token, now=now)


def _left_through(
    session: Session, subscriber_id: int, token: str, ttl: timedelta, *, now: datetime
) -> None:
    """Credit the edition whose mail carried this (checked) link with the reader leaving: a
    token's expiry is the time its copy of the mail was made plus ``ttl``, and that names
    the delivery (issue 13: unsubscribes through an edition's links)."""
    parts = token.split(".")
    if len(parts) != 3:  # a link mailed before link keys: no time in it
        return
    made = datetime.fromtimestamp(int(parts[1], 16), UTC) - ttl
    store.record_unsubscribe(session, subscriber_id, made=made, now=now)


def categories(
    engine: Engine, chosen: Sequence[str] = (), *, now: datetime
) -> list[tuple[str, str]]:
    """(slug, name) of every category a reader can choose: those with published stories, and
    those in ``chosen`` (a reader's choice stays visible after its last story moved elsewhere)."""
    with store.reading(engine) as session:
        offered = {c.slug: c.name for c in store.public_categories(session, now=now)}
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
    breaking: bool | None = None,
    language: str | None = None,
    languages: Sequence[str] | None = None,
    now: datetime,
) -> SubscriberView:
    """Choose which digests the token's subscriber receives (none, and no breaking news,
    unsubscribes them; some brings an unsubscribed member back), which categories' stories
    they contain (none: every category), whether they get breaking news, their language and
    their stories' (None: as it is). An unknown category or language is an InputError and
    changes nothing."""
    view = member(engine, signer, "preferences", token, now=now)
    chosen_language = None if language is None else reader_language(language)
    tags = story_languages(languages)
    chosen = [d for d in dict.fromkeys(digests) if d in known_digests]
    subscriber_id = view.subscriber.id or 0
    status = view.subscriber.status
    with store.writing(engine) as session:
        store.lock_subscriber(session, subscriber_id)  # two saves at once: one after the other
        before = store.subscriber_snapshot(session, subscriber_id)
        store.set_interests(session, subscriber_id, categories, now=now)
        store.set_subscriptions(session, subscriber_id, chosen)
        store.set_languages(
            session, subscriber_id, language=chosen_language, languages=tags, now=now
        )
        if breaking is not None:
            store.set_breaking(session, subscriber_id, breaking, now=now)
        wanted = bool(chosen) or bool(breaking)
        if not wanted and status == "confirmed":
            store.set_subscriber_status(session, subscriber_id, "unsubscribed", now=now)
            _left_through(session, subscriber_id, token, PREFERENCES_TTL, now=now)
        elif wanted and status == "unsubscribed":
            # The link came in their mail and saving is a deliberate POST: they are back.
            # A bounced address stays bounced: that mailbox does not exist.
            store.set_subscriber_status(session, subscriber_id, "confirmed", now=now)
        store.record_subscriber_change(
            session,
            subscriber_id,
            before,
            actor=READER,
            action="subscriber.preferences",
            label=view.subscriber.email,
            now=now,
        )
    return member(engine, signer, "preferences", token, now=now)


MAX_REPORT = 5000


def report_error(engine: Engine, slug: str, message: str, email: str, *, now: datetime) -> int:
    """Store a reader's "Spot an error?" report for the editors; its id."""
    text = plain_text(message).strip()  # multi-line: LF kept; CR, C1, bidi overrides not
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


CONFIRMATIONS_PER_DAY = 3  # per mailbox: the address without its +tag (issue 16)
ACCESS_LINKS_PER_DAY = 3
MAX_NAME = 80
# A name is put into a mail a stranger can make us send: no web or mail addresses in it
# (phishing text, issue 16): a scheme, "www.", an @, or anything shaped like a domain.
_LINKISH = re.compile(r"(?i)(://|\bwww\.|@|[a-z0-9-]\.[a-z]{2,}\b|\b[a-z]{2,}:/)")


def mailbox_of(address: str) -> str:
    """The mailbox an address reaches: lower-case, without a ``+tag`` in the local part."""
    local, _, domain = address.lower().rpartition("@")
    return f"{local.split('+', 1)[0]}@{domain}"


def clean_name(name: str) -> str:
    """The name as a sign-up may give it; InputError for a long one or one holding links."""
    text = one_line(name).strip()
    if len(text) > MAX_NAME:
        raise InputError(f"please keep your name under {MAX_NAME} characters")
    if _LINKISH.search(text):
        raise InputError(N_("please give just your name (no web or email addresses)"))
    return text


def signup(
    engine: Engine,
    settings: Settings,
    signer: Signer,
    env: Environment,
    email: str,
    *,
    name: str,
    digests: Sequence[str],
    known_digests: Sequence[str],
    categories: Sequence[str] = (),
    language: str = "",
    languages: Sequence[str] | None = None,
    now: datetime,
) -> bool:
    """Join The Community, double opt-in: queue a mail with a confirmation link; the person's
    choices (name, digests, categories: none meaning all) are kept with the request and only
    applied when they confirm, so a sign-up changes nothing of an existing member. A new
    address is stored as pending. Nothing is sent while the request is answered (the outbox
    worker sends it), so the answer, its status and its time are the same for members and
    strangers; the caller shows the same page whatever happened. Returns whether a mail was
    queued: not to a bounced address, nor past CONFIRMATIONS_PER_DAY mails a day to one
    mailbox. An unknown category or language, or a name with links, is an InputError and
    stores nothing. ``language``: of their mail (empty: the site's); ``languages``: of their
    stories (empty: every one)."""
    try:
        address = normalise_email(email)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    chosen = [d for d in dict.fromkeys(digests) if d in known_digests] or list(known_digests)
    name, language, tags = clean_name(name), reader_language(language), story_languages(languages)
    slugs = [unicodedata.normalize("NFC", c.strip().lower()) for c in categories]
    mailbox = mailbox_of(address)
    with store.writing(engine) as session:
        # Checked before the address is looked up, so the answer cannot tell who is a member.
        store.category_ids(session, slugs, now=now)
        if store.requests_since(session, mailbox, "confirm", now - timedelta(days=1)) >= (
            CONFIRMATIONS_PER_DAY
        ):
            return False
        row = store.subscriber_by_email(session, address)
        if row is None:
            row = _add_pending(session, address, name, chosen, slugs, now, (language, tags))
        if row.status == "bounced":  # stays so until an editor clears it
            store.record_request(session, None, kind="confirm", mailbox=mailbox, now=now)
            return False
        asked: dict[str, Any] = {"name": name, "digests": chosen, "categories": slugs}
        request_id = store.record_request(
            session, row.id, kind="confirm", mailbox=mailbox, now=now, **asked,
            language=language, languages=tags,
        )  # fmt: skip
        mail = (settings, signer, env, row, address, name, request_id)
        _queue_confirmation(session, *mail, now=now, language=language or row.language)
    return True


MAX_LANGUAGES = 200  # characters of a member's story languages, spaces included


def reader_language(tag: str) -> str:
    """The catalog's tag a reader chose for their pages and mail (empty: the site's);
    InputError when no catalog speaks it."""
    tag = tag.strip()[:35]
    if not tag:
        return ""
    found = catalog_for(tag, default="")
    if not found:
        offered = ", ".join(CATALOGS)
        raise InputError(f"the site does not speak {tag!r} yet (it speaks {offered})")
    return found


def story_languages(tags: Sequence[str] | None) -> list[str] | None:
    """The languages of stories a reader chose, as tags (None stays None: no change);
    InputError for one that is not a language tag."""
    if tags is None:
        return None
    try:
        found = parse_tags([tag[:35] for tag in tags[:20]])
    except ValueError as exc:
        raise InputError(str(exc)) from None
    if len(" ".join(found)) > MAX_LANGUAGES:  # the column's size
        raise InputError("please choose fewer languages")
    return found


def _add_pending(
    session: Session,
    address: str,
    name: str,
    digests: list[str],
    slugs: list[str],
    now: datetime,
    languages: tuple[str, list[str] | None] = ("", None),
) -> Subscriber:
    """A new address stored as pending, with its choices (``languages``: the language of its
    mail and those of its stories), and the sign-up in the audit trail."""
    row, _ = store.upsert_subscriber(
        session, address, name=name, status="pending", digests=digests, now=now
    )
    store.set_interests(session, row.id or 0, slugs)
    language, tags = languages
    store.set_languages(session, row.id or 0, language=language, languages=tags, now=now)
    store.record_subscriber_change(
        session,
        row.id or 0,
        {},
        actor=READER,
        action="subscriber.signup",
        label=address,
        now=now,
    )
    return row


def _queue_confirmation(
    session: Session,
    settings: Settings,
    signer: Signer,
    env: Environment,
    row: Subscriber,
    address: str,
    name: str,
    request_id: int,
    *,
    now: datetime,
    language: str,
) -> None:
    """Queue the mail whose link confirms sign-up request ``request_id``, in ``language``."""
    token = signer.make("confirm", request_id, row.link_key, expires=now + CONFIRM_TTL)
    mail = (session, settings, signer, env, address, name, request_id, token)
    message = _confirmation_mail(*mail, now=now, language=language)
    store.queue_mail(session, address, message, now=now)


def _confirmation_mail(
    session: Session,
    settings: Settings,
    signer: Signer,
    env: Environment,
    address: str,
    name: str,
    request_id: int,
    token: str,
    *,
    now: datetime,
    language: str = "",
) -> bytes:
    """The mail with the link that confirms sign-up request ``request_id``, in ``language``
    (empty: the site's)."""
    language = language or settings.site_language
    return _one_off(
        session,
        settings,
        signer,
        env,
        "confirm",
        address,
        subject=gettext(
            language, N_("Confirm your %(site)s subscription"), site=settings.site_title
        ),
        local=f"confirm-{request_id}",
        now=now,
        language=language,
        name=name,
        confirm_url=f"{settings.site_url}/confirm/{token}",
    )


def _one_off(
    session: Session,
    settings: Settings,
    signer: Signer,
    env: Environment,
    template: str,
    address: str,
    *,
    subject: str,
    local: str,
    now: datetime,
    language: str,
    **extra: str,
) -> bytes:
    look = read_look(session, settings)[0]  # the digest's look, set in the newsroom
    values = {
        "site_title": settings.site_title,
        "language": language,
        "locale": language,
        "postal_address": look.postal_address,
        "subject": subject,
        "look": look,
        **extra,
    }
    return simple_message(
        sender=settings.mail_from,
        to=address,
        subject=subject,
        text=env.get_template(f"email/{template}.txt").render(**values),
        html=env.get_template(f"email/{template}.html").render(**values),
        message_id=signer.message_id(local, address, settings.site_host),
        date=now,
    )


def confirm(engine: Engine, signer: Signer, token: str, *, now: datetime) -> SubscriberView:
    """The person clicked the link in their mail and pressed the button: they are in, with
    the choices they made when signing up. A bounced address stays bounced (InputError)."""
    with store.writing(engine) as session:
        row, request = _resolve(session, signer, "confirm", token, now=now)
        assert request is not None
        subscriber_id = row.id or 0
        store.lock_subscriber(session, subscriber_id)
        if row.status == "bounced":
            raise InputError(
                "mail to this address bounced, so it cannot be confirmed; please write to the "
                "editors if it works again"
            )
        before = store.subscriber_snapshot(session, subscriber_id)
        if request.used_at is None:
            if request.name:
                store.set_name(session, subscriber_id, request.name, now=now)
            store.set_subscriptions(session, subscriber_id, request.digests.split())
            if request.categories is not None:
                store.set_interests(session, subscriber_id, request.categories.split())
            store.set_languages(
                session,
                subscriber_id,
                language=request.language or None,
                languages=None if request.languages is None else request.languages.split(),
                now=now,
            )
            store.use_request(session, request.id or 0, now=now)
        store.set_subscriber_status(session, subscriber_id, "confirmed", now=now)
        store.record_subscriber_change(
            session,
            subscriber_id,
            before,
            actor=READER,
            action="subscriber.confirm",
            label=row.email,
            now=now,
        )
        session.refresh(row)
        return _view(session, row, used=True)


def request_access(
    engine: Engine,
    settings: Settings,
    signer: Signer,
    env: Environment,
    email: str,
    *,
    now: datetime,
) -> bool:
    """ "Your subscription": queue, for a known address, a mail with a link to its preferences
    page, valid ACCESS_TTL and usable once. The same work and the same answer whether or not
    the address is known (the caller shows one page); returns whether a mail was queued (at
    most ACCESS_LINKS_PER_DAY a day to one mailbox; never to a bounced address)."""
    try:
        address = normalise_email(email)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    mailbox = mailbox_of(address)
    with store.writing(engine) as session:
        if store.requests_since(session, mailbox, "access", now - timedelta(days=1)) >= (
            ACCESS_LINKS_PER_DAY
        ):
            return False
        row = store.subscriber_by_email(session, address)
        known = row is not None and row.status != "bounced"
        request_id = store.record_request(
            session, row.id if row and known else None, kind="access", mailbox=mailbox, now=now
        )
        if row is None or not known:
            return False
        token = signer.make("access", request_id, row.link_key, expires=now + ACCESS_TTL)
        message = _one_off(
            session,
            settings,
            signer,
            env,
            "access",
            address,
            subject=gettext(
                row.language or settings.site_language,
                N_("Your %(site)s subscription"),
                site=settings.site_title,
            ),
            local=f"access-{request_id}",
            now=now,
            language=row.language or settings.site_language,
            access_url=f"{settings.site_url}/subscription/{token}",
        )
        store.queue_mail(session, address, message, now=now)
    return True


ACCESS_SESSION = timedelta(days=1)


def open_access(engine: Engine, signer: Signer, token: str, *, now: datetime) -> str:
    """Use a one-time "Your subscription" link: a preferences token valid ACCESS_SESSION.
    TokenError when the link is forged, expired or was used already."""
    with store.writing(engine) as session:
        row, request = _resolve(session, signer, "access", token, now=now)
        assert request is not None
        if not store.use_request(session, request.id or 0, now=now):
            raise TokenError(
                N_("this link has been used already: ask for a new one at /subscription")
            )
        return signer.make("preferences", row.id or 0, row.link_key, expires=now + ACCESS_SESSION)


def send_confirmation(
    engine: Engine,
    settings: Settings,
    signer: Signer,
    env: Environment,
    email: str,
    *,
    actor: str,
    now: datetime,
) -> str:
    """Queue the mail with a confirmation link for a pending subscriber (one an editor added,
    or whose first mail went astray), as a sign-up does; confirming keeps the digests and
    categories they have now. Issue 25: an editor's `subscribers add` sent none, and nothing
    could send one again. At most CONFIRMATIONS_PER_DAY a day to one mailbox, sign-ups
    included. ConflictError for a confirmed, unsubscribed or bounced address (only the
    person signs up again), NotFoundError for an unknown one. The address."""
    try:
        address = normalise_email(email)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    mailbox = mailbox_of(address)
    with store.writing(engine) as session:
        row = store.subscriber_by_email(session, address)
        if row is None:
            raise NotFoundError(f"no subscriber {address}")
        _refuse_confirmation(row)
        sent = store.requests_since(session, mailbox, "confirm", now - timedelta(days=1))
        if sent >= CONFIRMATIONS_PER_DAY:
            raise ConflictError(
                f"{address} was sent {sent} confirmation mails in the last 24 hours, the most "
                "a day: nothing was sent; try again tomorrow"
            )
        subscriber_id = row.id or 0
        request_id = store.record_request(
            session,
            subscriber_id,
            kind="confirm",
            mailbox=mailbox,
            now=now,
            digests=store.subscriptions_of(session, [subscriber_id]).get(subscriber_id, []),
            categories=store.interests_of(session, [subscriber_id]).get(subscriber_id, []),
        )
        mail = (settings, signer, env, row, address, row.name, request_id)
        _queue_confirmation(session, *mail, now=now, language=row.language)
        store.record_subscriber_change(
            session,
            subscriber_id,
            {},
            actor=actor,
            action="subscriber.confirmation-sent",
            label=address,
            now=now,
            always=True,
        )
    return address


def _refuse_confirmation(row: Subscriber) -> None:
    """ConflictError unless ``row`` is pending, saying why and what can be done."""
    if row.status == "confirmed":
        raise ConflictError(f"{row.email} is confirmed already: there is nothing to confirm")
    if row.status == "unsubscribed":
        raise ConflictError(
            f"{row.email} unsubscribed: only they can come back, by signing up on the site"
        )
    if row.status == "bounced":
        raise ConflictError(
            f"mail to {row.email} bounced: no mail goes there until the bounce is cleared "
            "(`publisher subscribers clear-bounce`), and then only they can sign up again"
        )
