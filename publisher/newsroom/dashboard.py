"""The newsroom's dashboard figures and its audit trail: the use cases behind ``/admin/``
and ``/admin/audit``. Every figure is one bounded query (see ``store.dashboard``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from publisher import store
from publisher.delivery import mailbox
from publisher.delivery.heartbeat import MISSED_BEATS
from publisher.delivery.mailbox import MailboxHealth
from publisher.models import Article, AuditEntry, Report
from publisher.schedules import Timetable
from publisher.settings import Settings
from publisher.sources import inbox
from publisher.sources.polling import SourceState
from publisher.store.subscribers import SUBSCRIBER_STATUSES

__all__ = [
    "AUDIT_KINDS",
    "AUDIT_PAGE",
    "AUDIT_SCAN",
    "BOUNCES_LIMIT",
    "COMPLAINTS_AIM",
    "COMPLAINTS_LIMIT",
    "EDITOR_KINDS",
    "FINISHED",
    "GROWTH_DAYS",
    "MAX_ACTION",
    "MAX_ACTOR",
    "NEWEST_REPORTS",
    "RECENT_EDITIONS",
    "SOONEST_ARTICLES",
    "AuditPage",
    "AuditQuery",
    "Counted",
    "Dashboard",
    "Day",
    "EditionFigures",
    "NextSend",
    "Queue",
    "audit",
    "dashboard",
    "growth",
    "live",
    "next_sends",
]

GROWTH_DAYS = 90
# Bulk-sender limits (Gmail's and Yahoo's rules since 2024): complaints under 0.3% of the
# mail sent, aiming under 0.1%; bounces over 2% harm the sender's reputation.
COMPLAINTS_LIMIT = 0.003
COMPLAINTS_AIM = 0.001
BOUNCES_LIMIT = 0.02
RECENT_EDITIONS = 8
NEWEST_REPORTS = 5
SOONEST_ARTICLES = 5
AUDIT_PAGE = 50
# Subscriber entries hold personal data (addresses, names): only admins see them, and the
# people and import entries with them. Editors see what they work on.
EDITOR_KINDS = ("article", "report", "inbox_item", "source")
AUDIT_KINDS = (
    "article",
    "report",
    "inbox_item",
    "source",
    "subscriber",
    "import",
    "staff",
    "look",
)
MAX_ACTOR = 400  # the audit table's limits
MAX_ACTION = 60


# ---------------------------------------------------------------- the dashboard


@dataclass(frozen=True)
class Day:
    """One local day of the growth chart: sign-ups that day, and everyone signed up by its end."""

    day: date
    new: int
    total: int


@dataclass(frozen=True)
class EditionFigures:
    id: int
    digest: str
    subject: str
    nominal_at: datetime
    status: str
    articles: int
    sent: int
    failed: int
    pending: int  # pending, sending and retry
    cancelled: int
    bounced: int = 0  # readers whose copy bounced (reported back, or refused at once)
    complained: int = 0  # readers who reported it as spam (issue 28)

    @property
    def bounce_rate(self) -> float:
        """Bounces per message sent (0 to 1)."""
        return self.bounced / self.sent if self.sent else 0.0

    @property
    def complaint_rate(self) -> float:
        return self.complained / self.sent if self.sent else 0.0

    @property
    def warnings(self) -> list[str]:
        """The bulk-sender limits this edition crossed (Gmail's and Yahoo's for complaints:
        under 0.3%, aim under 0.1%; bounces: mailbox providers and sending services act from
        about 2%)."""
        out = []
        if self.complaint_rate >= COMPLAINTS_LIMIT:
            out.append(f"complaints {self.complaint_rate:.2%}: over the 0.3% bulk-sender limit")
        elif self.complaint_rate >= COMPLAINTS_AIM:
            out.append(f"complaints {self.complaint_rate:.2%}: over the 0.1% to aim for")
        if self.bounce_rate >= BOUNCES_LIMIT:
            out.append(f"bounces {self.bounce_rate:.2%}: over 2%, clean the list")
        return out


@dataclass(frozen=True)
class Queue:
    pending: int
    sending: int
    retry: int
    due: int  # pending or retry rows a worker may take now
    outbox: int  # one-off mails waiting
    workers: int  # sending processes with a fresh heartbeat

    @property
    def waiting(self) -> int:
        return self.pending + self.sending + self.retry


@dataclass(frozen=True)
class NextSend:
    digest: str
    title: str
    at: datetime | None  # in the digest's own time zone


@dataclass(frozen=True)
class Dashboard:
    subscribers: dict[str, int]  # every status, zeros included
    growth: list[Day]
    editions: list[EditionFigures]
    queue: Queue
    next_sends: list[NextSend]
    open_reports: int
    reports: list[Report]
    scheduled: int
    soonest: list[Article]
    sources: list[SourceState] = field(default_factory=list)  # each source's state
    inbox_new: int = 0  # new items in the inbox
    mailbox: MailboxHealth | None = None  # the bounce mailbox, when one is configured

    @property
    def total(self) -> int:
        return sum(self.subscribers.values())


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), zone).astimezone(UTC)


def _bound(day: date | None, zone: ZoneInfo, *, after: bool = False) -> datetime | None:
    """The start of ``day`` (of the day after it) in UTC; None for no bound: no day, or
    one at the very end of the calendar (year 1 or 9999)."""
    if day is None:
        return None
    try:
        return _midnight(day + timedelta(days=1) if after else day, zone)
    except OverflowError:
        return None


def growth(
    engine: Engine, *, total: int, zone: ZoneInfo, now: datetime, days: int = GROWTH_DAYS
) -> list[Day]:
    """The last ``days`` local days up to today: sign-ups each day and the running total,
    counted back from ``total`` (everyone now). Subscribers removed since count nowhere."""
    today = now.astimezone(zone).date()
    first = today - timedelta(days=days - 1)
    since = _midnight(first, zone)
    with store.reading(engine) as session:
        buckets = store.signups(session, since=since, until=now)
    per_day = {first + timedelta(days=i): 0 for i in range(days)}
    for start, count in buckets:
        # A bucket starts on a quarter hour, and so does every local midnight today.
        per_day[min(max(start.astimezone(zone).date(), first), today)] += count
    running = total - sum(per_day.values())
    found = []
    for day, new in per_day.items():
        running += new
        found.append(Day(day, new, running))
    return found


# An edition in one of these has no delivery still to change: its counts stay as they are
# (until it is sent again to people confirmed since, when its status changes first).
FINISHED = ("sent", "skipped", "missed", "cancelled")
Counted = dict[tuple[int, str], dict[str, int]]


def _editions(engine: Engine, limit: int, known: Counted | None = None) -> list[EditionFigures]:
    """The newest ``limit`` editions with their delivery counts. ``known`` keeps the counts
    of finished editions between calls: counting a million deliveries takes a second."""
    known = {} if known is None else known
    with store.reading(engine) as session:
        editions = store.edition_list(session, limit=limit)
        keys = {(e.id or 0, e.status): e for e in editions}
        counts = store.delivery_counts(
            session, [i for i, status in keys if (i, status) not in known]
        )
    for key in list(known):
        if key not in keys:  # only the editions still shown are kept
            known.pop(key, None)
    found = []
    for (edition_id, status), edition in keys.items():
        c = known.get((edition_id, status)) or counts.get(edition_id, {})
        if status in FINISHED:
            known[(edition_id, status)] = c
        found.append(
            EditionFigures(
                edition_id,
                edition.digest,
                edition.subject,
                edition.nominal_at,
                status,
                edition.article_count,
                c.get("sent", 0),
                c.get("failed", 0),
                sum(c.get(s, 0) for s in store.OPEN_DELIVERY),
                c.get("cancelled", 0),
            )
        )
    with store.reading(engine) as session:  # reports arrive after the sends: read each time
        rates = store.edition_rates(session, [f.id for f in found])
    return [
        replace(
            f,
            bounced=max(f.bounced, rates.get(f.id, (0, 0))[0]),
            complained=rates.get(f.id, (0, 0))[1],
        )
        for f in found
    ]


def live(engine: Engine, settings: Settings, *, now: datetime) -> Queue:
    """The delivery queue as it is now (the figures the dashboard polls)."""
    beat_since = now - timedelta(seconds=settings.send_heartbeat * MISSED_BEATS)
    with store.reading(engine) as session:
        counts = store.queue_counts(session, now=now)
        outbox = store.outbox_waiting(session)
        workers = store.live_workers(session, beat_since=beat_since)
    return Queue(
        counts["pending"], counts["sending"], counts["retry"], counts["due"], outbox, workers
    )


def next_sends(timetable: Timetable, *, now: datetime) -> list[NextSend]:
    return [
        NextSend(name, digest.title, next(iter(digest.next_times(now, 1)), None))
        for name, digest in timetable.digests.items()
    ]


def dashboard(
    engine: Engine,
    settings: Settings,
    timetable: Timetable,
    *,
    now: datetime,
    known: Counted | None = None,
) -> Dashboard:
    """Everything the newsroom's front page shows (``known``: see ``_editions``)."""
    with store.reading(engine) as session:
        statuses = store.subscriber_statuses(session)
        report_count, reports = store.open_reports(session, limit=NEWEST_REPORTS)
        scheduled, soonest = store.scheduled_articles(session, now=now, limit=SOONEST_ARTICLES)
    subscribers = {status: statuses.get(status, 0) for status in SUBSCRIBER_STATUSES}
    subscribers.update(statuses)  # a status this code does not know yet still counts
    states = inbox.source_states(engine, timetable)
    return Dashboard(
        subscribers=subscribers,
        growth=growth(engine, total=sum(subscribers.values()), zone=settings.zone, now=now),
        editions=_editions(engine, RECENT_EDITIONS, known),
        queue=live(engine, settings, now=now),
        next_sends=next_sends(timetable, now=now),
        open_reports=report_count,
        reports=reports,
        scheduled=scheduled,
        soonest=soonest,
        sources=states,
        inbox_new=sum(s.new_items for s in states),
        mailbox=mailbox.health(engine, settings) if settings.bounce_mailbox_url else None,
    )


