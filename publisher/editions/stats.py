"""An edition's progress while it sends and its figures after: what the admin, the command
line, the API and /metrics all show. Counted from the delivery rows, so the figures are what
the mail server said: a message is "sent" only once the server took it, a failure shows the
server's reply."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from publisher import store
from publisher.editions import clicks
from publisher.models import Edition, EditionFigures
from publisher.settings import Settings

__all__ = [
    "BUCKETS",
    "MAX_POINTS",
    "MAX_REPLIES",
    "OPEN",
    "OWED",
    "RATE_WINDOW",
    "UNSUBSCRIBE_DAYS",
    "EditionState",
    "Failure",
    "Figures",
    "LinkClicks",
    "Progress",
    "Recent",
    "bucket_for",
    "figures",
    "grouped_failures",
    "keep_figures",
    "overview",
    "progress",
    "rate_series",
    "recent",
]

RATE_WINDOW = timedelta(minutes=1)
UNSUBSCRIBE_DAYS = 7  # unsubscribes through an edition's links count this long after its copy
# Chart buckets, in seconds: the finest that keeps a send's chart under MAX_POINTS points.
BUCKETS = (1, 5, 10, 30, 60, 300, 900, 3600, 6 * 3600, 86400)
MAX_POINTS = 120
MAX_REPLIES = 20  # failure replies listed (the rest are summed as "other replies")
OWED = ("pending", "sending")
OPEN = ("pending", "sending", "retry")  # never pruned: always counted live
_ADDRESS = re.compile(r"<?[^\s<>@]+@[^\s<>]+>?")


@dataclass(frozen=True)
class Progress:
    """Where an edition's send stands: ``owed`` is pending and in hand; ``rate`` messages a
    second over the last minute; ``eta_seconds`` None while it cannot be told (paused, no
    rate yet, only retries left)."""

    edition_id: int
    status: str
    total: int
    sent: int
    failed: int
    retrying: int
    cancelled: int
    owed: int
    rate: float
    eta_seconds: float | None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Failure:
    reply: str  # the server's reply, with addresses replaced by <address>
    count: int


@dataclass(frozen=True)
class LinkClicks:
    url: str
    readers: int  # each reader once
    ignored: int  # HEAD requests, link scanners, clicks too soon after delivery


@dataclass(frozen=True)
class Figures:
    edition_id: int
    digest: str
    period_key: str
    subject: str
    status: str
    recipients: int
    sent: int
    failed: int
    bounced: int
    cancelled: int
    retrying: int
    owed: int
    unsubscribed: int  # through this edition's links within UNSUBSCRIBE_DAYS of their copy
    failures: list[Failure] = field(default_factory=list)
    tracking: str = "off"
    complained: int = 0  # readers who reported it as spam (issue 28)
    links: list[LinkClicks] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class EditionState:
    """An edition at a glance, for the editions list."""

    edition_id: int
    digest: str
    period_key: str
    nominal_at: datetime
    status: str
    subject: str
    stories: int
    total: int
    sent: int
    failed: int
    cancelled: int
    retrying: int
    owed: int
    kind: str = "digest"  # digest, story (breaking news) or message (issue 27)
    audience: str = ""

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "nominal_at": self.nominal_at.isoformat()}


def progress(engine: Engine, edition_id: int, *, now: datetime) -> Progress:
    """The edition's send as it stands at ``now`` (NotFoundError for an unknown edition).
    Three indexed queries: cheap enough to poll every few seconds during a big send."""
    with store.reading(engine) as session:
        edition = store.edition_by_id(session, edition_id)
        counts = store.edition_status_counts(session, edition_id)
        first, _last = store.sent_span(session, edition_id)
        recent = store.sent_since(session, edition_id, now - RATE_WINDOW)
    owed = sum(counts.get(s, 0) for s in OWED)
    rate = 0.0
    if first is not None and recent:
        window = min(RATE_WINDOW, now - first).total_seconds()
        rate = recent / max(window, 1.0)
    eta: float | None = None
    if owed == 0 and not counts.get("retry"):
        eta = 0.0
    elif rate > 0 and owed and edition.status == "sending":
        eta = owed / rate
    return Progress(
        edition_id=edition_id,
        status=edition.status,
        total=sum(counts.values()),
        sent=counts.get("sent", 0),
        failed=counts.get("failed", 0),
        retrying=counts.get("retry", 0),
        cancelled=counts.get("cancelled", 0),
        owed=owed,
        rate=round(rate, 2),
        eta_seconds=None if eta is None else round(eta, 1),
    )


def bucket_for(span: timedelta) -> int:
    """Seconds a chart bucket spans for a send that took ``span``."""
    seconds = span.total_seconds()
    return next((b for b in BUCKETS if seconds / b <= MAX_POINTS), BUCKETS[-1])


def rate_series(engine: Engine, edition_id: int) -> list[tuple[datetime, int]]:
    """Messages the server took per interval, from the first to the last (empty intervals
    too, so a pause shows): a minute for a long send, finer for a short one."""
    with store.reading(engine) as session:
        store.edition_by_id(session, edition_id)
        first, last = store.sent_span(session, edition_id)
        if first is None or last is None:
            return []
        seconds = bucket_for(last - first)
        counted = dict(store.sent_per_bucket(session, edition_id, seconds))
    start = int(first.timestamp()) // seconds * seconds
    end = int(last.timestamp()) // seconds * seconds
    return [
        (datetime.fromtimestamp(t, UTC), counted.get(t, 0))
        for t in range(start, end + seconds, seconds)
    ]


def figures(engine: Engine, settings: Settings, edition_id: int, *, now: datetime) -> Figures:
    """The edition's honest figures (NotFoundError for an unknown edition)."""
    with store.reading(engine) as session:
        edition = store.edition_by_id(session, edition_id)
        counts = store.edition_status_counts(session, edition_id)
        replies = store.failure_replies(session, edition_id)
        bounced = store.bounced_count(session, edition_id)
        complained = store.complained_count(session, edition_id)
        unsubscribed = store.unsubscribes_within(session, edition_id, UNSUBSCRIBE_DAYS)
        followed = store.link_counts(session, edition_id)
        kept = store.kept_figures(session, [edition_id]).get(edition_id)
    if kept is not None:  # its delivery rows were pruned: the figures kept then
        counts = {**_kept_counts(kept), **{s: counts[s] for s in OPEN if s in counts}}
        replies = [(str(reply), int(n)) for reply, n in json.loads(kept.failures)]
        bounced = max(kept.bounced, bounced)  # reports may come after the rows went
        complained = max(kept.complained, complained)
    links = _links(settings, edition, followed)
    return Figures(
        edition_id=edition_id,
        digest=edition.digest,
        period_key=edition.period_key,
        subject=edition.subject,
        status=edition.status,
        recipients=sum(counts.values()),
        sent=counts.get("sent", 0),
        failed=counts.get("failed", 0),
        bounced=bounced,
        cancelled=counts.get("cancelled", 0),
        retrying=counts.get("retry", 0),
        owed=sum(counts.get(s, 0) for s in OWED),
        unsubscribed=unsubscribed,
        failures=grouped_failures(replies),
        tracking=settings.track_clicks,
        links=links,
        complained=complained,
    )


