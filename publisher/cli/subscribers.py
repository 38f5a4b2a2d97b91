"""`publisher subscribers ...`, `bounces process` and `reports ...`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import Engine

from publisher.articles import publish
from publisher.cli.common import (
    actor,
    context,
    err,
    utc_now,
)
from publisher.community import csv_files, subscribers, subscriptions
from publisher.content import printable
from publisher.delivery import bounces, outbox
from publisher.errors import ConflictError, InputError
from publisher.mail.bounces import read_box
from publisher.schedules import load_timetable
from publisher.settings import Settings, site_url_of
from publisher.templating import make_environment
from publisher.tokens import Signer

__all__ = [
    "bounces_app",
    "bounces_process",
    "reports_app",
    "reports_list",
    "reports_resolve",
    "subscribers_add",
    "subscribers_app",
    "subscribers_clear_bounce",
    "subscribers_confirm_again",
    "subscribers_export",
    "subscribers_import",
    "subscribers_list",
    "subscribers_remove",
    "subscribers_rotate_links",
]

subscribers_app = typer.Typer(help="Community members.", no_args_is_help=True)
bounces_app = typer.Typer(help="Bounce reports from the mail system.", no_args_is_help=True)
reports_app = typer.Typer(help='Readers\' "Spot an error?" reports.', no_args_is_help=True)


@subscribers_app.command("add")
def subscribers_add(
    email: str,
    name: Annotated[str, typer.Option(help="How to greet them.")] = "",
    confirmed: Annotated[bool, typer.Option("--confirmed", help="Skip double opt-in.")] = False,
    digest: Annotated[list[str] | None, typer.Option("--digest", help="A digest (repeat).")] = None,
    category: Annotated[
        list[str] | None,
        typer.Option("--category", help="Only this category's stories (repeat; slug)."),
    ] = None,
    every_category: Annotated[
        bool, typer.Option("--every-category", help="Every category's stories again.")
    ] = False,
    language: Annotated[
        str | None,
        typer.Option("--language", help="The language of their mail (en, ko, th, ...)."),
    ] = None,
    story_language: Annotated[
        list[str] | None,
        typer.Option("--story-language", help="Only stories in this language (repeat; tag)."),
    ] = None,
) -> None:
    """Add a subscriber (to every digest unless --digest is given; every category's stories
    unless --category is given). Without --confirmed they are pending and get the
    confirmation mail a sign-up gets; they are in once they follow its link."""
    if every_category and category:
        raise InputError("--category and --every-category do not go together")
    with context() as (settings, engine):
        timetable = load_timetable(settings.schedules)
        view, created = subscriptions.add_subscriber(
            engine,
            email,
            name=name,
            confirmed=confirmed,
            digests=digest or [],
            known_digests=list(timetable.digests),
            categories=[] if every_category else category,
            language=language,
            languages=story_language,
            now=utc_now(),
            actor=actor(),
        )
        row = view.subscriber
        print(
            f"{'added' if created else 'updated'} {row.email} ({row.status}; "
            f"digests: {' '.join(view.digests)}; "
            f"categories: {' '.join(view.categories) or 'all'})"
        )
        if language is not None or story_language is not None:
            print(
                f"language: {row.language or settings.site_language}; "
                f"stories in: {row.languages or 'every language'}"
            )
        if row.status == "pending":
            try:
                print(_confirmation(settings, engine, row.email))
            except ConflictError as exc:
                err(f"no confirmation mail: {exc.message}")


@subscribers_app.command("confirm-again")
def subscribers_confirm_again(email: str) -> None:
    """Send a pending subscriber the confirmation mail again (at most 3 a day, sign-ups
    included); refused for a confirmed, unsubscribed or bounced address."""
    with context() as (settings, engine):
        print(_confirmation(settings, engine, email))


def _confirmation(settings: Settings, engine: Engine, email: str) -> str:
    """Queue the confirmation mail and send the outbox now; what happened, in words."""
    address = subscriptions.send_confirmation(
        engine,
        settings,
        Signer.of(settings.secret_key),
        make_environment(zone=settings.zone),
        email,
        actor=actor(),
        now=utc_now(),
    )
    sent, _ = outbox.send_due(engine, settings, now=utc_now())
    site = site_url_of(settings).line()  # the link's address, and where it came from
    if sent:
        return f"confirmation mail sent to {address}: they are in once they follow its link\n{site}"
    return (
        f"confirmation mail to {address} queued: the mail server did not take it now; "
        f"`publisher run` (or `publisher deliver`) sends it when it answers\n{site}"
    )


@subscribers_app.command("import")
def subscribers_import(path: Path) -> None:
    """Import a CSV (email, name, status, digests, created_at, confirmed_at, categories);
    all or nothing, every bad row reported with its line."""
    with context() as (settings, engine):
        timetable = load_timetable(settings.schedules)
        done = csv_files.import_subscribers(
            engine,
            path,
            known_digests=list(timetable.digests),
            zone=settings.zone,
            actor=actor(),
            now=utc_now(),
        )
    print(
        f"{path}: {done.created} added, {done.updated} updated, "
        f"{done.merged} duplicate row(s) merged"
    )


@subscribers_app.command("export")
def subscribers_export(
    path: Annotated[Path | None, typer.Argument(help="CSV file (default: stdout).")] = None,
) -> None:
    """Write every subscriber as CSV (the columns `subscribers import` reads)."""
    with context() as (_settings, engine):
        if path is None:
            csv_files.export_subscribers(engine, sys.stdout)
            return
        with path.open("w", encoding="utf-8", newline="") as out:
            count = csv_files.export_subscribers(engine, out)
    print(f"wrote {count} subscriber(s) to {path}")


@subscribers_app.command("list")
def subscribers_list() -> None:
    """Every subscriber with status, digests and categories (when they chose some)."""
    with context() as (_settings, engine):
        views = subscriptions.list_subscribers(engine)
    for view in views:
        row = view.subscriber
        topics = f"  [{' '.join(view.categories)}]" if view.categories else ""
        print(f"{row.email:<40} {row.status:<13} {' '.join(view.digests)}{topics}")
    print(f"{len(views)} subscriber(s)")


@subscribers_app.command("remove")
def subscribers_remove(email: str) -> None:
    """Delete a subscriber and their delivery records."""
    with context() as (_settings, engine):
        subscribers.remove_subscriber(engine, email, actor=actor(), now=utc_now())
    print(f"removed {email.strip().lower()}")


@subscribers_app.command("rotate-links")
def subscribers_rotate_links(email: str) -> None:
    """Sign a subscriber out of all links: every link mailed to them before stops working."""
    with context() as (_settings, engine):
        subscribers.rotate_links(engine, email, actor=actor(), now=utc_now())
    print(f"{email.strip().lower()}: every earlier link now fails; new mail brings new ones")


@subscribers_app.command("clear-bounce")
def subscribers_clear_bounce(email: str) -> None:
    """Mail to a bounced address works again: make it unsubscribed, so they can sign up."""
    with context() as (_settings, engine):
        subscribers.clear_bounce(engine, email, actor=actor(), now=utc_now())
    print(f"{email.strip().lower()}: no longer bounced (unsubscribed until they sign up again)")


@bounces_app.command("process")
def bounces_process(path: Path) -> None:
    """Read bounce reports (RFC 3464 and the common non-standard shapes), complaints (ARF)
    and unsubscribe requests from a Maildir or mbox and act on them as the daemon does for
    the bounce mailbox (reports that quote no message we sent are ignored; messages that
    cannot be read are skipped and named). Reading the same box again counts nothing twice."""
    with context() as (settings, engine):
        stored = read_box(path)
        applied = bounces.apply_mails(
            engine,
            settings,
            Signer.of(settings.secret_key),
            stored.mails,
            source="maildir",
            now=utc_now(),
        )
    for problem in stored.skipped:
        err(f"skipped {problem}")
    skipped = f"; {len(stored.skipped)} unreadable message(s) skipped" if stored.skipped else ""
    print(f"{len(stored.mails)} message(s) read: {applied}{skipped}")


@reports_app.command("list")
def reports_list(
    all_: Annotated[bool, typer.Option("--all", help="Resolved ones too.")] = False,
) -> None:
    """Error reports from readers, oldest first (open ones unless --all)."""
    with context() as (settings, engine):
        rows = subscriptions.list_reports(engine, include_resolved=all_)
    for row in rows:
        when = row.created_at.astimezone(settings.zone)
        contact = f" ({printable(row.email)})" if row.email else ""
        print(f"#{row.id} {when:%Y-%m-%d %H:%M} {row.status:<8} {printable(row.slug)}{contact}")
        # A reader wrote it: no control character or override may act on the terminal.
        print("    " + printable(row.message).replace("\n", "\n    "))
    print(f"{len(rows)} report(s)")


@reports_app.command("resolve")
def reports_resolve(
    report_id: int,
    correction: Annotated[
        str | None,
        typer.Option("--correction", help="Also add this correction to the report's article."),
    ] = None,
) -> None:
    """Mark a report resolved (with --correction, correct its article in the same step)."""
    with context() as (_settings, engine):
        changed = publish.resolve_report(
            engine, report_id, now=utc_now(), actor=actor(), correction=correction
        )
    print(f"resolved #{report_id}" if changed else f"#{report_id} was already resolved")