# ---------------------------------------------------------------- the audit trail


@dataclass(frozen=True)
class AuditQuery:
    """The audit page's filters as typed (``values``, for the form) and as understood."""

    values: dict[str, str] = field(default_factory=dict)
    kind: str | None = None
    actor: str | None = None
    action: str | None = None
    since: date | None = None
    until: date | None = None  # inclusive

    @classmethod
    def parse(cls, raw: Mapping[str, str], *, admin: bool) -> tuple[AuditQuery, dict[str, str]]:
        """The filters in ``raw`` (a query string), and a message per field that is wrong."""
        values = {k: str(raw.get(k, "")).strip() for k in ("kind", "actor", "action", "from", "to")}
        errors: dict[str, str] = {}
        kind = values["kind"] or None
        if kind is not None and not admin and kind not in EDITOR_KINDS:
            errors["kind"] = "Only an admin can see subscriber, people and import entries."
        for key, most in (("actor", MAX_ACTOR), ("action", MAX_ACTION)):
            if len(values[key]) > most:
                errors[key] = f"At most {most} characters."
        days: dict[str, date | None] = {}
        for key in ("from", "to"):
            days[key] = None
            if values[key]:
                try:
                    days[key] = date.fromisoformat(values[key])
                except ValueError:
                    errors[key] = "A date such as 2026-12-01 (year-month-day)."
        since, until = days["from"], days["to"]
        if since and until and until < since and "to" not in errors:
            errors["to"] = "The end comes before the start."
        query = cls(values, kind, values["actor"] or None, values["action"] or None, since, until)
        return query, errors


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    older: int | None  # the ``before_id`` of the next page, None on the last
    # With filters, a page looks through at most AUDIT_SCAN entries: when it found fewer
    # than a page, the id it looked back to (the next page goes on from there).
    searched_to: int | None = None


