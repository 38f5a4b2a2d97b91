"""`publisher articles ...` and `publisher feeds build`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import Engine

from publisher.articles import editorial, publish
from publisher.cli.common import (
    actor,
    context,
    utc_now,
    when,
    zone_note,
)
from publisher.errors import ConflictError, DeniedError, NotFoundError
from publisher.syndication import feeds

__all__ = [
    "articles_add",
    "articles_app",
    "articles_correct",
    "articles_list",
    "articles_publish",
    "articles_review",
    "articles_unpublish",
    "articles_withdraw",
    "feeds_app",
    "feeds_build",
]

articles_app = typer.Typer(
    help="Put articles in, list, publish, correct, withdraw and unpublish them.",
    no_args_is_help=True,
)
AS_WHO = typer.Option(
    "--as",
    help="Act as this newsroom person (their role applies: a contributor cannot publish).",
)


def _acting(engine: Engine, email: str | None) -> editorial.Writer:
    """Who a command acts as: the operator (an editor), or ``--as`` a newsroom person."""
    if email is None:
        return editorial.Writer(actor(), "editor")
    return editorial.writer_by_email(engine, email, actor=actor())


def _editor_only(engine: Engine, email: str | None) -> str:
    """The audit trail's actor, if they may publish (DeniedError for a contributor)."""
    who = _acting(engine, email)
    if not who.is_editor:
        raise DeniedError(editorial.ROLE_WORDS)
    return who.actor


feeds_app = typer.Typer(help="Build the site's feeds as static files.", no_args_is_help=True)


@articles_app.command("add")
def articles_add(
    paths: Annotated[list[Path], typer.Argument(help="Article files or folders.")],
    draft: Annotated[
        bool, typer.Option("--draft", help="New articles are drafts, for an editor to publish.")
    ] = False,
    as_who: Annotated[str | None, AS_WHO] = None,
) -> None:
    """Import .md, .json and .jsonl articles; all or nothing per call. New ones are
    published (at their published_at) unless --draft; updated ones keep their state."""
    with context() as (settings, engine):
        who = _acting(engine, as_who)
        if not (draft or who.is_editor):
            raise DeniedError(editorial.ROLE_WORDS + " (add --draft)")
        report = publish.import_articles(
            engine,
            settings,
            paths,
            now=utc_now(),
            actor=who.actor,
            status="draft" if draft else "published",
            owner_id=None if who.is_editor else who.staff_id,
        )
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
    as_who: Annotated[str | None, AS_WHO] = None,
) -> None:
    """Record a correction; the article's updated time moves."""
    with context() as (_settings, engine):
        who = _editor_only(engine, as_who)
        publish.correct_article(engine, slug, note, now=utc_now(), actor=who)
    print(f"corrected {slug}")


@articles_app.command("unpublish")
def articles_unpublish(slug: str, as_who: Annotated[str | None, AS_WHO] = None) -> None:
    """Take a story nobody has seen (a draft, in review or scheduled) off everything, with no
    page left. A story readers saw is refused: withdraw it instead (`articles withdraw`)."""
    with context() as (_settings, engine):
        who = _acting(engine, as_who)
        view = publish.article_any(engine, slug)
        if not editorial.may_see(who, view):
            raise NotFoundError(f"no article with slug {slug!r}")
        try:
            changed = editorial.unpublish(engine, view, who, now=utc_now())
        except editorial.ReadersSawIt as exc:
            if exc.state != "published":
                raise
            raise ConflictError(
                f"{exc.message}: publisher articles withdraw {slug} --reason TEXT"
            ) from None
    print(f"unpublished {slug}" if changed else f"{slug} was already unpublished")


@articles_app.command("publish")
def articles_publish(slug: str, as_who: Annotated[str | None, AS_WHO] = None) -> None:
    """Publish a draft or a story in review, or put an unpublished or withdrawn one back."""
    with context() as (_settings, engine):
        who = _editor_only(engine, as_who)
        changed = publish.set_article_status(engine, slug, "published", now=utc_now(), actor=who)
    print(f"published {slug}" if changed else f"{slug} was already published")


@articles_app.command("withdraw")
def articles_withdraw(
    slug: str,
    reason: Annotated[
        str, typer.Option("--reason", help="Why, for readers: it finishes “... because ...”.")
    ],
    as_who: Annotated[str | None, AS_WHO] = None,
) -> None:
    """Withdraw a published story: its page stays, saying why, without the story; it leaves
    the feeds, search, the sitemaps and the archive."""
    with context() as (_settings, engine):
        who = _acting(engine, as_who)
        view = publish.article_any(engine, slug)
        editorial.change(engine, view, "withdraw", who, now=utc_now(), note=reason)
        editions = editorial.editions_carrying(engine, view.article.id or 0)
    print(
        f"withdrew {slug} (it went out in {editions} edition(s)): its page stays at "
        f"/articles/{slug}, saying why; it left the feeds, search, the sitemaps and the archive"
    )


@articles_app.command("review")
def articles_review(slug: str, as_who: Annotated[str | None, AS_WHO] = None) -> None:
    """Send a draft for review: it waits in the editors' queue on the dashboard."""
    with context() as (_settings, engine):
        who = _acting(engine, as_who)
        view = publish.article_any(engine, slug)
        if not editorial.may_see(who, view):
            raise NotFoundError(f"no article with slug {slug!r}")
        editorial.change(engine, view, "review", who, now=utc_now())
    print(f"sent {slug} for review")


@feeds_app.command("build")
def feeds_build(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the feeds into.")],
) -> None:
    """Write every feed (with .gz siblings) under DIR, mirroring the URL paths."""
    with context() as (settings, engine):
        written = feeds.export(engine, feeds.FeedBuilder(settings), out, now=utc_now())
    print(f"wrote {len(written)} feeds (and their .gz siblings) to {out}")
