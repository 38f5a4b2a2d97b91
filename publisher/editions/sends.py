"""Sends under control (issue 13): review before sending, approve, pause, resume, cancel,
test sends, and the review deadline. The one API the CLI, the API and the newsroom call.

An edition of a digest with ``review: true`` is made ``awaiting_review`` and sends nothing.
Approving it (possibly with stories taken out or reordered, another subject or intro line)
re-renders it and starts its deliveries. Pausing stops every worker from claiming its
deliveries (``store.claim_deliveries`` skips paused and cancelled editions; a worker
holding a batch of one gives the rest back within a second); resuming goes on with what is
owed, never a second copy (deliveries are unique per edition and subscriber); cancelling
marks what is owed cancelled. Every action is audited in its own transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from jinja2 import Environment
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from publisher import store
from publisher.community import links, subscriptions
from publisher.content import normalise_email, one_line
from publisher.editions import making
from publisher.editions.compose import RenderedEdition, archive_values, greeting
from publisher.editions.messages import Cut, MessageBook, cut, render_cut, story_facts
from publisher.errors import ConfigError, ConflictError, InputError, NotFoundError
from publisher.languages import catalog_for
from publisher.mail.mime import MessageTemplate, Recipient, envelope_sender
from publisher.mail.transports import DeliveryError, Transport, make_transport
from publisher.models import Edition
from publisher.schedules import Timetable
from publisher.settings import Settings
from publisher.templating import Personaliser
from publisher.tokens import Signer

__all__ = [
    "CONTROLLABLE",
    "KIND",
    "MAX_INTRO",
    "MAX_SUBJECT",
    "MAX_TEST_RECIPIENTS",
    "SYSTEM_ACTOR",
    "TEST_ADDRESSES_PER_HOUR",
    "TEST_PREFIX",
    "AsReader",
    "OverTestLimit",
    "approve",
    "as_reader",
    "cancel",
    "expire_reviews",
    "find",
    "pause",
    "pending_review",
    "resume",
    "review_preview",
    "send_missed",
    "test_addresses",
    "test_rendered",
    "test_send",
]

MAX_TEST_RECIPIENTS = 20
# Test sends per person (issue 24): addresses an hour, counted from the audit trail, so every
# daemon sees the same count (docs/digest.md, test sends).
TEST_ADDRESSES_PER_HOUR = 50
TEST_WINDOW = timedelta(hours=1)
MAX_SUBJECT = 300
MAX_INTRO = 1000
TEST_PREFIX = "[Test] "
SYSTEM_ACTOR = "scheduler"  # who the review deadline's decision is recorded as
CONTROLLABLE = ("ready", "sending")  # what can be paused
KIND = "edition"


def _label(edition: Edition) -> str:
    if edition.kind != "digest":  # a one-off edition (issue 27): its kind and number
        return f"{edition.kind} #{edition.id}"
    return f"{edition.digest} {edition.period_key}"


def _record(
    session: Session,
    edition: Edition,
    action: str,
    *,
    actor: str,
    now: datetime,
    before: Mapping[str, object] | None = None,
    after: Mapping[str, object] | None = None,
) -> None:
    store.record(
        session,
        actor=actor,
        action=f"edition.{action}",
        kind=KIND,
        subject_id=edition.id,
        label=_label(edition),
        before=before,
        after=after,
        now=now,
    )


@dataclass(frozen=True)
class AsReader:
    """A member's choices, as far as what they get of an edition goes: categories (slugs),
    the language of their mail (empty: the site's) and the languages of their stories
    (none: every language)."""

    categories: tuple[str, ...] = ()
    language: str = ""
    languages: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.categories or self.language or self.languages)


def _fresh(engine: Engine, edition_id: int) -> Edition:
    with store.reading(engine) as session:
        return store.edition_by_id(session, edition_id)


# ---------------------------------------------------------------- review


def pending_review(engine: Engine, now: datetime) -> list[Edition]:
    """Editions waiting for an editor, the soonest deadline first."""
    with store.reading(engine) as session:
        found = store.edition_list(session, statuses=("awaiting_review",), limit=1000)
    far = now + timedelta(days=36500)
    return sorted(found, key=lambda e: (e.review_deadline_at or far, e.id or 0))


def review_preview(
    engine: Engine,
    settings: Settings,
    timetable: Timetable,
    env: Environment,
    edition_id: int,
    *,
    variant: str | Sequence[str] | None = None,
    reader: AsReader = AsReader(),
) -> str:
    """The edition's HTML as a reader sees it (generic links and greeting in place of a
    reader's): whole, or as a member with ``reader``'s choices gets it (``variant``: a
    category slug, or several, added to them), rendered as the sending processes render it.
    An unknown category or a language the site does not speak is an InputError; a member
    who gets no story is empty HTML."""
    if isinstance(variant, str):
        variant = [variant]
    chosen = AsReader((*reader.categories, *(variant or ())), reader.language, reader.languages)
    edition = _fresh(engine, edition_id)
    found = as_reader(engine, settings, timetable, env, edition, chosen)
    if found is None:
        return ""
    rendered, language = found
    filled = Personaliser(rendered.html, escape_html=True).fill(
        archive_values(settings.site_url, language)
    )
    return filled.decode("utf-8")


def as_reader(
    engine: Engine,
    settings: Settings,
    timetable: Timetable,
    env: Environment,
    edition: Edition,
    reader: AsReader,
) -> tuple[RenderedEdition, str] | None:
    """The edition, with its recipient placeholders, as a member with ``reader``'s choices
    gets it, and the language it is in: chosen and rendered by the sending processes' own
    ``messages.cut`` and ``messages.render_cut`` (so the preview and a test are what such a
    member gets); None when no story of it is theirs. InputError for an unknown category,
    a language the site does not speak or a story language that is not a tag."""
    home = catalog_for(settings.site_language)
    found = _cut_for(engine, settings, edition, reader, home)
    if found is None:
        return None
    try:
        return render_cut(engine, settings, timetable, env, edition, found), found.language
    except ConfigError:  # the digest left the timetable since: its readers get it whole
        return render_cut(engine, settings, timetable, env, edition, Cut((), home, True)), home


def _cut_for(
    engine: Engine, settings: Settings, edition: Edition, reader: AsReader, home: str
) -> Cut | None:
    """What of ``edition`` a member with ``reader``'s choices gets (see ``as_reader``)."""
    language = subscriptions.reader_language(reader.language)
    languages = frozenset(subscriptions.story_languages(reader.languages) or ())
    with store.reading(engine) as session:
        topics = _topics(session, reader.categories)
        stories, one_off = story_facts(session, edition.id or 0, settings.site_language)
    return cut(
        stories,
        one_off=one_off,
        home=home,
        topics=topics,
        language=language,
        languages=languages,
    )


def _topics(session: Session, slugs: Sequence[str]) -> frozenset[int]:
    """The ids of the categories ``slugs`` name; InputError naming an unknown one."""
    if not slugs:
        return frozenset()
    known = {c.slug: c.id or 0 for c in store.category_list(session)}
    wanted = [one_line(v).lower() for v in slugs]
    unknown = [v for v in wanted if v not in known]
    if unknown:
        raise InputError(
            f"unknown category {', '.join(map(repr, unknown))} "
            f"(known: {', '.join(sorted(known)) or 'none yet'})"
        )
    return frozenset(known[v] for v in wanted)


def _checked_subject(subject: str | None) -> str | None:
    if subject is None:
        return None
    value = one_line(subject)
    if not value:
        raise InputError("the subject cannot be empty")
    if len(value) > MAX_SUBJECT:
        raise InputError(f"the subject is {len(value)} characters; at most {MAX_SUBJECT}")
    return value


def _checked_intro(intro: str | None) -> str | None:
    if intro is None:
        return None
    value = one_line(intro)
    if len(value) > MAX_INTRO:
        raise InputError(f"the intro line is {len(value)} characters; at most {MAX_INTRO}")
    return value


def _checked_articles(carried: list[int], article_ids: Sequence[int] | None) -> list[int]:
    if article_ids is None:
        return carried
    wanted = [int(a) for a in article_ids]
    if not wanted:
        raise InputError("keep at least one story (to send nothing, cancel the edition)")
    if len(set(wanted)) != len(wanted):
        raise InputError("a story is listed twice")
    foreign = [a for a in wanted if a not in carried]
    if foreign:
        raise InputError(
            f"story {', '.join(map(str, foreign))} is not in this edition "
            f"(it carries {', '.join(map(str, carried))})"
        )
    return wanted


def _refuse_approve(edition: Edition) -> None:
    status = edition.status
    if status == "awaiting_review":
        return
    if status in ("ready", "sending", "sent", "paused"):
        by = f" by {edition.approved_by}" if edition.approved_by else ""
        raise ConflictError(
            f"edition {edition.id} is already {'sending' if status == 'ready' else status}"
            f"{by}: there is nothing to approve"
        )
    raise ConflictError(f"edition {edition.id} is {status}: only one awaiting review is approved")


def approve(
    engine: Engine,
    settings: Settings,
    timetable: Timetable,
    env: Environment,
    edition_id: int,
    *,
    actor: str,
    now: datetime,
    subject: str | None = None,
    intro: str | None = None,
    article_ids: Sequence[int] | None = None,
) -> Edition:
    """Approve an edition awaiting review, with the stories kept in ``article_ids`` (in that
    order; None keeps them all), and another ``subject`` or ``intro`` line if given: it is
    rendered again and its deliveries start. ConflictError unless it awaits review."""
    new_subject, new_intro = _checked_subject(subject), _checked_intro(intro)
    edition = _fresh(engine, edition_id)
    _refuse_approve(edition)
    with store.reading(engine) as session:
        carried = [v.article.id or 0 for v in store.edition_articles(session, edition_id)]
    kept = _checked_articles(carried, article_ids)
    draft = Edition.model_validate(
        {
            **edition.model_dump(),
            "subject": new_subject if new_subject is not None else edition.subject,
            "intro": new_intro if new_intro is not None else edition.intro,
        }
    )
    rendered = making.render_as(engine, settings, timetable, env, draft, kept)
    with store.writing(engine) as session:
        locked = store.lock_edition(session, edition_id)
        _refuse_approve(locked)  # someone else acted meanwhile
        before = {"subject": locked.subject, "intro": locked.intro, "articles": carried}
        store.reorder_articles(session, edition_id, kept)
        store.update_edition(
            session,
            edition_id,
            subject=rendered.subject,
            intro=draft.intro,
            html=rendered.html,
            text=rendered.text,
            article_count=rendered.stories,
            status="ready",
            approved_by=actor,
            approved_at=now,
        )
        locked = store.edition_by_id(session, edition_id)
        new = store.start_deliveries(session, locked, now=now)
        after = {"subject": rendered.subject, "intro": draft.intro, "articles": kept}
        _record(
            session,
            locked,
            "approve",
            actor=actor,
            now=now,
            before=before,
            after={**after, "deliveries": new},
        )
    return _fresh(engine, edition_id)


def expire_reviews(
    engine: Engine, timetable: Timetable, *, now: datetime, digest: str | None = None
) -> list[str]:
    """Editions past their review deadline, unapproved, are skipped (their stories go to the
    next edition) or sent as they are, as their digest's ``unreviewed`` says (skip when the
    digest left the timetable); only ``digest``'s if given. What was done, in words. Safe on
    several daemons at once (each edition is decided once, under its row lock)."""
    with store.reading(engine) as session:
        due = [e for e in store.reviews_due(session, now=now) if digest in (None, e.digest)]
    done: list[str] = []
    for found in due:
        spec = timetable.digests.get(found.digest)
        outcome = spec.unreviewed if spec is not None else "skip"
        with store.writing(engine) as session:
            edition = store.lock_edition(session, found.id or 0)
            deadline = edition.review_deadline_at
            if edition.status != "awaiting_review" or deadline is None or deadline > now:
                continue  # approved, cancelled or expired by someone else meanwhile
            if outcome == "send":
                store.update_edition(session, edition.id or 0, status="ready")
                edition = store.edition_by_id(session, edition.id or 0)
                count = store.start_deliveries(session, edition, now=now)
                said = f"sent unreviewed to {count} subscriber(s)"
            else:
                store.update_edition(session, edition.id or 0, status="skipped", article_count=0)
                count = store.release_articles(session, edition.id or 0)
                said = f"skipped unreviewed; its {count} stories go in the next edition"
            _record(
                session,
                edition,
                "review-expired",
                actor=SYSTEM_ACTOR,
                now=now,
                before={"status": "awaiting_review"},
                after={
                    "status": "sending" if outcome == "send" else "skipped",
                    "deadline": deadline,
                },
            )
        done.append(f"{found.digest}: edition {found.id} passed its review deadline: {said}")
    return done


# ---------------------------------------------------------------- a missed edition, by hand


def send_missed(
    engine: Engine,
    settings: Settings,
    timetable: Timetable,
    env: Environment,
    edition_id: int,
    *,
    actor: str,
    now: datetime,
    review: bool,
) -> Edition:
    """Make a missed edition now, by hand (issue 25): it carries the stories no edition
    carried yet, up to now, and is held for review (``review``, until the digest's review
    deadline from now) or made ready and its deliveries started. With no new story it is
    recorded as skipped. ConflictError unless it is missed."""
    with store.writing(engine) as session:
        edition = store.lock_edition(session, edition_id)
        if edition.status != "missed":
            raise ConflictError(
                f"edition {edition_id} is {edition.status.replace('_', ' ')}: only a missed "
                "edition is sent by hand this way"
            )
        digest = timetable.digests.get(edition.digest)
        if digest is None:
            raise ConflictError(
                f"edition {edition_id}: the digest {edition.digest!r} is no longer in "
                f"{settings.schedules}, so it has no readers' choices to send with"
            )
        views = store.candidate_articles(
            session,
            digest.name,
            categories=digest.categories,
            limit=digest.max_articles,
            until=now,
            made_at=now,
            before_id=edition.id,
        )
        ids = [v.article.id or 0 for v in views]
        making.limit_to_audience(session, edition, digest)
        store.carry_articles(session, edition, ids)  # pending, or skipped with no story
        _record(
            session,
            edition,
            "send-missed",
            actor=actor,
            now=now,
            before={"status": "missed"},
            after={"status": "pending" if ids else "skipped", "articles": ids},
        )
    review_by = now + digest.review_deadline if review else None
    made = making.render_pending(engine, settings, timetable, env, edition_id, review_by)
    if made.status == "ready":
        with store.writing(engine) as session:
            store.start_deliveries(session, made, now=now)
        made = _fresh(engine, edition_id)
    return made


# ---------------------------------------------------------------- pause, resume, cancel


def pause(engine: Engine, edition_id: int, *, actor: str, now: datetime) -> Edition:
    """Stop sending the edition: no worker claims its deliveries any more, and one holding a
    batch gives the rest back once the message in hand ends. ConflictError unless sending."""
    with store.writing(engine) as session:
        edition = store.lock_edition(session, edition_id)
        if edition.status == "paused":
            raise ConflictError(
                f"edition {edition_id} is already paused (by {edition.paused_by or 'someone'} "
                f"at {edition.paused_at.isoformat() if edition.paused_at else 'an unknown time'})"
            )
        if edition.status not in CONTROLLABLE:
            raise ConflictError(
                f"edition {edition_id} is {edition.status}: only an edition that is sending "
                "can be paused"
            )
        store.update_edition(session, edition_id, status="paused", paused_by=actor, paused_at=now)
        _record(
            session,
            edition,
            "pause",
            actor=actor,
            now=now,
            before={"status": edition.status},
            after={"status": "paused"},
        )
    return _fresh(engine, edition_id)


def resume(engine: Engine, edition_id: int, *, actor: str, now: datetime) -> Edition:
    """Go on sending a paused edition: what is still owed, never a second copy to anyone.
    ConflictError unless it is paused (a cancelled edition stays cancelled)."""
    with store.writing(engine) as session:
        edition = store.lock_edition(session, edition_id)
        if edition.status == "cancelled":
            raise ConflictError(
                f"edition {edition_id} was cancelled (by {edition.cancelled_by or 'someone'}): "
                "a cancelled edition cannot be resumed"
            )
        if edition.status != "paused":
            raise ConflictError(
                f"edition {edition_id} is {edition.status}, not paused: nothing to resume"
            )
        store.update_edition(session, edition_id, status="ready", resumed_by=actor, resumed_at=now)
        # The rows already there go on; a subscriber confirmed since gets it too, once.
        new = store.start_deliveries(session, store.edition_by_id(session, edition_id), now=now)
        _record(
            session,
            edition,
            "resume",
            actor=actor,
            now=now,
            before={"status": "paused"},
            after={"status": "sending", "deliveries": new},
        )
    return _fresh(engine, edition_id)


def cancel(engine: Engine, edition_id: int, *, actor: str, now: datetime) -> int:
    """Cancel the edition: every delivery still owed is marked cancelled and never sent;
    how many. A message a worker had in hand as it happened ends as it ends, and is
    recorded so (within a second of the cancel, nothing more starts). An edition awaiting
    review may be cancelled too (nothing was sent). ConflictError when it is finished."""
    with store.writing(engine) as session:
        edition = store.lock_edition(session, edition_id)
        if edition.status not in ("awaiting_review", "ready", "sending", "paused"):
            raise ConflictError(
                f"edition {edition_id} is {edition.status}: only one waiting, sending or "
                "paused can be cancelled"
            )
        store.update_edition(
            session, edition_id, status="cancelled", cancelled_by=actor, cancelled_at=now
        )
        count = store.cancel_owed(session, edition_id, now=now)
        _record(
            session,
            edition,
            "cancel",
            actor=actor,
            now=now,
            before={"status": edition.status},
            after={"status": "cancelled", "cancelled_deliveries": count},
        )
    return count


# ---------------------------------------------------------------- test sends


def test_addresses(to: Sequence[str]) -> list[str]:
    """The addresses, checked and lower-cased, each once; InputError naming a bad one."""
    found: list[str] = []
    for raw in to:
        for part in str(raw).split(","):
            if not part.strip():
                continue
            try:
                address = normalise_email(part)
            except ValueError as exc:
                raise InputError(str(exc)) from None
            if address not in found:
                found.append(address)
    if not found:
        raise InputError("give at least one address to send the test to (--to EMAIL)")
    if len(found) > MAX_TEST_RECIPIENTS:
        raise InputError(
            f"{len(found)} test addresses: at most {MAX_TEST_RECIPIENTS} (a test goes to a few "
            "people; a real send goes to subscribers)"
        )
    return found


def _target(
    engine: Engine,
    settings: Settings,
    timetable: Timetable,
    env: Environment,
    target: str,
    *,
    now: datetime,
    reader: AsReader = AsReader(),
) -> tuple[Edition | None, str, RenderedEdition, str]:
    """(the edition or None, its digest, its rendering with placeholders as a member with
    ``reader``'s choices gets it, the language it is in) for a test."""
    value = target.strip()
    if value.isdigit():
        edition = _fresh(engine, int(value))
        if not edition.html:
            raise ConflictError(f"edition {edition.id} is {edition.status}: it has no message")
        found = as_reader(engine, settings, timetable, env, edition, reader)
        if found is None:
            raise InputError(
                f"no story of edition {edition.id} is in those categories and languages: "
                "such a member gets no message this time"
            )
        return edition, edition.digest, *found
    digest = timetable.digest(value)
    with store.reading(engine) as session:
        waiting = store.edition_list(session, digest=digest.name, statuses=("awaiting_review",))
    if waiting:
        return _target(engine, settings, timetable, env, str(waiting[0].id), now=now, reader=reader)
    language = subscriptions.reader_language(reader.language)
    rendered = making.preview(
        engine,
        settings,
        timetable,
        env,
        digest,
        now=now,
        fill=False,
        categories=reader.categories,
        language=language,
        languages=subscriptions.story_languages(reader.languages) or (),
    )
    if not rendered.stories:
        raise InputError(f"digest {digest.name!r} has no new story: its next edition is empty")
    return None, digest.name, rendered, language or settings.site_language


def test_send(
    engine: Engine,
    settings: Settings,
    timetable: Timetable,
    env: Environment,
    target: str,
    to: Sequence[str],
    *,
    actor: str,
    now: datetime,
    transport_factory: Callable[[], Transport] | None = None,
    reader: AsReader = AsReader(),
) -> int:
    """Send a ``[Test]`` copy of an edition (``target``: its id) or of a digest's next one
    (``target``: its name; the one awaiting review if there is one, else a preview) to at
    most 20 addresses, as a member with ``reader``'s choices gets it (by default, whole);
    how many were accepted. Nothing is recorded as a delivery and no figure changes; the
    links work but change nobody. An address the server refuses is an InputError naming
    it, after the others were sent."""
    test_addresses(to)  # a bad address is said before anything else
    edition, digest_name, rendered, language = _target(
        engine, settings, timetable, env, target, now=now, reader=reader
    )
    label = _label(edition) if edition else f"{digest_name} (next edition)"
    return test_rendered(
        engine,
        settings,
        timetable,
        env,
        rendered,
        to,
        digest=digest_name,
        label=label,
        edition_id=edition.id if edition else None,
        actor=actor,
        now=now,
        transport_factory=transport_factory,
        language=language,
    )


def test_rendered(
    engine: Engine,
    settings: Settings,
    timetable: Timetable,
    env: Environment,
    rendered: RenderedEdition,
    to: Sequence[str],
    *,
    digest: str,
    label: str,
    edition_id: int | None,
    actor: str,
    now: datetime,
    transport_factory: Callable[[], Transport] | None = None,
    language: str = "",
) -> int:
    """Send a ``[Test]`` copy of ``rendered`` (with its placeholders) as ``test_send`` does:
    within the hourly limit, audited, counted nowhere, greeting in ``language`` (empty: the
    site's); how many were accepted."""
    addresses = test_addresses(to)
    subject = TEST_PREFIX + rendered.subject
    audited: dict[str, Any] = {"actor": actor, "kind": KIND, "subject_id": edition_id}
    with store.writing(engine) as session:  # the addresses counted before any goes out
        _reserve(session, addresses, actor=actor, now=now)
        after = {"to": addresses, "subject": subject}
        if language and language != settings.site_language:
            after["language"] = language
        store.record(session, action="edition.test", label=label, after=after, now=now, **audited)
    book = MessageBook(engine, settings, timetable=lambda: timetable, env=env)
    template: MessageTemplate = book.template(
        digest, subject=subject, html=rendered.html, text=rendered.text
    )
    signer = Signer.of(settings.secret_key)
    smtp_url = settings.smtp_url.get_secret_value() if settings.smtp_url else None
    factory = transport_factory or (lambda: make_transport(smtp_url, settings.var_dir / "mail"))
    sender = envelope_sender(settings.mail_from)
    tag = f"test.{edition_id or digest.lstrip('@')}.{int(now.timestamp())}"
    hello = greeting("", language or settings.site_language)
    refused = _send_copies(
        factory(), settings, signer, template, sender, addresses, tag, now, hello
    )
    sent = [a for a in addresses if not any(r.startswith(a + ":") for r in refused)]
    if refused:
        with store.writing(engine) as session:
            after = {"refused": refused}
            store.record(
                session, action="edition.test_refused", label=label, after=after, now=now, **audited
            )
        raise InputError(
            f"the test went to {len(sent)} of {len(addresses)}; refused: " + "; ".join(refused)
        )
    return len(sent)


class OverTestLimit(InputError):
    """A person's test sends are over TEST_ADDRESSES_PER_HOUR (HTTP 429, CLI exit 2)."""

    http_status = 429


def _reserve(session: Session, addresses: Sequence[str], *, actor: str, now: datetime) -> None:
    """OverTestLimit unless ``actor`` may send a test to ``addresses`` now; counted and
    recorded in one step (the caller's transaction), so a burst of requests cannot pass it."""
    store.one_at_a_time(session, f"edition.test:{actor}")
    since = now - TEST_WINDOW
    done = store.actions_since(session, actor=actor, action="edition.test", since=since)
    # Older entries (before issue 24) name the refused addresses apart.
    sizes = [(at, len(after.get("to", [])) + len(after.get("refused", []))) for at, after in done]
    used = sum(size for _, size in sizes)
    if used + len(addresses) <= TEST_ADDRESSES_PER_HOUR:
        return
    freed, again = 0, now + TEST_WINDOW
    for at, size in sizes:  # when enough of the last hour's tests are an hour old
        freed += size
        if used - freed + len(addresses) <= TEST_ADDRESSES_PER_HOUR:
            again = at + TEST_WINDOW
            break
    left = max(0, TEST_ADDRESSES_PER_HOUR - used)
    raise OverTestLimit(
        f"test sends are limited to {TEST_ADDRESSES_PER_HOUR} addresses an hour per person: "
        f"{used} in the last hour, so {left} more now, not {len(addresses)}; this test can go "
        f"at {again.astimezone(UTC):%H:%M} UTC"
    )


def _send_copies(
    transport: Transport,
    settings: Settings,
    signer: Signer,
    template: MessageTemplate,
    sender: str,
    addresses: Sequence[str],
    tag: str,
    now: datetime,
    hello: str,
) -> list[str]:
    """Send the test copy to each address over ``transport`` (closed after), greeted with
    ``hello``; the refusals, each as ``address: reply``. ``tag`` starts each copy's
    Message-ID."""
    refused: list[str] = []
    try:
        for n, address in enumerate(addresses):
            recipient = Recipient(
                address=address,
                message_id=signer.message_id(f"{tag}.{n}", address, settings.site_host),
                date=now,
                values={
                    "greeting": hello,
                    **links.test_links(signer, settings.site_url, now=now),
                },
            )
            try:
                transport.send(sender, address, template.render(recipient))
            except DeliveryError as exc:
                refused.append(f"{address}: {exc.reply}")
    finally:
        transport.close()
    return refused


def find(engine: Engine, edition_id: int) -> Edition:
    """The edition; NotFoundError if there is none."""
    try:
        return _fresh(engine, edition_id)
    except NotFoundError:
        raise NotFoundError(f"no edition {edition_id}") from None
