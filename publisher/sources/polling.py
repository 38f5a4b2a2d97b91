"""Sources: feeds polled on the timetable (or pushed by their WebSub hub), each item taken
in once, into the inbox or straight onto the site.

Who polls is the database's decision (``store.claim_poll``), so N daemons poll a source once
an interval. A poll is a conditional GET; a failure backs off, and after ten in a row the
source is paused until an editor resumes it. Every problem with one item is logged and the
rest of the items still come in.
"""

from __future__ import annotations

import base64
import hmac
import logging
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from publisher import store
from publisher.articles.cleaning import ArticleInput, validate_record
from publisher.errors import InputError, NotFoundError, PublisherError
from publisher.models import Source, SourceItem
from publisher.schedules import SourceSpec, Timetable
from publisher.sealing import SealBroken, Sealer
from publisher.settings import Settings
from publisher.sources import fetch, parsing
from publisher.sources.items import FeedItem, clean_entry
from publisher.sources.parsing import ParsedFeed

__all__ = [
    "MAX_BACKOFF",
    "WEBSUB_LEASE",
    "WEBSUB_MAX_LEASE",
    "WEBSUB_RENEW_BEFORE",
    "WEBSUB_VERIFY_WAIT",
    "PollResult",
    "SourceState",
    "backoff",
    "callback_token",
    "callback_url",
    "granted_lease",
    "ingest",
    "label_of",
    "poll_due",
    "poll_now",
    "poll_source",
    "push",
    "resume_source",
    "save_item_article",
    "source_states",
    "subscribe",
    "sync",
    "verify_intent",
]

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(hours=6)
WEBSUB_LEASE = timedelta(days=10)  # asked of the hub; it may grant another (we keep less)
WEBSUB_MAX_LEASE = timedelta(days=365)  # a lease over this in an intent check is a 400
WEBSUB_VERIFY_WAIT = timedelta(hours=1)  # a hub that has not verified by then is asked again
WEBSUB_RENEW_BEFORE = timedelta(days=1)  # renew when the lease has less than this left


@dataclass
class PollResult:
    """What one poll (or push) of a source did."""

    source: str
    outcome: str  # fetched, not modified, failed, paused, not due
    new: int = 0
    updated: int = 0
    skipped: int = 0
    error: str = ""
    notes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        if self.outcome == "failed":
            return f"{self.source}: failed: {self.error}"
        if self.outcome != "fetched":
            return f"{self.source}: {self.outcome}"
        return f"{self.source}: {self.new} new, {self.updated} updated, {self.skipped} skipped"


def label_of(state: Source | None, key: str) -> str:
    """The source's name as readers see it: schedules.yaml's name, else the feed's title."""
    if state is None:
        return key
    return state.label if state.label and state.label != key else state.title or key


def backoff(every: timedelta, failures: int) -> timedelta:
    """The wait after ``failures`` failures in a row: the interval, doubled each time, at
    most six hours (or the interval, when that is longer)."""
    longest = max(MAX_BACKOFF, every)
    wait: timedelta = every * (2 ** min(max(failures - 1, 0), 20))
    return min(wait, longest)


# ---------------------------------------------------------------- polling


def sync(engine: Engine, timetable: Timetable, *, now: datetime) -> None:
    """A state row for every source of the timetable, with what it says of each now (read
    first: the clock asks every few seconds, and a write is needed only after a change)."""
    with store.reading(engine) as session:
        rows = {row.name: row for row in store.source_rows(session)}
    if all(_in_step(rows.get(key), spec) for key, spec in timetable.sources.items()):
        return
    with store.writing(engine) as session:
        store.ensure_sources(session, timetable.sources.values(), now=now)


def _in_step(row: Source | None, spec: SourceSpec) -> bool:
    return (
        row is not None
        and row.mode == spec.mode
        and row.url == spec.url
        and store.source_categories(row) == list(spec.categories)
        and (not spec.name or row.label == spec.name)
    )


def poll_due(
    engine: Engine, settings: Settings, timetable: Timetable, *, now: datetime
) -> list[PollResult]:
    """Poll every source that is due (the daemon's clock calls this): those another daemon
    took are left to it."""
    sync(engine, timetable, now=now)
    with store.reading(engine) as session:
        due = [
            row.name
            for row in store.source_rows(session)
            if row.name in timetable.sources and not row.paused and row.next_poll_at <= now
        ]
    results = []
    for name in due:
        result = poll_source(engine, settings, timetable.sources[name], now=now)
        if result.outcome != "not due":
            results.append(result)
    return results


