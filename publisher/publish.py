"""The use cases that the CLI, the web app and the scheduler all call."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from publisher import store
from publisher.article_files import expand, read_files
from publisher.articles import (
    ArticleInput,
    Location,
    Parsed,
    Problem,
    parse_objects,
)
from publisher.errors import InputError, NotFoundError
from publisher.settings import Settings

BATCH = 1000
PARALLEL_BYTES = 4 * 1024 * 1024  # past this, Markdown is rendered in worker processes
MAX_PROBLEMS = 50
MAX_LISTED_CHANGES = 100
EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "articles"

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

    def record(self, result: store.BatchResult) -> None:
        self.created += len(result.created)
        self.updated += len(result.updated)
        self.unchanged += result.unchanged
        for action, slugs in (("created", result.created), ("updated", result.updated)):
            room = MAX_LISTED_CHANGES - len(self.changes)
            self.changes.extend((action, slug) for slug in slugs[: max(room, 0)])


def import_articles(
    engine: Engine, settings: Settings, paths: Iterable[Path], *, now: datetime
) -> ImportReport:
    """Import article files and folders, all or nothing: one bad record and nothing changes.

    Records stream through in batches inside one write transaction, so memory stays flat.
    """
    files = expand(paths)
    size = sum(path.stat().st_size for path in files)
    workers = min(os.cpu_count() or 1, 4) if size > PARALLEL_BYTES else 1
    records = read_files(files, settings.zone, workers=workers)
    return import_records(engine, settings, records, files=len(files), now=now)


def import_objects(
    engine: Engine, settings: Settings, objects: Sequence[object], *, source: str, now: datetime
) -> ImportReport:
    """Import article objects (the admin API's JSON), all or nothing, like files."""
    return import_records(
        engine, settings, parse_objects(objects, source, settings.zone), files=0, now=now
    )


def import_records(
    engine: Engine, settings: Settings, records: Iterable[Parsed], *, files: int, now: datetime
) -> ImportReport:
    """Write parsed records in batches in one transaction; any problem writes nothing."""
    report = ImportReport(files=files)
    problems: list[str] = []
    seen: dict[str, Location] = {}
    batch: list[ArticleInput] = []
    with store.writing(engine) as session:
        for where, item in records:
            if isinstance(item, Problem):
                problems.append(str(item))
            elif item.slug in seen:
                problems.append(f"{where}: slug {item.slug!r} also at {seen[item.slug]}")
            else:
                seen[item.slug] = where
                batch.append(item)
            if len(problems) >= MAX_PROBLEMS:
                break
            if problems:
                batch.clear()  # keep reading to report every problem, but write nothing more
            elif len(batch) >= BATCH:
                report.record(
                    store.upsert_articles(session, batch, now=now, host=settings.site_host)
                )
                batch.clear()
        if problems:  # raising inside the transaction rolls back every batch already written
            more = " (stopped at the first 50)" if len(problems) >= MAX_PROBLEMS else ""
            raise InputError(
                f"nothing imported: {len(problems)} problem(s){more}", details=problems
            )
        report.record(store.upsert_articles(session, batch, now=now, host=settings.site_host))
    return report


def load_samples(engine: Engine, settings: Settings, *, now: datetime) -> ImportReport | None:
    """Import the sample articles when the database has none yet (``publisher run --demo``)."""
    with store.reading(engine) as session:
        if store.article_count(session):
            return None
    return import_articles(engine, settings, [EXAMPLES], now=now)


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


def correct_article(engine: Engine, slug: str, note: str, *, now: datetime) -> None:
    with store.writing(engine) as session:
        store.add_correction(session, slug, note, now=now)


def set_article_status(engine: Engine, slug: str, status: str, *, now: datetime) -> bool:
    with store.writing(engine) as session:
        return store.set_status(session, slug, status, now=now)


def article_any(engine: Engine, slug: str) -> store.ArticleView:
    """An article by slug whatever its status (for editors)."""
    with store.reading(engine) as session:
        return store.article_by_slug(session, slug)


def article_json(view: store.ArticleView, now: datetime) -> dict[str, Any]:
    """An article as `articles list --json` and the admin API show it (CONTRACT.md)."""
    a = view.article
    return {
        "id": a.uid,
        "slug": a.slug,
        "title": a.title,
        "status": view.status(now),
        "categories": list(view.categories),
        "published_at": a.published_at.isoformat(),
        "updated_at": a.updated_at.isoformat(),
        "author": a.author,
        "editor": a.editor,
        "sponsored": a.sponsored,
        "ai_assisted": a.ai_assisted,
        "corrections": [
            {"note": c.note, "created_at": c.created_at.isoformat()} for c in view.corrections
        ],
    }
