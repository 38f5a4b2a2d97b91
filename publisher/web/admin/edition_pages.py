"""What the editions pages show, gathered from the use cases: the list's rows and filters,
one edition with its stories, variants, progress, figures and trail, and the review form
read back into what ``sends.approve`` takes."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from publisher import editions, store
from publisher.digest import archive_values
from publisher.errors import InputError
from publisher.models import Edition
from publisher.schedules import Timetable
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
WIDTHS = ("desktop", "phone")
MAX_TEST = 20


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
        awaiting = store.edition_list(db, statuses=["awaiting_review"])
    return Listing(
        awaiting,
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
    owed: int
    total: int


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
    deeds: list[tuple[str, str, datetime]] = field(default_factory=list)  # who did what, when
    deadline: datetime | None = None
    fate: str = ""  # what happens to it unreviewed
    intro: str = ""
    rate: float | None = None  # messages a second over the last minute
    eta: float | None = None  # seconds left, when known
    rate_every: str = "minute"
    figures: object | None = None

    @property
    def reviewing(self) -> bool:
        return self.edition.status == "awaiting_review"

    @property
    def finished(self) -> bool:
        return self.edition.status in FINISHED

    @property
    def can_pause(self) -> bool:
        return self.edition.status in ("ready", "sending")

    @property
    def can_resume(self) -> bool:
        return self.edition.status == "paused"

    @property
    def can_cancel(self) -> bool:
        return self.edition.status in ("ready", "sending", "paused")

    @property
    def rate_text(self) -> str:
        if self.rate is None:
            return "–"
        return f"{self.rate:,.1f}/s" if self.rate < 10 else f"{self.rate:,.0f}/s"

    @property
    def eta_text(self) -> str:
        return "–" if self.eta is None else duration(self.eta)

    @property
    def preview_src(self) -> str:
        query = f"?variant={self.variant}" if self.variant else ""
        return f"/admin/editions/{self.edition.id}/preview{query}"


def _variants(db: Session, views: list[store.ArticleView]) -> list[Variant]:
    names = {c.name: c.slug for c in store.category_list(db)}
    counted: dict[str, int] = {}
    for view in views:
        for name in view.categories:
            counted[name] = counted.get(name, 0) + 1
    return [Variant(names[n], n, c) for n, c in sorted(counted.items()) if n in names]


def edition_page(
    room: Newsroom,
    edition_id: int,
    *,
    now: datetime,
    variant: str = "",
    width: str = "",
    preview: bool = True,
) -> EditionPage:
    """Everything the edition's page shows (``preview``: with its stories and variants)."""
    with store.reading(room.engine) as db:
        edition = store.edition_by_id(db, edition_id)
        views = store.edition_articles(db, edition_id) if preview else []
        variants = _variants(db, views) if preview else []
        counts = store.delivery_counts(db, [edition_id]).get(edition_id, {})
        trail = rows(store.audit_entries(db, kind="edition", subject_id=edition_id))
    notes = []
    if variant and variant not in {v.slug for v in variants}:
        notes.append(f"No story of this edition is in {variant[:50]!r}: showing it whole.")
        variant = ""
    progress = Progress(
        counts.get("sent", 0),
        counts.get("failed", 0),
        counts.get("retry", 0),
        counts.get("cancelled", 0),
        sum(counts.get(s, 0) for s in store.OPEN_DELIVERY),
        sum(counts.values()),
    )
    return EditionPage(
        edition,
        views,
        variants,
        variant,
        width if width in WIDTHS else WIDTHS[0],
        progress,
        rate_chart([]),
        trail,
        notes,
    )


def preview_html(room: Newsroom, edition_id: int, *, variant: str = "") -> str:
    """The edition as a reader sees it, whole or as a reader of ``variant`` gets it, with the
    web archive's generic links in place of a recipient's."""
    with store.reading(room.engine) as db:
        edition = store.edition_by_id(db, edition_id)
        views = store.edition_articles(db, edition_id)
        known = {c.slug: c.name for c in store.category_list(db)}
    html = edition.html
    if variant:
        name = known.get(unicodedata.normalize("NFC", variant))
        if name is None:
            raise InputError(f"there is no category {variant[:50]!r}")
        kept = [v.article.id or 0 for v in views if name in v.categories]
        html = editions.render_variant(
            room.engine, room.settings, room.timetable, room.env, edition, kept
        ).html
    values = archive_values(room.settings.site_url)
    return Personaliser(html, escape_html=True).fill(values).decode("utf-8")


@dataclass(frozen=True)
class Review:
    """The review form as ``sends.approve`` takes it."""

    subject: str
    intro: str
    article_ids: list[int]


def review_form(form: Mapping[str, str], stories: list[int]) -> Review:
    """The stories kept, in the order their position fields say (ties keep the edition's
    order); ``keep-ID`` unticked takes a story out. InputError for a position that is not a
    whole number, or for no story left."""
    placed = []
    for index, article_id in enumerate(stories):
        if form.get(f"keep-{article_id}") != "on":
            continue
        raw = str(form.get(f"position-{article_id}", "")).strip() or str(index + 1)
        if not (raw.isascii() and raw.isdigit() and len(raw) < 6):
            raise InputError(f"the position {raw[:20]!r} is not a whole number")
        placed.append((int(raw), index, article_id))
    if not placed:
        raise InputError("keep at least one story, or let the edition be skipped")
    return Review(
        str(form.get("subject", "")).strip(),
        str(form.get("intro", "")).strip(),
        [article_id for _, _, article_id in sorted(placed)],
    )
