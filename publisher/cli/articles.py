"""`publisher articles ...` and `publisher feeds build`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from publisher.articles import publish
from publisher.cli.common import (
    actor,
    context,
    utc_now,
    when,
    zone_note,
)
from publisher.syndication import feeds

__all__ = [
    "articles_add",
    "articles_app",
    "articles_correct",
    "articles_list",
    "articles_publish",
    "articles_unpublish",
    "feeds_app",
    "feeds_build",
]

articles_app = typer.Typer(
    help="Put articles in, list, correct and unpublish them.", no_args_is_help=True
)
feeds_app = typer.Typer(help="Build the site's feeds as static files.", no_args_is_help=True)


@articles_app.command("add")
def articles_add(
    paths: Annotated[list[Path], typer.Argument(help="Article files or folders.")],
) -> None:
    """Import .md, .json and .jsonl articles; all or nothing per call."""
    with context() as (settings, engine):
        report = publish.import_articles(engine, settings, paths, now=utc_now(), actor=actor())
    for action, slug in report.changes:
        print(f"{action} {slug}")
    listed = len(report.changes)
    if report.created + report.updated > listed:
        print(f"... and {report.created + report.updated - listed} more")
    print(
        f"{report.files} file(s): {report.created} created, {report.updated} updated, "
        f"{report.unchanged} unchanged"
    )
    for slug, tag in report.suggestions:
        print(
            f"{slug}: no language given, so it is in the site's ({settings.site_language}); "
            f"it reads as {tag}: add 'language: {tag}' if it is"
        )


@articles_app.command("list")
def articles_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
) -> None:
    """Every article, scheduled and unpublished ones included, newest first."""
    with context() as (settings, engine):
        views = publish.list_articles(engine)
    now = utc_now()
    if as_json:
        json.dump(
            [publish.article_json(v, now, settings.site_language) for v in views],
            sys.stdout,
            ensure_ascii=False,
            indent=2,
        )
        print()
        return
    for view in views:
        a = view.article
        print(f"{when(a.published_at, settings)}  {view.status(now):<11}  {a.slug}  {a.title}")
    print(f"{len(views)} article(s); {zone_note(settings)}")


@articles_app.command("correct")
def articles_correct(
    slug: str,
    note: Annotated[str, typer.Option("--note", help="What was corrected, for readers.")],
) -> None:
    """Record a correction; the article's updated time moves."""
    with context() as (_settings, engine):
        publish.correct_article(engine, slug, note, now=utc_now(), actor=actor())
    print(f"corrected {slug}")


@articles_app.command("unpublish")
def articles_unpublish(slug: str) -> None:
    """Take an article off the site, the feeds and future digests."""
    with context() as (_settings, engine):
        changed = publish.set_article_status(
            engine, slug, "unpublished", now=utc_now(), actor=actor()
        )
    print(f"unpublished {slug}" if changed else f"{slug} was already unpublished")


@articles_app.command("publish")
def articles_publish(slug: str) -> None:
    """Put an unpublished article back."""
    with context() as (_settings, engine):
        changed = publish.set_article_status(
            engine, slug, "published", now=utc_now(), actor=actor()
        )
    print(f"published {slug}" if changed else f"{slug} was already published")


@feeds_app.command("build")
def feeds_build(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the feeds into.")],
) -> None:
    """Write every feed (with .gz siblings) under DIR, mirroring the URL paths."""
    with context() as (settings, engine):
        written = feeds.export(engine, feeds.FeedBuilder(settings), out, now=utc_now())
    print(f"wrote {len(written)} feeds (and their .gz siblings) to {out}")
