"""One-off editions (issue 27): breaking news (one published story, sent now) and plain
messages (Markdown in the digest's layout), each to an audience, through the digest's own
machinery: the edition row, review when the audience is large, test sends, deliveries unique
per edition and member, pause, resume, cancel and figures.

A story goes out in one breaking-news edition at most (the edition's key is the story, and
``edition_articles`` is unique on digest and story), so two editors pressing send at once make
one edition and nobody gets the same story twice. The audience is counted when the editor
confirms and again when the send starts: if it moved by more than
``PUBLISHER_AUDIENCE_DRIFT`` of the confirmed count, nothing is made and the editor is asked
again (``CountMoved``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from jinja2 import Environment
from sqlalchemy import Engine

from publisher import store
from publisher.content import one_line
from publisher.editions import making, sends
from publisher.editions.compose import RenderedEdition, archive_values, render_edition
from publisher.errors import ConflictError, InputError, NotFoundError
from publisher.mail.transports import Transport
from publisher.models import ONE_OFF, Edition
from publisher.schedules import Timetable
from publisher.settings import Settings
from publisher.templating import Personaliser

__all__ = [
    "KINDS",
    "MAX_BODY",
    "REVIEW_DEADLINE",
    "CountMoved",
    "Sent",
    "audience_count",
    "preview",
    "public_story",
    "send",
    "test",
]

KINDS = ("story", "message")
MAX_BODY = 50_000  # a message's Markdown, in characters
# A one-off edition held for review (its audience is large) and not approved within this is
# skipped: news a day old is no longer breaking.
REVIEW_DEADLINE = timedelta(hours=24)


class CountMoved(ConflictError):
    """The audience counted at sending differs from the count confirmed by more than the
    allowed share: nothing was sent; confirm the new count."""

    def __init__(self, audience: str, expected: int, count: int) -> None:
        super().__init__(
            f"the audience {audience!r} now counts {count} member(s), not the {expected} "
            "confirmed: nothing was sent; confirm the new count to send"
        )
        self.count = count


@dataclass(frozen=True)
class Sent:
    """What a send did: its edition, whether this call made it (False: someone had already
    sent it, and this is theirs), and how many deliveries it started (0 while held)."""

    edition: Edition
    created: bool
    started: int


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise InputError(f"unknown kind of send {kind!r} (one of {', '.join(KINDS)})")
    return kind


def public_story(engine: Engine, slug: str, *, now: datetime) -> store.ArticleView:
    """The story ``slug`` if readers may see it now; else an InputError saying why."""
    with store.reading(engine) as session:
        try:
            view = store.article_by_slug(session, slug)
        except NotFoundError:
            raise NotFoundError(f"no story {slug!r}") from None
    if not store.is_public(view, now):
        raise InputError(
            f"the story {slug!r} is {view.status(now)}, not published: only a published "
            "story can be sent"
        )
    return view


def audience_count(engine: Engine, audience: str, kind: str) -> int:
    """How many members a send of ``kind`` to ``audience`` reaches now: confirmed, in the
    audience, and for a story wanting breaking news. NotFoundError for an unknown one."""
    with store.reading(engine) as session:
        found = store.audience_by_name(session, audience)
        return store.recipient_count(session, store.recipients_where(_kind(kind), found.filter, ""))


def _message(subject: str, body: str) -> tuple[str, str]:
    value = one_line(subject)
    if not value:
        raise InputError("a message needs a subject")
    if len(value) > sends.MAX_SUBJECT:
        raise InputError(f"the subject is {len(value)} characters; at most {sends.MAX_SUBJECT}")
    text = body.replace("\r\n", "\n").strip()
    if not text:
        raise InputError("the message is empty: write what it says")
    if len(text) > MAX_BODY:
        raise InputError(f"the message is {len(text)} characters; at most {MAX_BODY}")
    return value, text


def _draft(
    kind: str, *, subject: str, body: str, now: datetime, edition_id: int | None = None
) -> Edition:
    return Edition(
        id=edition_id,
        digest=ONE_OFF[kind],
        period_key="",
        kind=kind,
        nominal_at=now,
        status="pending",
        subject=subject,
        body=body,
        created_at=now,
    )


def preview(
    engine: Engine,
    settings: Settings,
    timetable: Timetable,
    env: Environment,
    kind: str,
    *,
    now: datetime,
    slug: str = "",
    subject: str = "",
    body: str = "",
    fill: bool = True,
) -> RenderedEdition:
    """The one-off edition as it would go out (generic links in place of a reader's;
    ``fill=False``: with the placeholders, for a test send), not recorded."""
    stories = []
    if _kind(kind) == "story":
        view = public_story(engine, slug, now=now)
        stories = [making.story(view, settings.site_url, settings.media_base)]
        subject = one_line(subject)
    else:
        subject, body = _message(subject, body)
    draft = _draft(kind, subject=subject, body=body, now=now)
    look = making.current_look(engine, settings, timetable)
    rendered = render_edition(env, making.one_off_context(look, settings, draft, stories), stories)
    if not fill:
        return rendered
    values = archive_values(settings.site_url, settings.site_language)
    html = Personaliser(rendered.html, escape_html=True).fill(values).decode("utf-8")
    text = Personaliser(rendered.text, escape_html=False).fill(values).decode("utf-8")
    return RenderedEdition(rendered.subject, html, text, rendered.stories)


def test(
    engine: Engine,
    settings: Settings,
    timetable: Timetable,
    env: Environment,
    kind: str,
    to: Sequence[str],
    *,
    actor: str,
    now: datetime,
    slug: str = "",
    subject: str = "",
    body: str = "",
    transport_factory: Callable[[], Transport] | None = None,
) -> int:
    """A ``[Test]`` copy of the one-off edition not sent yet, as ``sends.test_send`` sends
    one (the same hourly limit, audited, counted nowhere); how many were accepted."""
    sends.test_addresses(to)
    rendered = preview(
        engine,
        settings,
        timetable,
        env,
        kind,
        now=now,
        slug=slug,
        subject=subject,
        body=body,
        fill=False,
    )
    label = f"{kind} {slug}" if kind == "story" else f"message {rendered.subject[:80]!r}"
    return sends.test_rendered(
        engine,
        settings,
        timetable,
        env,
        rendered,
        to,
        digest=ONE_OFF[kind],
        label=label,
        edition_id=None,
        actor=actor,
        now=now,
        transport_factory=transport_factory,
    )


def _check_count(audience: str, count: int, expected: int | None, drift: float) -> None:
    if count == 0:
        raise InputError(
            f"the audience {audience!r} has nobody to send to (no confirmed member in it"
            " who wants this mail): nothing was sent"
        )
    if expected is not None and abs(count - expected) > drift * expected:
        raise CountMoved(audience, expected, count)


def _keyed(
    engine: Engine, kind: str, audience: str, slug: str, subject: str, body: str, now: datetime
) -> tuple[int | None, str, str, str]:
    """(the story's id or None, the edition's key, the subject, the body), checked: a story's
    key is the story; a message's, a hash of it and its audience."""
    if _kind(kind) == "story":
        view = public_story(engine, slug, now=now)
        article_id = view.article.id or 0
        return article_id, f"a{article_id}", one_line(subject)[: sends.MAX_SUBJECT], ""
    subject, body = _message(subject, body)
    made = hashlib.sha256(f"{audience}\0{subject}\0{body}".encode()).hexdigest()
    return None, "m" + made[:19], subject, body