def keep_figures(engine: Engine, *, before: datetime, now: datetime) -> int:
    """Keep the figures of editions made before ``before`` whose finished deliveries are
    about to be pruned, so that they stay true; how many editions."""
    with store.reading(engine) as session:
        due = store.editions_to_keep(session, before=before)
    for edition_id in due:
        with store.writing(engine) as session:
            counts = store.edition_status_counts(session, edition_id)
            failures = grouped_failures(store.failure_replies(session, edition_id))
            store.keep_figures(
                session,
                EditionFigures(
                    edition_id=edition_id,
                    recipients=sum(counts.values()),
                    sent=counts.get("sent", 0),
                    failed=counts.get("failed", 0),
                    bounced=store.bounced_count(session, edition_id),
                    complained=store.complained_count(session, edition_id),
                    cancelled=counts.get("cancelled", 0),
                    failures=json.dumps([[f.reply, f.count] for f in failures]),
                    kept_at=now,
                ),
            )
    return len(due)


def _kept_counts(kept: EditionFigures) -> dict[str, int]:
    """Finished deliveries by status as they were when the edition's figures were kept (what
    was still open then is not pruned, and is counted live)."""
    return {"sent": kept.sent, "failed": kept.failed, "cancelled": kept.cancelled}


def grouped_failures(replies: list[tuple[str, int]]) -> list[Failure]:
    """Replies that differ only in the address they name counted together, most first."""
    grouped: Counter[str] = Counter()
    for reply, n in replies:
        grouped[_ADDRESS.sub("<address>", reply).strip() or "(no reply)"] += n
    ranked = grouped.most_common()
    out = [Failure(reply, n) for reply, n in ranked[:MAX_REPLIES]]
    if len(ranked) > MAX_REPLIES:
        out.append(Failure("other replies", sum(n for _, n in ranked[MAX_REPLIES:])))
    return out


