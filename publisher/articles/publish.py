"""The use cases that the CLI, the web app and the scheduler all call."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from publisher import store
from publisher.articles.cleaning import (
    ArticleInput,
    Location,
    Parsed,
    Problem,
    parse_objects,
    validate_form,
)
from publisher.articles.files import expand, read_files
from publisher.errors import InputError, NotFoundError
from publisher.settings import Settings

__all__ = [
    "BATCH",
    "EXAMPLES",
    "MAX_LISTED_CHANGES",
    "MAX_PROBLEMS",
    "PARALLEL_BYTES",
    "STARTER_SCHEDULES",
    "ImportReport",
    "article",
    "article_any",
    "article_by_id",
    "article_json",
    "correct_article",
    "find_articles",
    "import_articles",
    "import_objects",
    "import_records",
    "initialise",
    "latest",
    "list_articles",
    "load_samples",
    "resolve_report",
    "save_article",
    "set_article_status",
    "story_page",
    "suggested_language",
]

BATCH = 1000
PARALLEL_BYTES = 4 * 1024 * 1024  # past this, Markdown is rendered in worker processes
MAX_PROBLEMS = 50
MAX_LISTED_CHANGES = 100
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "articles"

STARTER_SCHEDULES = """\
# The digest timetable: see the README, "schedules.yaml".
timezone: Asia/Singapore
digests:
  daily:
    title: "Join The Community: Today's Briefing"
    cron: "0 7 * * *"
    max_articles: 12
    categories: []
    catch_up: 6h
