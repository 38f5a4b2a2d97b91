"""What the editions pages show, gathered from the use cases: the list's rows and filters,
one edition with its stories, variants, progress, figures and trail, and the review form
read back into what ``sends.approve`` takes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from publisher import edition_stats, editions, sends, store
from publisher.digest import archive_values
from publisher.errors import PublisherError
from publisher.models import Edition
from publisher.schedules import Timetable
from publisher.staff import Staff
from publisher.templating import Personaliser
from publisher.web.admin.chart import RateChart, rate_chart
from publisher.web.admin.context import Newsroom
from publisher.web.admin.trail import TrailRow, rows

PAGE = 25
MAX_ID = 2**31 - 1  # ids are 32-bit in both databases: a larger one is simply not there
MAX_PAGE = 10_000
STATUSES = (
    "awaiting_review", "pending", "ready", "sending", "paused", "sent", "cancelled",
    "skipped", "missed",
)  # fmt: skip
# No delivery of an edition in one of these changes any more: its page stops polling.
FINISHED = ("sent", "skipped", "missed", "cancelled")
CANCELLABLE = ("awaiting_review", "ready", "sending", "paused")
WIDTHS = ("desktop", "phone")
MAX_TEXT = 1000  # a subject or intro line in a preview's address
EMPTY_VARIANT = (
    "<!doctype html><title>No story</title><p>No story of this edition is in this category: "
    "its readers get no message this time.</p>"
)


def duration(seconds: float) -> str:
    """A time left in words a glance reads: 40 s, 12 min, 2 h 05 min."""
    whole = max(round(seconds), 0)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{round(whole / 60)} min"
    hours, minutes = divmod(round(whole / 60), 60)
    return f"{hours} h {minutes:02d} min"


def edition_id_of(raw: str) -> int | None:
    """An edition's id as typed in an address, or None when it cannot be one."""
    if raw.isascii() and raw.isdigit() and 0 < int(raw) <= MAX_ID:
        return int(raw)
    return None


@dataclass(frozen=True)
class ListQuery:
    digest: str = ""
    status: str = ""
    page: int = 1

    @property
    def values(self) -> dict[str, str]:
        """The filters as the address carries them (empty ones left out)."""
        return {k: v for k, v in (("digest", self.digest), ("status", self.status)) if v}

    @classmethod
    def parse(
        cls, raw: Mapping[str, str], timetable: Timetable
    ) -> tuple[ListQuery, dict[str, str]]:
        """The list's filters; each one that is not known is dropped and said why."""
        problems: dict[str, str] = {}
        digest, status, page = (raw.get(k, "") for k in ("digest", "status", "page"))
        if digest and digest not in timetable.digests:
            problems["digest"] = f"There is no digest {digest[:50]!r}: showing every digest."
            digest = ""
        if status and status not in STATUSES:
            problems["status"] = f"There is no status {status[:50]!r}: showing every status."
            status = ""
        number = 1
        if page:
            if page.isascii() and page.isdigit() and 0 < int(page) <= MAX_PAGE:
                number = int(page)
            else:
                problems["page"] = f"There is no page {page[:20]!r}: showing the first."
        return cls(digest, status, number), problems


@dataclass(frozen=True)
class Row:
    edition: Edition
    sent: int
    failed: int
    owed: int  # pending, sending and retry
    cancelled: int
    total: int


@dataclass(frozen=True)
class Listing:
    awaiting: list[Edition]  # awaiting review, soonest deadline first
    rows: list[Row]
    page: int
    following: bool  # there is an older page


def _row(edition: Edition, counts: Mapping[str, int]) -> Row:
    return Row(
        edition,
        counts.get("sent", 0),
        counts.get("failed", 0),
        sum(counts.get(s, 0) for s in store.OPEN_DELIVERY),
        counts.get("cancelled", 0),
        sum(counts.values()),
    )


def editions_page(room: Newsroom, query: ListQuery, *, now: datetime) -> Listing:
    """One page of editions, newest first, and every edition awaiting review."""
    start = (query.page - 1) * PAGE
    with store.reading(room.engine) as db:
        found = store.edition_list(
            db,
            digest=query.digest or None,
            statuses=[query.status] if query.status else (),
            limit=start + PAGE + 1,
        )
        shown = found[start : start + PAGE]
        counts = store.delivery_counts(db, [e.id or 0 for e in shown])
    return Listing(
        sends.pending_review(room.engine, now),
        [_row(e, counts.get(e.id or 0, {})) for e in shown],
        query.page,
        len(found) > start + PAGE,
    )


@dataclass(frozen=True)
class Variant:
    slug: str
    name: str
    stories: int