def _links(
    settings: Settings, edition: Edition, followed: dict[str, tuple[int, int]]
) -> list[LinkClicks]:
    """Every tracked link of the edition in its order (followed or not), then any followed
    link it no longer shows; none while tracking is off and nothing was counted."""
    if settings.track_clicks == "off" and not followed:
        return []
    urls = dict.fromkeys([*clicks.Tracker(settings).urls(edition.html), *followed])
    return [LinkClicks(u, *followed.get(u, (0, 0))) for u in urls]


def overview(engine: Engine, *, limit: int = 50, digest: str | None = None) -> list[EditionState]:
    """The newest editions, each with its state and delivery counts (two queries)."""
    with store.reading(engine) as session:
        rows = store.edition_list(session, digest=digest, limit=limit)
        counts = store.delivery_counts(session, [e.id or 0 for e in rows])
        for edition_id, kept in store.kept_figures(session, list(counts)).items():
            live = counts[edition_id]
            counts[edition_id] = {**_kept_counts(kept), **{s: live[s] for s in OPEN if s in live}}
    out = []
    for edition in rows:
        tally = counts.get(edition.id or 0, {})
        out.append(
            EditionState(
                edition_id=edition.id or 0,
                digest=edition.digest,
                period_key=edition.period_key,
                nominal_at=edition.nominal_at,
                status=edition.status,
                subject=edition.subject,
                stories=edition.article_count,
                total=sum(tally.values()),
                sent=tally.get("sent", 0),
                failed=tally.get("failed", 0),
                cancelled=tally.get("cancelled", 0),
                retrying=tally.get("retry", 0),
                owed=sum(tally.get(s, 0) for s in OWED),
                kind=edition.kind,
                audience=edition.audience,
            )
        )
    return out


@dataclass(frozen=True)
class Recent:
    """An edition's headline figures, for /metrics."""

    state: EditionState
    bounced: int
    unsubscribed: int
    clicks: int  # readers summed over links (each reader once per link)
    rate: float


def recent(engine: Engine, *, count: int, now: datetime) -> list[Recent]:
    """Headline figures of the ``count`` newest editions that have deliveries: a bounded
    set of labels for /metrics."""
    states = [s for s in overview(engine, limit=count * 4) if s.total][:count]
    out = []
    for state in states:
        with store.reading(engine) as session:
            bounced = store.bounced_count(session, state.edition_id)
            left = store.unsubscribes_within(session, state.edition_id, UNSUBSCRIBE_DAYS)
            followed = store.link_counts(session, state.edition_id)
        rate = progress(engine, state.edition_id, now=now).rate if state.owed else 0.0
        readers = sum(r for r, _ in followed.values())
        out.append(Recent(state, bounced, left, readers, rate))
    return out
