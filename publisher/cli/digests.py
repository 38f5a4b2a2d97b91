"""`publisher digest preview/list/send`, with a progress bar while sending, and the control
of one edition: approve, pause, resume, cancel, test (issue 13)."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from jinja2 import Environment
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy import Engine

from publisher.cli.common import (
    actor,
    context,
    restore_signals,
    stop_on_signals,
    utc_now,
    when,
)
from publisher.community import subscriptions
from publisher.delivery import sending
from publisher.editions import making, sends, stats
from publisher.errors import InputError, OperationalError
from publisher.models import Edition
from publisher.schedules import Timetable, load_timetable
from publisher.settings import Settings, site_url_of
from publisher.templating import make_environment, size_text

__all__ = [
    "Drop",
    "deliver_with_progress",
    "digest_app",
    "digest_approve",
    "digest_cancel",
    "digest_list",
    "digest_pause",
    "digest_preview",
    "digest_resume",
    "digest_send",
    "digest_stats",
    "digest_test",
    "stats_lines",
]

# A reader's choices, as `digest preview` and `digest test` take them.
READER_CATEGORY = Annotated[
    list[str] | None,
    typer.Option("--category", help="As a reader of this category gets it (repeat; slug)."),
]
READER_LANGUAGE = Annotated[
    str, typer.Option("--language", help="In this language (en, ko, th...).")
]
STORY_LANGUAGE = Annotated[
    list[str] | None,
    typer.Option("--story-language", help="Only stories in this language (repeat; tag)."),
]

digest_app = typer.Typer(help="The Join The Community digest.", no_args_is_help=True)


@digest_app.command("preview")
def digest_preview(
    name: str,
    out: Annotated[Path | None, typer.Option("--out", help="Write the HTML here.")] = None,
    category: READER_CATEGORY = None,
    language: READER_LANGUAGE = "",
    story_language: STORY_LANGUAGE = None,
) -> None:
    """Render the next edition of NAME as it would go out now, without recording it; with
    --category, as a reader who chose those categories would get it; with --language and
    --story-language, as a member who reads those would."""
    with context() as (settings, engine):
        timetable = load_timetable(settings.schedules)
        rendered = making.preview(
            engine,
            settings,
            timetable,
            make_environment(zone=settings.zone),
            timetable.digest(name),
            now=utc_now(),
            categories=category or [],
            language=subscriptions.reader_language(language),
            languages=subscriptions.story_languages(story_language) or [],
        )
    if (category or story_language) and not rendered.stories:
        print("no story in those categories: a reader who chose them gets nothing this time")
        return
    if out is None:
        print(rendered.text)
        return
    out.write_text(rendered.html, encoding="utf-8")
    size = len(rendered.html.encode())
    print(f"{rendered.subject}: {rendered.stories} stories, {size_text(size)} of HTML in {out}")


@digest_app.command("list")
def digest_list() -> None:
    """Editions, newest first, with their status, story counts and delivery counts."""
    with context() as (settings, engine):
        rows = making.list_editions(engine)
        tallies = sending.counts(engine, [e.id or 0 for e in rows])
    if not rows:
        print("no editions yet")
    for edition in rows:
        tally = tallies.get(edition.id or 0, {})
        owed = sum(tally.get(s, 0) for s in ("pending", "sending", "retry"))
        print(
            f"{edition.id:>5}  {edition.digest:<12} {edition.period_key}  {edition.status:<15} "
            f"{edition.article_count:>3} stories  sent {tally.get('sent', 0)}  "
            f"failed {tally.get('failed', 0)}  owed {owed}  "
            f"cancelled {tally.get('cancelled', 0)}  {edition.subject}{_note(edition, settings)}"
        )


def _note(edition: Edition, settings: Settings) -> str:
    """Who holds or held the edition, for ``digest list`` (times in the site's zone)."""
    if edition.status == "awaiting_review" and edition.review_deadline_at is not None:
        return f"  (review by {when(edition.review_deadline_at, settings)})"
    if edition.status == "paused":
        return f"  (paused by {edition.paused_by})"
    if edition.status == "cancelled":
        return f"  (cancelled by {edition.cancelled_by})"
    return f"  (approved by {edition.approved_by})" if edition.approved_by else ""


@digest_app.command("send")
def digest_send(
    name: str,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would happen.")] = False,
) -> None:
    """Make this period's edition of NAME (once) and deliver it, with a progress bar. A
    missed edition of this period is made now and sent (held for review where the digest
    says so); one that already went out is not sent again."""
    with context() as (settings, engine):
        timetable = load_timetable(settings.schedules)
        digest = timetable.digest(name)
        now = utc_now()
        if dry_run:
            print(making.describe_send(engine, settings, digest, now=now))
            return
        env = make_environment(zone=settings.zone)
        plan = sending.prepare_send(engine, settings, timetable, env, digest, now=now)
        edition = plan.edition
        if edition.status == "missed":
            edition = sends.send_missed(
                engine,
                settings,
                timetable,
                env,
                edition.id or 0,
                actor=actor(),
                now=now,
                review=digest.review,
            )
            print(f"edition {edition.id} ({edition.period_key}) was missed: made now, by hand")
        elif edition.status in ("sending", "sent") and _all_sent(engine, edition, plan):
            print(_went_out(engine, edition, digest.next_times(now, 1)))
            return
        print(
            f"edition {edition.id} ({edition.period_key}): {edition.status.replace('_', ' ')}, "
            f"{edition.article_count} stories{'' if plan.created else ' (already made)'}"
        )
        if edition.status == "skipped":
            print("nothing new to send: the edition is recorded as skipped")
            return
        if edition.status in ("awaiting_review", "paused", "cancelled"):
            print(_held(edition))
            return
        print(site_url_of(settings).line())  # where its links point
        deliver_with_progress(engine, settings, edition.id or 0, timetable, env)


def _all_sent(engine: Engine, edition: Edition, plan: sending.SendPlan) -> bool:
    """Whether the edition went out already: nothing new and nothing owed."""
    tally = sending.counts(engine, [edition.id or 0]).get(edition.id or 0, {})
    owed = sum(tally.get(s, 0) for s in ("pending", "sending", "retry"))
    return not plan.created and not plan.new_deliveries and not owed


def _went_out(engine: Engine, edition: Edition, upcoming: list[datetime]) -> str:
    """`digest send` on a period whose edition went out already: said, nothing sent."""
    tally = sending.counts(engine, [edition.id or 0]).get(edition.id or 0, {})
    after = f"; the next is due {upcoming[0].isoformat()}" if upcoming else ""
    return (
        f"edition {edition.id} ({edition.period_key}) already went out to "
        f"{tally.get('sent', 0)} reader(s): nothing more is sent for this period{after}"
    )


def _held(edition: Edition) -> str:
    if edition.status == "awaiting_review":
        return (
            f"edition {edition.id} waits for review: nothing is sent until "
            f"`publisher digest approve {edition.id}`"
        )
    if edition.status == "paused":
        return f"edition {edition.id} is paused: `publisher digest resume {edition.id}` goes on"
    return f"edition {edition.id} is {edition.status}: nothing more is sent"


Drop = Annotated[
    list[int] | None,
    typer.Option("--drop", help="Take this story (article id) out; repeat for more."),
]


@digest_app.command("approve")
def digest_approve(
    edition_id: Annotated[int, typer.Argument(metavar="ID")],
    subject: Annotated[str | None, typer.Option("--subject", help="Another subject.")] = None,
    intro: Annotated[str | None, typer.Option("--intro", help="Another intro line.")] = None,
    drop: Drop = None,
) -> None:
    """Approve edition ID, awaiting review (optionally with stories taken out and another
    subject or intro line): it is rendered again and sending starts."""
    with context() as (settings, engine):
        timetable = load_timetable(settings.schedules)
        kept = None
        if drop:
            with_ids = [v.article.id or 0 for v in making.edition_stories(engine, edition_id)]
            unknown = sorted(set(drop) - set(with_ids))
            if unknown:
                raise InputError(
                    f"--drop {', '.join(map(str, unknown))}: not in edition {edition_id} "
                    f"(it carries {', '.join(map(str, with_ids)) or 'no story'})"
                )
            kept = [i for i in with_ids if i not in set(drop)]
        edition = sends.approve(
            engine,
            settings,
            timetable,
            make_environment(zone=settings.zone),
            edition_id,
            actor=actor(),
            now=utc_now(),
            subject=subject,
            intro=intro,
            article_ids=kept,
        )
        tally = sending.counts(engine, [edition_id])[edition_id]
    print(
        f"edition {edition.id} approved by {edition.approved_by}: {edition.status}, "
        f"{edition.article_count} stories, {sum(tally.values())} deliveries; {edition.subject}"
    )


@digest_app.command("pause")
def digest_pause(edition_id: Annotated[int, typer.Argument(metavar="ID")]) -> None:
    """Pause edition ID while it sends: no more messages start (on every daemon, within
    seconds); what is owed waits for `digest resume`."""
    with context() as (_settings, engine):
        edition = sends.pause(engine, edition_id, actor=actor(), now=utc_now())
        owed = _owed(engine, edition_id)
    print(f"edition {edition.id} paused by {edition.paused_by}: {owed} still owed")


@digest_app.command("resume")
def digest_resume(edition_id: Annotated[int, typer.Argument(metavar="ID")]) -> None:
    """Resume paused edition ID: what is still owed goes out, nobody gets it twice."""
    with context() as (_settings, engine):
        edition = sends.resume(engine, edition_id, actor=actor(), now=utc_now())
        owed = _owed(engine, edition_id)
    print(f"edition {edition.id} resumed by {edition.resumed_by}: {owed} still owed")


@digest_app.command("cancel")
def digest_cancel(edition_id: Annotated[int, typer.Argument(metavar="ID")]) -> None:
    """Cancel edition ID: every message still owed is cancelled and never sent."""
    with context() as (_settings, engine):
        count = sends.cancel(engine, edition_id, actor=actor(), now=utc_now())
        owed = _owed(engine, edition_id)
    said = f"edition {edition_id} cancelled: {count} deliveries cancelled"
    if owed:
        said += f"; {owed} in the workers' hands end with the message in hand, the rest cancelled"
    print(said)


@digest_app.command("test")
def digest_test(
    target: Annotated[str, typer.Argument(metavar="NAME|ID")],
    to: Annotated[list[str], typer.Option("--to", help="An address (repeat; at most 20).")],
    category: READER_CATEGORY = None,
    language: READER_LANGUAGE = "",
    story_language: STORY_LANGUAGE = None,
) -> None:
    """Send a [Test] copy of edition ID, or of digest NAME's next edition (the one awaiting
    review if there is one), to a few addresses; counted nowhere, its links change nobody.
    With --category, --language or --story-language, as a member with those choices gets
    it."""
    reader = sends.AsReader(tuple(category or ()), language, tuple(story_language or ()))
    with context() as (settings, engine):
        timetable = load_timetable(settings.schedules)
        count = sends.test_send(
            engine,
            settings,
            timetable,
            make_environment(zone=settings.zone),
            target,
            to,
            actor=actor(),
            now=utc_now(),
            reader=reader,
        )
    print(f"test sent to {count} address(es)")


def _owed(engine: Engine, edition_id: int) -> int:
    tally = sending.counts(engine, [edition_id])[edition_id]
    return sum(tally.get(s, 0) for s in ("pending", "sending", "retry"))


def deliver_with_progress(
    engine: Engine, settings: Settings, edition_id: int, timetable: Timetable, env: Environment
) -> None:
    """Deliver what is owed of the edition in this process, with a progress bar."""
    stop = threading.Event()
    sender = sending.Sender(engine, settings, clock=utc_now, timetable=lambda: timetable, env=env)
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            sender.run(stop, once=True)
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=run, name="sender")
    previous = stop_on_signals(stop)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:.0f}/s"),
        TimeRemainingColumn(),
    )
    started = time.monotonic()
    try:
        worker.start()
        with Progress(*columns, transient=False) as progress:
            task = progress.add_task("sending", total=None, rate=0.0)
            while worker.is_alive():
                worker.join(timeout=0.3)
                tally = sending.counts(engine, [edition_id])[edition_id]
                done = sum(tally.get(s, 0) for s in ("sent", "failed", "cancelled"))
                elapsed = max(time.monotonic() - started, 1e-6)
                label = f"sent {tally.get('sent', 0)} failed {tally.get('failed', 0)}"
                progress.update(
                    task,
                    total=sum(tally.values()),
                    completed=done,
                    rate=sender.tally.sent / elapsed,
                    description=label,
                )
    finally:
        restore_signals(previous)
    if outcome:
        raise outcome[0]
    tally = sending.counts(engine, [edition_id])[edition_id]
    owed = sum(tally.get(s, 0) for s in ("pending", "sending", "retry"))
    print(
        f"sent {tally.get('sent', 0)}, failed {tally.get('failed', 0)}, "
        f"cancelled {tally.get('cancelled', 0)}, still owed {owed}"
        + (" (retried later by `publisher deliver` or the daemon)" if owed else "")
    )
    if stop.is_set():
        print("stopped: what was not sent is still owed and goes out on the next run")
    elif owed and sender.tally.deferred:
        raise OperationalError(
            "the SMTP server was unavailable (the log says why; check PUBLISHER_SMTP_URL): "
            f"{owed} message(s) still owed go out on the next run"
        )