@dataclass(frozen=True)
class Progress:
    sent: int
    failed: int
    retrying: int
    cancelled: int
    owed: int  # pending, sending and retry
    total: int
    rate: float | None = None  # messages a second over the last minute
    eta: float | None = None  # seconds left, when known

    @property
    def rate_text(self) -> str:
        if self.rate is None:
            return "–"
        return f"{self.rate:,.1f}/s" if self.rate < 10 else f"{self.rate:,.0f}/s"

    @property
    def eta_text(self) -> str:
        return "–" if self.eta is None else duration(self.eta)


@dataclass(frozen=True)
class Draft:
    """An editor's review before it is approved: the subject, the intro line and the
    stories kept, in order."""

    subject: str
    intro: str
    article_ids: list[int]

    @property
    def query(self) -> str:
        """The draft in a preview's address (nothing secret: the page's own values)."""
        return urlencode(
            {
                "subject": self.subject,
                "intro": self.intro,
                "stories": ",".join(map(str, self.article_ids)),
            }
        )

    @classmethod
    def of_query(cls, raw: Mapping[str, str]) -> Draft | None:
        """The draft a preview's address carries, if it carries one."""
        stories = raw.get("stories")
        if stories is None:
            return None
        ids = [int(p) for p in stories.split(",") if p.isascii() and p.isdigit() and len(p) < 11]
        return cls(raw.get("subject", "")[:MAX_TEXT], raw.get("intro", "")[:MAX_TEXT], ids)


@dataclass
class EditionPage:
    edition: Edition
    stories: list[store.ArticleView]
    variants: list[Variant]
    variant: str  # the category slug previewed, or "" for the whole edition
    width: str
    progress: Progress
    chart: RateChart
    trail: list[TrailRow]
    notes: list[str] = field(default_factory=list)
    fate: str = ""  # what happens to it if nobody approves it in time
    figures: edition_stats.Figures | None = None
    draft: Draft | None = None  # the review being previewed, not saved yet
    rate_every: str = "minute"

    @property
    def reviewing(self) -> bool:
        return self.edition.status == "awaiting_review"

    @property
    def finished(self) -> bool:
        return self.edition.status in FINISHED

    @property
    def can_pause(self) -> bool:
        return self.edition.status in sends.CONTROLLABLE

    @property
    def can_resume(self) -> bool:
        return self.edition.status == "paused"

    @property
    def can_cancel(self) -> bool:
        return self.edition.status in CANCELLABLE

    @property
    def deeds(self) -> list[tuple[str, str, datetime]]:
        """Who approved, paused, resumed and cancelled it, and when."""
        e = self.edition
        found = [
            ("Approved", e.approved_by, e.approved_at),
            ("Paused", e.paused_by, e.paused_at),
            ("Resumed", e.resumed_by, e.resumed_at),
            ("Cancelled", e.cancelled_by, e.cancelled_at),
        ]
        return [(label, who, at) for label, who, at in found if who and at is not None]

    @property
    def preview_src(self) -> str:
        if self.draft is not None:
            query = "?" + self.draft.query
        else:
            query = f"?{urlencode({'variant': self.variant})}" if self.variant else ""
        return f"/admin/editions/{self.edition.id}/preview{query}"


def _variants(db: Session, views: list[store.ArticleView]) -> list[Variant]:
    names = {c.name: c.slug for c in store.category_list(db)}
    counted: dict[str, int] = {}
    for view in views:
        for name in view.categories:
            counted[name] = counted.get(name, 0) + 1
    return [Variant(names[n], n, c) for n, c in sorted(counted.items()) if n in names]


def fate(timetable: Timetable, edition: Edition) -> str:
    """What happens to an edition awaiting review once its deadline passes, in words."""
    digest = timetable.digests.get(edition.digest)
    if digest is not None and digest.unreviewed == "send":
        return "it is sent as it is"
    return "it is skipped (its stories go in the next edition)"


def progress(room: Newsroom, edition_id: int, *, now: datetime) -> Progress:
    found = edition_stats.progress(room.engine, edition_id, now=now)
    return Progress(
        found.sent,
        found.failed,
        found.retrying,
        found.cancelled,
        found.owed,
        found.total,
        found.rate,
        found.eta_seconds,
    )