def poll_source(
    engine: Engine, settings: Settings, spec: SourceSpec, *, now: datetime, force: bool = False
) -> PollResult:
    """Poll one source once, if this process wins it (``force``: even when not due)."""
    with store.writing(engine) as session:
        store.ensure_sources(session, [spec], now=now)
        state = store.source_row(session, spec.key)
        if state.paused:
            return PollResult(spec.key, "paused", error=state.last_error)
        if not store.claim_poll(session, spec.key, now=now, next_at=now + spec.every, force=force):
            return PollResult(spec.key, "not due")
        etag, last_modified, failures = state.etag, state.last_modified, state.failures
    try:
        answer = fetch.get(
            spec.url, allow=settings.fetch_allowed, etag=etag, last_modified=last_modified
        )
        parsed = (
            None
            if answer.status == 304
            else parsing.parse(answer.body, content_type=answer.content_type, url=answer.url)
        )
    except PublisherError as exc:
        return _failed(engine, spec, exc.message, failures=failures, now=now)
    if parsed is None:
        _keep_subscribed(engine, settings, spec, None, now=now)
        with store.writing(engine) as session:
            store.poll_succeeded(
                session, spec.key, now=now, title="", label="", etag=answer.etag or etag,
                last_modified=answer.last_modified or last_modified, new_items=0,
            )  # fmt: skip
        return PollResult(spec.key, "not modified")
    result = ingest(
        engine, settings, spec, parsed, now=now, etag=answer.etag,
        last_modified=answer.last_modified,
    )  # fmt: skip
    _keep_subscribed(engine, settings, spec, parsed, now=now)
    return result


def _failed(
    engine: Engine, spec: SourceSpec, error: str, *, failures: int, now: datetime
) -> PollResult:
    with store.writing(engine) as session:
        count = store.poll_failed(
            session, spec.key, error, now=now, next_at=now + backoff(spec.every, failures + 1)
        )
    if count >= store.PAUSE_AFTER:
        log.error(
            "source %s: paused after %d failures in a row (resume it in the newsroom or with "
            "`publisher sources resume %s`): %s", spec.key, count, spec.key, error,
        )  # fmt: skip
    else:
        log.warning("source %s: poll failed (%d in a row): %s", spec.key, count, error)
    return PollResult(spec.key, "failed", error=error)


def ingest(
    engine: Engine,
    settings: Settings,
    spec: SourceSpec,
    parsed: ParsedFeed,
    *,
    now: datetime,
    etag: str = "",
    last_modified: str = "",
) -> PollResult:
    """Take in a feed's items (from a poll or a push), each in its own savepoint so one bad
    item never stops the rest; the source's state records the poll."""
    result = PollResult(spec.key, "fetched", notes=list(parsed.notes))
    for note in parsed.notes:
        log.warning("source %s: %s", spec.key, note)
    with store.writing(engine) as session:
        state = store.source_row(session, spec.key)
        label = spec.name or parsed.title or state.label or spec.key
        for raw in parsed.entries:
            item, notes = clean_entry(raw, now=now)
            for note in notes:
                log.info("source %s: item %r: %s", spec.key, raw.guid or raw.link, note)
            if item is None:
                result.skipped += 1
                continue
            try:
                with session.begin_nested():
                    _take(session, settings, spec, item, label, result, now=now)
            except (PublisherError, SQLAlchemyError) as exc:
                why = exc.message if isinstance(exc, PublisherError) else str(exc).splitlines()[0]
                result.skipped += 1
                result.notes.append(f"{item.title!r}: {why}")
                log.warning("source %s: item %r not taken: %s", spec.key, item.title, why)
        store.poll_succeeded(
            session, spec.key, now=now, title=parsed.title, label=label, etag=etag,
            last_modified=last_modified, new_items=result.new,
        )  # fmt: skip
    if result.new or result.updated:
        log.info("%s", result)
    return result