@digest_app.command("stats")
def digest_stats(
    edition_id: Annotated[int, typer.Argument(metavar="ID", min=1, max=2**31 - 1)],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """The figures of edition ID: recipients, sent, failed (with the servers' replies),
    bounced, cancelled, unsubscribed through its links, clicks per link, and its progress."""
    with context() as (settings, engine):
        now = utc_now()
        figures = stats.figures(engine, settings, edition_id, now=now)
        progress = stats.progress(engine, edition_id, now=now)
    if as_json:
        print(json.dumps({**figures.as_json(), "progress": progress.as_json()}, indent=2))
        return
    for line in stats_lines(figures, progress):
        print(line)


def stats_lines(figures: stats.Figures, progress: stats.Progress) -> list[str]:
    lines = [
        f"edition {figures.edition_id} ({figures.digest} {figures.period_key}): {figures.status}",
        f"  subject       {figures.subject}",
        f"  recipients    {figures.recipients}",
        f"  sent          {figures.sent}",
        f"  failed        {figures.failed}",
        f"  bounced       {figures.bounced}",
        f"  complained    {figures.complained}",
        f"  cancelled     {figures.cancelled}",
        f"  unsubscribed  {figures.unsubscribed} (through this edition's links, within "
        f"{stats.UNSUBSCRIBE_DAYS} days)",
    ]
    if figures.owed or figures.retrying:
        eta = "unknown" if progress.eta_seconds is None else f"{progress.eta_seconds:.0f} s"
        lines.append(
            f"  owed          {figures.owed} (retrying {figures.retrying}), "
            f"{progress.rate:.1f}/s, time left {eta}"
        )
    if figures.failures:
        lines.append("  failures:")
        lines += [f"    {f.count:>6}  {f.reply}" for f in figures.failures]
    if figures.tracking == "off" and not figures.links:
        lines.append("  clicks        not tracked (PUBLISHER_TRACK_CLICKS=off)")
    elif figures.links:
        lines.append(f"  clicks per link (readers, each once; tracking {figures.tracking}):")
        lines += [f"    {link.readers:>6}  {link.url}" for link in figures.links]
    return lines