def _start(
    engine: Engine,
    settings: Settings,
    timetable: Timetable,
    env: Environment,
    edition_id: int,
    *,
    count: int,
    now: datetime,
) -> tuple[Edition, int]:
    """Render the edition once and start its deliveries, or hold it for review when its
    audience is large; pressing send again (or a crash in between) carries on from where
    it is, never twice. (the edition, deliveries started)"""
    large = count > settings.review_audience_over
    review_by = now + REVIEW_DEADLINE if large else None
    ready = making.render_pending(engine, settings, timetable, env, edition_id, review_by)
    started = 0
    if ready.status == "ready":
        with store.writing(engine) as session:
            started = store.start_deliveries(session, ready, now=now)
    with store.reading(engine) as session:
        return store.edition_by_id(session, edition_id), started


def send(
    engine: Engine,
    settings: Settings,
    timetable: Timetable,
    env: Environment,
    kind: str,
    *,
    audience: str,
    actor: str,
    now: datetime,
    expected: int | None = None,
    slug: str = "",
    subject: str = "",
    body: str = "",
    in_archive: bool = True,
) -> Sent:
    """Send a story (``slug``) or a message (``subject``, Markdown ``body``) now to
    ``audience``, whose count the sender confirmed as ``expected`` (None: not asked). Held
    for review when it reaches more than ``PUBLISHER_REVIEW_AUDIENCE_OVER`` members, else its
    deliveries start. A story already sent as breaking news, or the same message to the same
    audience, is not made again: its edition is returned (``created`` False)."""
    article_id, key, subject, body = _keyed(engine, kind, audience, slug, subject, body, now)
    with store.writing(engine) as session:
        found = store.audience_by_name(session, audience)
        where = store.recipients_where(kind, found.filter, "")
        count = store.recipient_count(session, where)
        values = {"subject": subject, "body": body, "in_archive": in_archive}
        values |= {"audience": found.name, "audience_filter": found.filter}
        edition, created = store.create_one_off(session, kind, key, now=now, **values)
        if created:  # else someone sent it already: theirs is shown, nothing more is made
            _check_count(found.name, count, expected, settings.audience_drift)
            if article_id is not None:
                store.carry_articles(session, edition, [article_id])
            what = {"story": slug} if kind == "story" else {"subject": subject}
            after = {"audience": found.name, "count": count, "confirmed": expected, **what}
            label = f"{kind} #{edition.id}"
            store.record(
                session,
                actor=actor,
                action=f"edition.send-{kind}",
                kind=sends.KIND,
                subject_id=edition.id,
                label=label,
                after=after,
                now=now,
            )
    made, started = _start(engine, settings, timetable, env, edition.id or 0, count=count, now=now)
    return Sent(made, created, started)