def _take(
    session: Session,
    settings: Settings,
    spec: SourceSpec,
    item: FeedItem,
    label: str,
    result: PollResult,
    *,
    now: datetime,
) -> None:
    row = store.find_item(session, spec.key, item)
    publish = spec.mode == "publish"
    if row is None:
        cutoff = now - spec.skip_older_than if spec.skip_older_than else None
        if cutoff is not None and item.published is not None and item.published < cutoff:
            result.skipped += 1
            return
        item_id = store.insert_item(session, spec.key, item, now=now)
        if item_id is None:  # another process took it in at the same moment
            return
        result.new += 1
        if publish:
            fresh = store.item_by_id(session, item_id)
            article_id = _publish(session, settings, spec, fresh, label, None, now=now)
            store.set_item_status(session, item_id, "published", now=now, article_id=article_id)
        return
    if row.status == "discarded" or row.content_hash == item.content_hash:
        return
    result.updated += 1
    assert row.id is not None
    if row.article_id is None:
        store.update_item(session, row.id, item, status=row.status, now=now)
    elif publish:
        store.update_item(session, row.id, item, status="published", now=now)
        _publish(session, settings, spec, store.item_by_id(session, row.id), label,
                 row.article_id, now=now)  # fmt: skip
    else:
        # An editor adapted it: their article stays theirs; the inbox shows what changed.
        store.update_item(session, row.id, item, status="updated", now=now)


def _publish(
    session: Session,
    settings: Settings,
    spec: SourceSpec,
    row: SourceItem,
    label: str,
    article_id: int | None,
    *,
    now: datetime,
) -> int:
    return save_item_article(
        session, settings, row, label=label, categories=list(spec.categories), editor="",
        ai_assisted=False, published_at=row.published or now, article_id=article_id,
        actor=f"source:{spec.key}", now=now,
    )  # fmt: skip


def save_item_article(
    session: Session,
    settings: Settings,
    row: SourceItem,
    *,
    label: str,
    categories: list[str],
    editor: str,
    ai_assisted: bool,
    published_at: datetime,
    article_id: int | None,
    actor: str,
    now: datetime,
) -> int:
    """Make (or, with ``article_id``, update as a new version, same slug and id) the article
    an item stands for, validated and sanitised as ``articles add`` does; its id."""
    fields: dict[str, Any] = {
        "title": row.title,
        "summary": row.summary,
        "body_html": row.body_html,
        "author": row.author,
        "editor": editor,
        "image": row.image,
        "categories": categories,
        "source": {"name": label, "url": row.link},
        "ai_assisted": ai_assisted,
        "published_at": published_at,
    }
    if article_id is not None:
        fields.update(_kept(session, article_id))
    else:
        fields["slug"] = store.free_slug(session, row.title)
    checked = validate_record(fields, settings.zone)
    if not isinstance(checked, ArticleInput):
        raise InputError(checked[1])
    saved, _changed = store.save_article(
        session, checked, article_id=article_id, base_hash=None, now=now,
        host=settings.site_host, actor=actor,
    )  # fmt: skip
    return saved


def _kept(session: Session, article_id: int) -> dict[str, Any]:
    """What a new version keeps of the article: its slug, date, editor and AI mark. Plain
    values only: an Article object still held would hide the update from the audit trail's
    snapshot taken after it (the session's identity map would hand back the stale one)."""
    a = store.article_by_id(session, article_id).article
    return {
        "slug": a.slug,
        "published_at": a.published_at,
        "editor": a.editor,
        "ai_assisted": a.ai_assisted,
    }


# ---------------------------------------------------------------- state and control


@dataclass(frozen=True)
class SourceState:
    name: str
    label: str
    url: str  # "" when schedules.yaml no longer has it
    mode: str
    state: str  # ok, failing, paused, new, removed
    last_poll_at: datetime | None
    next_poll_at: datetime
    failures: int
    last_error: str
    items_seen: int
    new_items: int
    websub: str  # "", pending, active, failed


def source_states(engine: Engine, timetable: Timetable | None = None) -> list[SourceState]:
    """Each source's state (for ``sources list`` and the dashboard); with ``timetable``,
    sources it no longer has are marked removed and its new ones are listed too."""
    with store.reading(engine) as session:
        rows = {row.name: row for row in store.source_rows(session)}
        waiting = store.item_counts(session, status="new")
    states = []
    for name, row in sorted(rows.items()):
        spec = timetable.sources.get(name) if timetable else None
        if row.paused:
            state = "paused"
        elif timetable is not None and spec is None:
            state = "removed"
        elif row.failures:
            state = "failing"
        else:
            state = "ok" if row.last_poll_at else "new"
        states.append(
            SourceState(
                name=name,
                label=label_of(row, name),
                url=spec.url if spec else "",
                mode=spec.mode if spec else row.mode,
                state=state,
                last_poll_at=row.last_poll_at,
                next_poll_at=row.next_poll_at,
                failures=row.failures,
                last_error=row.last_error,
                items_seen=row.items_seen,
                new_items=waiting.get(name, 0),
                websub=row.websub_state,
            )
        )
    return states