# Filters other than dates are checked on at most this many entries a page, walking the
# primary key down: a page costs the same for a rare filter in a trail of millions.
AUDIT_SCAN = 20_000


def audit(
    engine: Engine,
    query: AuditQuery,
    *,
    admin: bool,
    zone: ZoneInfo,
    before_id: int | None = None,
    limit: int = AUDIT_PAGE,
) -> AuditPage:
    """One page of the trail, newest first, as ``admin`` or an editor may see it (dates are
    days in ``zone``, both ends included; a day range is read through its index)."""
    if query.kind is not None:
        kinds: list[str] | None = [query.kind]
        if not admin and query.kind not in EDITOR_KINDS:
            kinds = []
    else:
        kinds = None if admin else list(EDITOR_KINDS)
    since = _bound(query.since, zone)
    until = _bound(query.until, zone, after=True)
    with store.reading(engine) as session:
        lowest, highest = store.audit_ids(session)
        top = min(before_id, highest + 1) if before_id is not None else highest + 1
        dated = since is not None or until is not None
        window = kinds is not None or query.actor is not None or query.action is not None
        above = top - AUDIT_SCAN - 1 if window and not dated and top - AUDIT_SCAN > lowest else None
        entries = store.audit_page(
            session,
            kinds=kinds,
            actor=query.actor,
            action=query.action,
            since=since,
            until=until,
            before_id=top,
            above_id=above,
            limit=limit + 1,
        )
    if len(entries) > limit:
        entries = entries[:limit]
        return AuditPage(entries, entries[-1].id)
    if above is not None:  # fewer than a page in this stretch: older entries remain
        return AuditPage(entries, above + 1, searched_to=above + 1)
    return AuditPage(entries, None)