"""


def initialise(settings: Settings, engine: Engine) -> list[str]:
    """Migrate the database and create a starter ``schedules.yaml``; what was done, in words."""
    done = []
    store.migrate(engine)
    done.append(f"database at {engine.url.render_as_string(hide_password=True)} is up to date")
    if not settings.schedules.exists():
        settings.schedules.parent.mkdir(parents=True, exist_ok=True)
        settings.schedules.write_text(STARTER_SCHEDULES, encoding="utf-8")
        done.append(f"wrote a starter {settings.schedules}")
    return done


@dataclass
class ImportReport:
    files: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    changes: list[tuple[str, str]] = field(default_factory=list)
    # Stories given no language that read as another than the site's: (slug, that language).
    suggestions: list[tuple[str, str]] = field(default_factory=list)

    def suggest(self, item: ArticleInput, site_language: str) -> None:
        """Note ``item`` when it names no language and reads as another: a suggestion for
        the editor, never applied (the story is in the site's language until they say)."""
        if item.language or len(self.suggestions) >= MAX_LISTED_CHANGES:
            return
        guessed = suggested_language(item, site_language)
        if guessed:
            self.suggestions.append((item.slug, guessed))

    def record(self, result: store.BatchResult) -> None:
        self.created += len(result.created)
        self.updated += len(result.updated)
        self.unchanged += result.unchanged
        for action, slugs in (("created", result.created), ("updated", result.updated)):
            room = MAX_LISTED_CHANGES - len(self.changes)
            self.changes.extend((action, slug) for slug in slugs[: max(room, 0)])


def import_articles(
    engine: Engine,
    settings: Settings,
    paths: Iterable[Path],
    *,
    now: datetime,
    actor: str,
    status: str = "published",
    owner_id: int | None = None,
) -> ImportReport:
    """Import article files and folders, all or nothing: one bad record and nothing changes.
    New articles get ``status`` (``draft``: kept for an editor to publish).

    Records stream through in batches inside one write transaction, so memory stays flat.
    """
    files = expand(paths)
    size = sum(path.stat().st_size for path in files)
    workers = min(os.cpu_count() or 1, 4) if size > PARALLEL_BYTES else 1
    records = read_files(files, settings.zone, workers=workers)
    return import_records(
        engine,
        settings,
        records,
        files=len(files),
        now=now,
        actor=actor,
        status=status,
        owner_id=owner_id,
    )


def import_objects(
    engine: Engine,
    settings: Settings,
    objects: Sequence[object],
    *,
    source: str,
    now: datetime,
    actor: str,
    status: str = "published",
    owner_id: int | None = None,
) -> ImportReport:
    """Import article objects (the admin API's JSON), all or nothing, like files."""
    records = parse_objects(objects, source, settings.zone)
    return import_records(
        engine, settings, records, files=0, now=now, actor=actor, status=status, owner_id=owner_id
    )


def import_records(
    engine: Engine,
    settings: Settings,
    records: Iterable[Parsed],
    *,
    files: int,
    now: datetime,
    actor: str,
    status: str = "published",
    owner_id: int | None = None,
) -> ImportReport:
    """Write parsed records in batches in one transaction; any problem writes nothing."""
    report = ImportReport(files=files)
    problems: list[str] = []
    seen: dict[str, Location] = {}
    batch: list[ArticleInput] = []

    def write(session: Session) -> None:
        report.record(
            store.upsert_articles(
                session,
                batch,
                now=now,
                host=settings.site_host,
                actor=actor,
                status=status,
                owner_id=owner_id,
            )
        )
        batch.clear()

    with store.bulk_writing(engine) as session:
        for where, item in records:
            if isinstance(item, Problem):
                problems.append(str(item))
            elif item.slug in seen:
                problems.append(f"{where}: slug {item.slug!r} also at {seen[item.slug]}")
            else:
                seen[item.slug] = where
                batch.append(item)
                report.suggest(item, settings.site_language)
            if len(problems) >= MAX_PROBLEMS:
                break
            if problems:
                batch.clear()  # keep reading to report every problem, but write nothing more
            elif len(batch) >= BATCH:
                write(session)
        if problems:  # raising inside the transaction rolls back every batch already written
            more = " (stopped at the first 50)" if len(problems) >= MAX_PROBLEMS else ""
            raise InputError(
                f"nothing imported: {len(problems)} problem(s){more}", details=problems
            )
        write(session)
    return report


def suggested_language(item: ArticleInput, site_language: str) -> str | None:
    """The language a story given none reads as, when that is not the site's."""
    guessed = item.guessed_language
    if not guessed or guessed.split("-")[0] == site_language.split("-")[0]:
        return None
    return guessed


def load_samples(
    engine: Engine, settings: Settings, *, now: datetime, actor: str
) -> ImportReport | None:
    """Import the sample articles when the database has none yet (``publisher run --demo``)."""
    with store.reading(engine) as session:
        if store.article_count(session):
            return None
    return import_articles(engine, settings, [EXAMPLES], now=now, actor=actor)


def list_articles(engine: Engine) -> list[store.ArticleView]:
    with store.reading(engine) as session:
        return store.all_articles(session)


def latest(engine: Engine, settings: Settings, *, now: datetime) -> list[store.ArticleView]:
    with store.reading(engine) as session:
        return store.latest_articles(session, now=now, limit=settings.feed_items)


def article(engine: Engine, slug: str, *, now: datetime) -> store.ArticleView:
    """A visible article by slug; scheduled and unpublished ones are not found."""
    with store.reading(engine) as session:
        view = store.article_by_slug(session, slug)
    if view.status(now) != "published":
        raise NotFoundError(f"no article with slug {slug!r}")
    return view


def story_page(engine: Engine, slug: str, *, now: datetime) -> store.ArticleView:
    """The story a page shows at its address: a published one, or a withdrawn one (whose
    page says why, so readers of an old digest are not left on a bare 404)."""
    with store.reading(engine) as session:
        view = store.article_by_slug(session, slug)
    if view.status(now) not in ("published", "withdrawn"):
        raise NotFoundError(f"no article with slug {slug!r}")
    return view


def correct_article(engine: Engine, slug: str, note: str, *, now: datetime, actor: str) -> int:
    """Record a correction for readers; its id."""
    with store.writing(engine) as session:
        return store.add_correction(session, slug, note, now=now, actor=actor)


def set_article_status(
    engine: Engine, slug: str, status: str, *, now: datetime, actor: str
) -> bool:
    """Publish (a draft, or an unpublished or withdrawn story back) or unpublish (take it
    off everything public, as ``articles unpublish`` and the API do); False when it already
    was. Publishing a draft puts it out now; anything else keeps its first time."""
    if status not in ("published", "unpublished"):
        raise InputError(f"unknown status {status!r} (one of published, unpublished)")
    with store.writing(engine) as session:
        article_id = store.article_by_slug(session, slug).article.id or 0
        state, _ = store.current_state(session, article_id, now=now)
        if state == status or (status == "published" and state == "scheduled"):
            return False
        action = "publish" if status == "published" else "unpublish"
        published_by = actor if action == "publish" else ""
        store.change_state(
            session, article_id, action, now=now, actor=actor, published_by=published_by
        )
        return True


def save_article(
    engine: Engine,
    settings: Settings,
    fields: dict[str, object],
    *,
    article_id: int | None,
    base_hash: str | None = None,
    now: datetime,
    actor: str,
    then: Callable[[Session, int], None] | None = None,
    status: str = "published",
    owner_id: int | None = None,
) -> tuple[int, bool]:
    """Write or edit one article from the article file keys (the newsroom's form), with the
    same validation and sanitising as ``articles add``: ``ArticleProblems`` names each field
    at fault. Edits go by id, so a new slug keeps the article's id and ``tag:`` URI.
    ``then(session, id)`` runs in the same transaction (an inbox item linked to the article
    made from it): if it raises, nothing is saved. A new article gets ``status`` and its
    writer ``owner_id``. ``(id, whether anything changed)``."""
    item = validate_form(fields, settings.zone)
    with store.writing(engine) as session:
        saved = store.save_article(
            session,
            item,
            article_id=article_id,
            base_hash=base_hash,
            now=now,
            host=settings.site_host,
            actor=actor,
            status=status,
            owner_id=owner_id,
        )
        if then is not None:
            then(session, saved[0])
        return saved


def article_by_id(engine: Engine, article_id: int) -> store.ArticleView:
    """An article by id whatever its status (for editors)."""
    with store.reading(engine) as session:
        return store.article_by_id(session, article_id)


def find_articles(
    engine: Engine, wanted: store.ArticleFilter, *, now: datetime, offset: int, limit: int
) -> tuple[list[store.ArticleView], dict[str, int]]:
    with store.reading(engine) as session:
        return store.find_articles(session, wanted, now=now, offset=offset, limit=limit)


def resolve_report(
    engine: Engine, report_id: int, *, now: datetime, actor: str, correction: str | None = None
) -> bool:
    """Resolve a reader's report; with ``correction`` (a note for readers), add it to the
    report's article and link the two, in one transaction. False when already resolved
    (and then no correction is added)."""
    with store.writing(engine) as session:
        report = store.report_by_id(session, report_id, lock=True)
        if report.status != "open":
            return False
        correction_id = None
        if correction is not None:
            if report.article_id is None:
                raise NotFoundError("the article this report was about is gone")
            slug = store.article_by_id(session, report.article_id).article.slug
            correction_id = store.add_correction(session, slug, correction, now=now, actor=actor)
        return store.resolve_report(
            session, report_id, now=now, actor=actor, correction_id=correction_id
        )


def article_any(engine: Engine, slug: str) -> store.ArticleView:
    """An article by slug whatever its status (for editors)."""
    with store.reading(engine) as session:
        return store.article_by_slug(session, slug)


def article_json(view: store.ArticleView, now: datetime, site_language: str) -> dict[str, Any]:
    """An article as `articles list --json` and the admin API show it (docs/reference/http.md)."""
    a = view.article
    return {
        "id": a.uid,
        "slug": a.slug,
        "title": a.title,
        "status": view.status(now),
        "withdrawn_reason": a.withdrawn_reason,
        "categories": list(view.categories),
        "published_at": a.published_at.isoformat(),
        "updated_at": a.updated_at.isoformat(),
        "author": a.author,
        "editor": a.editor,
        "sponsored": a.sponsored,
        "ai_assisted": a.ai_assisted,
        "language": a.language or site_language,
        "corrections": [
            {"note": c.note, "created_at": c.created_at.isoformat()} for c in view.corrections
        ],
    }