def _every(series: list[tuple[datetime, int]]) -> str:
    """The chart's interval in words: "minute", "5 seconds"."""
    if len(series) < 2:
        return "second"
    seconds = int((series[1][0] - series[0][0]).total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        if seconds % size == 0:
            count = seconds // size
            return unit if count == 1 else f"{count} {unit}s"
    return f"{seconds} seconds"


def edition_page(
    room: Newsroom,
    edition_id: int,
    *,
    now: datetime,
    variant: str = "",
    width: str = "",
    preview: bool = True,
    draft: Draft | None = None,
) -> EditionPage:
    """Everything the edition's page shows (``preview``: with its stories and variants;
    ``draft``: an editor's review shown before it is approved)."""
    with store.reading(room.engine) as db:
        edition = store.edition_by_id(db, edition_id)
        views = store.edition_articles(db, edition_id) if preview else []
        variants = _variants(db, views) if preview else []
        trail = rows(store.audit_entries(db, kind="edition", subject_id=edition_id))
    series = edition_stats.rate_series(room.engine, edition_id)
    every = _every(series)
    local = [(at.astimezone(room.settings.zone), count) for at, count in series]
    figures = None
    if edition.status in FINISHED and preview:
        figures = edition_stats.figures(room.engine, room.settings, edition_id, now=now)
    notes = []
    if variant and variant not in {v.slug for v in variants}:
        notes.append(f"No story of this edition is in {variant[:50]!r}: showing it whole.")
        variant = ""
    return EditionPage(
        edition,
        views,
        variants,
        "" if draft else variant,
        width if width in WIDTHS else WIDTHS[0],
        progress(room, edition_id, now=now),
        rate_chart(local, every=every),
        trail,
        notes,
        fate=fate(room.timetable, edition),
        figures=figures,
        draft=draft,
        rate_every=every,
    )


def preview_html(
    room: Newsroom, edition_id: int, *, variant: str = "", draft: Draft | None = None
) -> str:
    """The edition as a reader sees it, whole or as a reader of ``variant`` (a category
    slug) gets it, or with an editor's unsaved ``draft``; generic links in place of a
    recipient's."""
    if draft is None:
        html = sends.review_preview(
            room.engine,
            room.settings,
            room.timetable,
            room.env,
            edition_id,
            variant=[variant] if variant else None,
        )
        return html or EMPTY_VARIANT
    with store.reading(room.engine) as db:
        edition = store.edition_by_id(db, edition_id)
    edition = Edition.model_validate(
        {**edition.model_dump(), "subject": draft.subject, "intro": draft.intro}
    )
    rendered = editions.render_as(
        room.engine, room.settings, room.timetable, room.env, edition, draft.article_ids
    )
    values = archive_values(room.settings.site_url)
    return Personaliser(rendered.html, escape_html=True).fill(values).decode("utf-8")


# ---------------------------------------------------------------- answering


def sentence(message: str) -> str:
    """A use case's message (``no edition 9``) as a page says it (``No edition 9.``)."""
    message = message.strip()
    end = "" if message.endswith((".", "!", "?")) else "."
    return f"{message[:1].upper()}{message[1:]}{end}"


class Problem(Exception):
    """A request the editions area answers with a newsroom page of its own (an edition that
    is not there, a form from an old page) rather than the reader's error page or JSON."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message

    @classmethod
    def of(cls, exc: PublisherError) -> Problem:
        return cls(exc.http_status, sentence(exc.message))


DONE = {
    "approved": "Approved: sending has started.",
    "paused": "Paused: each sending process finishes the message in hand and takes no more.",
    "resumed": "Resumed: what is still owed goes out; nobody gets a second copy.",
    "cancelled": "Cancelled: nothing more of this edition goes out.",
    "tested": "The test is on its way.",
}


@dataclass(frozen=True)
class Screens:
    """The editions area's pages, rendered one way for every route."""

    room: Newsroom

    def edition_id(self, raw: str) -> int:
        """The id in an address; Problem (404) when it cannot be one."""
        edition_id = edition_id_of(raw)
        if edition_id is None:
            raise Problem(404, f"There is no edition {raw[:30]!r}: editions have numbers.")
        return edition_id

    def problem(
        self, request: Request, who: Staff | None, exc: Problem, *, back: str = ""
    ) -> HTMLResponse:
        return self.room.page(
            request,
            "editions_problem.html",
            staff=who,
            http_status=exc.status,
            message=exc.message,
            back=back,
        )

    def edition(
        self,
        request: Request,
        who: Staff,
        edition_id: int,
        *,
        http_status: int = 200,
        done: str = "",
        error: str = "",
        draft: Draft | None = None,
        to: str = "",
    ) -> HTMLResponse:
        """The edition's page (Problem when it is not there)."""
        params = request.query_params
        try:
            view = edition_page(
                self.room,
                edition_id,
                variant=params.get("variant", ""),
                width=params.get("width", ""),
                now=self.room.clock(),
                draft=draft,
            )
        except PublisherError as exc:
            raise Problem.of(exc) from exc
        said = done or DONE.get(params.get("done", ""), "")
        count = params.get("n", "")
        if said and count.isascii() and count.isdigit() and len(count) < 10:
            said += f" ({int(count):,} message{'' if int(count) == 1 else 's'})"
        return self.room.page(
            request,
            "editions_edition.html",
            staff=who,
            http_status=http_status,
            view=view,
            done=said,
            error=error,
            draft=draft,
            to=to,
        )
