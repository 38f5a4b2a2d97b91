"""What an edition's page shows, gathered from the use cases: the edition with its stories,
category variants, the languages its readers get it in, progress, send-rate chart, figures
and trail; the preview framed in it, whole, as the readers of a category, a language and a
choice of story languages get it, or with an editor's review not saved yet."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlencode

from sqlalchemy.orm import Session

from publisher import store
from publisher.editions import making, sends, stats
from publisher.editions.compose import archive_values
from publisher.editions.sends import AsReader
from publisher.languages import language_name
from publisher.models import Edition
from publisher.schedules import Timetable
from publisher.templating import Personaliser
from publisher.web.admin.chart import RateChart, rate_chart
from publisher.web.admin.edition_languages import (
    ReaderChoice,
    Readership,
    reader_choice,
    readership,
)
from publisher.web.admin.trail import TrailRow, rows
from publisher.web.application import Application

__all__ = [
    "CANCELLABLE",
    "FINISHED",
    "Draft",
    "EditionPage",
    "Progress",
    "Variant",
    "duration",
    "edition_id_of",
    "edition_page",
    "fate",
    "preview_html",
    "progress",
]

MAX_ID = 2**31 - 1  # ids are 32-bit in both databases: a larger one is simply not there
# No delivery of an edition in one of these changes any more: its page stops polling.
FINISHED = ("sent", "skipped", "missed", "cancelled")
CANCELLABLE = ("awaiting_review", "ready", "sending", "paused")
WIDTHS = ("desktop", "phone")
MAX_TEXT = 1000  # a subject or intro line in a preview's address
EMPTY_VARIANT = (
    "<!doctype html><title>No story</title><p>No story of this edition is in these categories "
    "and languages: such a reader gets no message this time.</p>"
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
class Variant:
    """A category some of the edition's stories are in: its readers get only those."""

    slug: str
    name: str
    stories: int


@dataclass(frozen=True)
class Progress:
    """An edition's deliveries so far, by status, with the send rate and time left."""

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
        """The send rate in words ("–" when not known)."""
        if self.rate is None:
            return "–"
        return f"{self.rate:,.1f}/s" if self.rate < 10 else f"{self.rate:,.0f}/s"

    @property
    def eta_text(self) -> str:
        """The time left in words ("–" when not known)."""
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
    """Everything an edition's page shows."""

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
    figures: stats.Figures | None = None
    draft: Draft | None = None  # the review being previewed, not saved yet
    rate_every: str = "minute"
    readers: int | None = None  # asking to confirm the draft: the readers who would get it
    # a digest's stories left out because they went out as breaking news before it was made
    left_out: list[store.LeftOut] = field(default_factory=list)
    language: str = ""  # the language previewed (a catalog's tag), or "" for the site's
    stories_in: str = ""  # the story languages previewed (space-separated), or "" for all
    readership: Readership = field(default_factory=lambda: Readership([], []))

    @property
    def reviewing(self) -> bool:
        """Whether it awaits an editor's review."""
        return self.edition.status == "awaiting_review"

    @property
    def missed(self) -> bool:
        """Whether its send time passed while no daemon ran, so that nothing was made."""
        return self.edition.status == "missed"

    @property
    def finished(self) -> bool:
        """Whether none of its deliveries can change any more."""
        return self.edition.status in FINISHED

    @property
    def can_pause(self) -> bool:
        """Whether it can be paused now."""
        return self.edition.status in sends.CONTROLLABLE

    @property
    def can_resume(self) -> bool:
        """Whether it can be resumed now."""
        return self.edition.status == "paused"

    @property
    def can_cancel(self) -> bool:
        """Whether it can be cancelled now."""
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
    def choice(self) -> dict[str, str]:
        """The reader previewed, as an address's values (only those chosen)."""
        found = {"variant": self.variant, "language": self.language, "stories_in": self.stories_in}
        return {k: v for k, v in found.items() if v}

    def link(self, **changes: str) -> str:
        """The page's address with the preview's choices and width, ``changes`` made."""
        values = {**self.choice, **changes}
        order = ("variant", "language", "stories_in")
        found = [(k, values.get(k, "")) for k in order] + [
            ("width", changes.get("width", self.width))
        ]
        return "?" + urlencode([(k, v) for k, v in found if v])

    @property
    def preview_src(self) -> str:
        """The address of the preview framed in the page."""
        if self.draft is not None:
            query = "?" + self.draft.query
        else:
            query = f"?{urlencode(self.choice)}" if self.choice else ""
        return f"/admin/editions/{self.edition.id}/preview{query}"

    @property
    def reader(self) -> str:
        """Who the preview shows it as, in words ("" for the whole edition)."""
        said = []
        if self.language:
            said.append(f"a {language_name(self.language, 'en')} reader")
        if self.variant:
            said.append(f"of {next((v.name for v in self.variants if v.slug == self.variant), '')}")
        if self.stories_in:
            tags = self.stories_in.split()
            said.append(f"who reads stories in {', '.join(language_name(t, 'en') for t in tags)}")
        if said and not self.language:
            said.insert(0, "a reader")
        return " ".join(said)


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
    if edition.kind != "digest":
        return "it is skipped: news a day old is no longer breaking"
    if digest is not None and digest.unreviewed == "send":
        return "it is sent as it is"
    return "it is skipped (its stories go in the next edition)"