def resume_source(engine: Engine, name: str, *, actor: str, now: datetime) -> bool:
    """Resume a paused source (polled at once); False when it was not paused."""
    with store.writing(engine) as session:
        row = store.source_row(session, name, lock=True)
        if not store.resume_source(session, name, now=now):
            return False
        store.record(
            session, actor=actor, action="source.resume", kind="source", subject_id=None,
            label=name, before={"paused": True, "last_error": row.last_error},
            after={"paused": False}, now=now,
        )  # fmt: skip
    return True


def poll_now(
    engine: Engine,
    settings: Settings,
    timetable: Timetable,
    name: str | None = None,
    *,
    now: datetime,
) -> list[PollResult]:
    """``sources poll [NAME]``: poll one source or all, now, once (paused ones are not)."""
    specs = [timetable.source(name)] if name is not None else list(timetable.sources.values())
    if not specs:
        raise NotFoundError("schedules.yaml has no sources")
    return [poll_source(engine, settings, spec, now=now, force=True) for spec in specs]


# ---------------------------------------------------------------- WebSub


def _keep_subscribed(
    engine: Engine,
    settings: Settings,
    spec: SourceSpec,
    parsed: ParsedFeed | None,
    *,
    now: datetime,
) -> None:
    """Subscribe to the feed's hub (or renew) when it has one and the site can be reached
    from the internet; polling goes on either way. ``parsed`` None (a 304): the hub and
    topic the feed named last time."""
    if not fetch.is_public(settings.site_url):
        return
    with store.reading(engine) as session:
        row = store.source_row(session, spec.key)
    hub = parsed.hub if parsed is not None else row.hub
    topic = (parsed.self_url or spec.url) if parsed is not None else row.topic
    if not hub or not topic:
        return
    same = row.hub == hub and row.topic == topic
    until = row.lease_until
    if same and row.websub_state == "active" and until and until - now > WEBSUB_RENEW_BEFORE:
        return
    if same and row.websub_state in ("pending", "failed") and until and until > now:
        return
    subscribe(engine, settings, spec.key, hub=hub, topic=topic, now=now)


def _sealer(settings: Settings) -> Sealer:
    return Sealer.of(settings.secret_key, "websub-secret")


def callback_token(settings: Settings, key: str) -> str:
    """The callback URL's ``token`` for this source: only the hubs we ask know it, so only a
    hub's answer to our own request can change a subscription (128 bits, the same every time
    so that a renewal keeps the hub's subscription one)."""
    assert settings.secret_key is not None
    secret = settings.secret_key.get_secret_value().encode()
    mac = hmac.digest(secret, f"newsflash:websub-callback:{key}".encode(), "sha256")
    return base64.urlsafe_b64encode(mac[:16]).decode().rstrip("=")


def callback_url(settings: Settings, key: str) -> str:
    return f"{settings.site_url.rstrip('/')}/websub/{key}?token={callback_token(settings, key)}"


def subscribe(
    engine: Engine, settings: Settings, key: str, *, hub: str, topic: str, now: datetime
) -> bool:
    """Ask ``hub`` for pushes of ``topic`` with a new secret; True when it accepted (it
    verifies our intent on the callback next)."""
    # 128 bits, kept sealed (a copy of the database alone cannot forge pushes)
    secret = secrets.token_hex(16)
    with store.writing(engine) as session:
        # pending until the hub verifies; asked again after WEBSUB_VERIFY_WAIT otherwise
        store.set_websub(
            session, key, hub=hub, topic=topic, secret=_sealer(settings).seal(secret),
            websub_state="pending",
            lease_until=now + WEBSUB_VERIFY_WAIT, now=now,
        )  # fmt: skip
    try:
        fetch.subscribe(
            hub, topic=topic, callback=callback_url(settings, key), secret=secret,
            lease_seconds=int(WEBSUB_LEASE.total_seconds()), allow=settings.fetch_allowed,
        )  # fmt: skip
    except PublisherError as exc:
        log.warning("source %s: WebSub subscription at %s failed: %s", key, hub, exc.message)
        with store.writing(engine) as session:
            store.set_websub(
                session, key, websub_state="failed", last_error=exc.message[:2000], now=now
            )
        return False
    log.info("source %s: asked %s to push %s", key, hub, topic)
    return True


def verify_intent(
    engine: Engine,
    settings: Settings,
    key: str,
    *,
    token: str,
    mode: str,
    topic: str,
    challenge: str,
    lease_seconds: str,
    now: datetime,
) -> str | None:
    """The hub's intent check (WebSub 5.3): the challenge to echo when this is the answer to
    our own pending request (the callback's token, and the mode and topic we asked for), else
    None (the callback answers 404) and nothing changes. A lease out of bounds: InputError."""
    if not hmac.compare_digest(token.encode(), callback_token(settings, key).encode()):
        return None
    if mode == "denied":
        _denied(engine, key, topic, now=now)
        return None
    if mode != "subscribe" or not challenge:
        return None
    lease = granted_lease(lease_seconds)
    with store.writing(engine) as session:
        try:
            row = store.source_row(session, key, lock=True)
        except NotFoundError:
            return None
        if row.websub_state != "pending" or not row.topic or row.topic != topic:
            return None
        store.set_websub(session, key, websub_state="active", lease_until=now + lease, now=now)
    log.info("source %s: WebSub subscription to %s verified", key, topic)
    return challenge


def granted_lease(lease_seconds: str) -> timedelta:
    """The lease a hub grants, as we keep it: at most what we asked (renewed earlier then),
    a minute at least, what we asked when it says none; InputError past WEBSUB_MAX_LEASE or
    not a whole number of seconds (a hub that means it asks again with a sane one)."""
    if not lease_seconds:
        return WEBSUB_LEASE
    most = int(WEBSUB_MAX_LEASE.total_seconds())
    if not re.fullmatch(r"[0-9]{1,12}", lease_seconds) or not 0 < int(lease_seconds) <= most:
        raise InputError(f"hub.lease_seconds must be a whole number of seconds from 1 to {most}")
    return min(max(timedelta(seconds=int(lease_seconds)), timedelta(minutes=1)), WEBSUB_LEASE)


def _denied(engine: Engine, key: str, topic: str, *, now: datetime) -> None:
    """The hub refused our subscription (WebSub 5.2): polling carries on; asked again later."""
    with store.writing(engine) as session:
        try:
            row = store.source_row(session, key, lock=True)
        except NotFoundError:
            return
        if row.topic != topic or row.websub_state not in ("pending", "active"):
            return
        store.set_websub(
            session, key, websub_state="failed", lease_until=now + WEBSUB_VERIFY_WAIT, now=now
        )
    log.warning("source %s: the WebSub hub denied the subscription to %s", key, topic)


def push(
    engine: Engine,
    settings: Settings,
    timetable: Timetable,
    key: str,
    body: bytes,
    *,
    signature: str,
    content_type: str,
    now: datetime,
) -> PollResult:
    """A hub's push: taken like a poll's answer when its X-Hub-Signature is right for this
    subscription's secret (WebSub 8); otherwise ignored, logged and shown on the source."""
    spec = timetable.source(key)
    with store.reading(engine) as session:
        row = store.source_row(session, key)
    try:
        secret = _sealer(settings).open(row.secret)
    except SealBroken:
        secret = ""  # sealed under another PUBLISHER_SECRET_KEY: subscribe again
        with store.writing(engine) as session:
            store.set_websub(session, key, websub_state="failed", lease_until=now, now=now)
    if not secret or not fetch.signature_ok(secret, body, signature):
        error = "a WebSub push with a missing or wrong signature was ignored"
        log.warning("source %s: %s", key, error)
        with store.writing(engine) as session:
            store.set_websub(session, key, last_error=error, now=now)
        return PollResult(key, "failed", error=error)
    try:
        parsed = parsing.parse(body, content_type=content_type, url=spec.url)
    except PublisherError as exc:
        log.warning("source %s: a WebSub push was not a feed: %s", key, exc.message)
        return PollResult(key, "failed", error=exc.message)
    return ingest(engine, settings, spec, parsed, now=now, etag=row.etag,
                  last_modified=row.last_modified)  # fmt: skip