def progress(app: Application, edition_id: int, *, now: datetime) -> Progress:
    """The edition's deliveries so far, with the send rate and the time left."""
    found = stats.progress(app.engine, edition_id, now=now)
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
    app: Application,
    edition_id: int,
    *,
    now: datetime,
    variant: str = "",
    width: str = "",
    whole: bool = True,
    draft: Draft | None = None,
    confirm: bool = False,
    language: str = "",
    stories: str = "",
) -> EditionPage:
    """Everything the edition's page shows (``whole=False``: only what its progress poll
    and the cancel question need; ``draft``: an editor's review shown before approval;
    ``confirm``: with how many readers would get it; ``variant``, ``language`` and
    ``stories``: the reader previewed, whose category, language and story languages)."""
    sent = progress(app, edition_id, now=now)
    home = app.settings.site_language
    with store.reading(app.engine) as db:
        edition = store.edition_by_id(db, edition_id)
        who = store.edition_recipients(edition)
        readers = store.recipient_count(db, who) if confirm else None
        views = store.edition_articles(db, edition_id) if whole else []
        variants = _variants(db, views) if whole else []
        trail = (
            rows(store.audit_entries(db, kind="edition", subject_id=edition_id)) if whole else []
        )
        left_out = _left_out(db, app.timetable, edition) if whole else []
        readers_by = (
            readership(db, edition, started=sent.total > 0, home=home)
            if whole
            else Readership([], [])
        )
    chart, every = _rate(app, edition_id)
    figures = None
    if edition.status in FINISHED and whole:
        figures = stats.figures(app.engine, app.settings, edition_id, now=now)
    variant, chosen, notes = _reader_shown(variant, variants, language, stories, home)
    return EditionPage(
        edition,
        views,
        variants,
        "" if draft else variant,
        width if width in WIDTHS else WIDTHS[0],
        sent,
        chart,
        trail,
        notes,
        fate=fate(app.timetable, edition),
        figures=figures,
        draft=draft,
        rate_every=every,
        readers=readers,
        left_out=left_out,
        language="" if draft else chosen.language,
        stories_in="" if draft else chosen.stories,
        readership=readers_by,
    )


def _rate(app: Application, edition_id: int) -> tuple[RateChart, str]:
    """The edition's send-rate chart (in the site's zone) and its buckets' size in words."""
    series = stats.rate_series(app.engine, edition_id)
    every = _every(series)
    local = [(at.astimezone(app.settings.zone), count) for at, count in series]
    return rate_chart(local, every=every), every


def _reader_shown(
    variant: str, variants: list[Variant], language: str, stories: str, home: str
) -> tuple[str, ReaderChoice, list[str]]:
    """The reader previewed (category slug, language choice) and the notes saying which
    choice was wrong: then the edition whole."""
    notes = []
    chosen = reader_choice(language, stories, home=home)
    if variant and variant not in {v.slug for v in variants}:
        notes.append(f"No story of this edition is in {variant[:50]!r}: showing it whole.")
    if chosen.note:
        notes.append(chosen.note)
    if notes:
        return "", ReaderChoice(), notes
    return variant, chosen, notes


def _left_out(db: Session, timetable: Timetable, edition: Edition) -> list[store.LeftOut]:
    """A digest edition's stories left out as sent as breaking news (none for a one-off)."""
    if edition.kind != "digest":
        return []
    digest = timetable.digests.get(edition.digest)
    categories = digest.categories if digest is not None else ()
    return store.left_out_as_breaking(db, edition, categories=categories)


def preview_html(
    app: Application,
    edition_id: int,
    *,
    variant: str = "",
    draft: Draft | None = None,
    reader: AsReader = AsReader(),
) -> str:
    """The edition as a reader sees it, whole or as a reader of ``variant`` (a category
    slug) with ``reader``'s language and story languages gets it (as the sending processes
    render it), or with an editor's unsaved ``draft``; generic links in place of a
    recipient's."""
    if draft is None:
        html = sends.review_preview(
            app.engine,
            app.settings,
            app.timetable,
            app.env,
            edition_id,
            variant=[variant] if variant else None,
            reader=reader,
        )
        return html or EMPTY_VARIANT
    with store.reading(app.engine) as db:
        edition = store.edition_by_id(db, edition_id)
    edition = Edition.model_validate(
        {**edition.model_dump(), "subject": draft.subject, "intro": draft.intro}
    )
    rendered = making.render_as(
        app.engine, app.settings, app.timetable, app.env, edition, draft.article_ids
    )
    values = archive_values(app.settings.site_url, app.settings.site_language)
    return Personaliser(rendered.html, escape_html=True).fill(values).decode("utf-8")
