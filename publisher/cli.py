"""The ``publisher`` command: parse, call one use case, print. Errors are one line, no traceback.

Exit codes (CONTRACT.md): 0 success, 1 operational failure, 2 bad input or usage.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pythonjsonlogger.json import JsonFormatter
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy import Engine
from sqlalchemy import exc as sa_exc

from publisher import community, delivery, editions, publish, store, syndication
from publisher.errors import PublisherError
from publisher.mailer import read_hard_bounces
from publisher.scheduler import Timekeeper
from publisher.schedules import load_timetable
from publisher.settings import Settings, load_settings, with_secret_key
from publisher.templating import make_environment
from publisher.web import create_app, serve

app = typer.Typer(
    help="Newsflash Publisher: feeds and the Join The Community digest.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
articles_app = typer.Typer(
    help="Put articles in, list, correct and unpublish them.", no_args_is_help=True
)
app.add_typer(articles_app, name="articles")
feeds_app = typer.Typer(help="Build the site's feeds as static files.", no_args_is_help=True)
app.add_typer(feeds_app, name="feeds")
digest_app = typer.Typer(help="The Join The Community digest.", no_args_is_help=True)
app.add_typer(digest_app, name="digest")
subscribers_app = typer.Typer(help="Community members.", no_args_is_help=True)
app.add_typer(subscribers_app, name="subscribers")
bounces_app = typer.Typer(help="Bounce reports from the mail system.", no_args_is_help=True)
app.add_typer(bounces_app, name="bounces")
reports_app = typer.Typer(help='Readers\' "Spot an error?" reports.', no_args_is_help=True)
app.add_typer(reports_app, name="reports")

T = TypeVar("T")


def _now() -> datetime:
    return datetime.now(UTC)


def _err(line: str) -> None:
    print(line, file=sys.stderr)


@contextmanager
def _context() -> Iterator[tuple[Settings, Engine]]:
    """Settings, and an engine on a database brought up to date."""
    settings = with_secret_key(load_settings())
    engine = store.make_engine(settings.database_url)
    try:
        store.migrate(engine)
        yield settings, engine
    finally:
        engine.dispose()


def _logging(settings: Settings) -> None:
    """Log lines on stderr: readable text, or one JSON object a line for log collectors."""
    handler = logging.StreamHandler()
    fields = "%(asctime)s %(levelname)s %(name)s %(message)s"
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter(fields, rename_fields={"asctime": "time"}))
    else:
        handler.setFormatter(logging.Formatter(fields.replace(" %(name)s", " [%(name)s]")))
    logging.basicConfig(level=settings.log_level, handlers=[handler], force=True)


def _ready() -> tuple[Settings, Engine, Callable[[], None]]:
    settings = with_secret_key(load_settings())
    _logging(settings)
    engine = store.make_engine(settings.database_url)
    store.migrate(engine)
    return settings, engine, engine.dispose


@app.command()
def init() -> None:
    """Create or migrate the database, the secret key and a starter schedules.yaml."""
    with _context() as (settings, engine):
        for line in publish.initialise(settings, engine):
            print(line)
        key = "from PUBLISHER_SECRET_KEY" if load_settings().secret_key else "in var/secret.key"
        print(f"secret key {key}")


@app.command()
def run(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    demo: Annotated[bool, typer.Option(help="Load the sample articles if there are none.")] = False,
    web: Annotated[bool, typer.Option(help="Serve HTTP (--no-web: no web server).")] = True,
    scheduler: Annotated[bool, typer.Option(help="Run the digest timetable.")] = True,
) -> None:
    """The daemon: web server, digest timetable and delivery workers in one process.
    SIGTERM or Ctrl-C stops it cleanly (exit 0); SIGHUP re-reads schedules.yaml."""
    settings, engine, close = _ready()
    for line in publish.initialise(settings, engine)[1:]:  # a starter timetable if none
        print(line)
    timetable = load_timetable(settings.schedules)
    stop = threading.Event()
    keeper: Timekeeper | None = None
    env = make_environment(zone=settings.zone)
    sender = delivery.Sender(
        engine,
        settings,
        clock=_now,
        # the timetable SIGHUP last loaded, for the digests' titles
        timetable=lambda: keeper.timetable if keeper else timetable,
        env=env,
    )
    workers = threading.Thread(target=sender.run, args=(stop,), name="delivery")
    feeds = syndication.FeedCache(engine, syndication.FeedBuilder(settings, env), _now)
    try:
        if demo:
            report = publish.load_samples(engine, settings, now=_now())
            if report is not None:
                print(f"loaded {report.created} sample articles")
        if scheduler:
            keeper = Timekeeper(engine, settings, timetable, env, clock=_now)
            for line in keeper.start(feeds=feeds):
                print(line, flush=True)
            signal.signal(signal.SIGHUP, lambda *_: keeper and keeper.reload(settings.schedules))
        workers.start()
        if web:
            print(f"serving {settings.site_title} on http://{host}:{port}", flush=True)
            app_ = create_app(
                settings,
                engine,
                timetable=timetable,
                status=keeper.status if keeper else None,
                counters=sender.tally.snapshot,
                feeds=feeds,
                feed_upkeep_every=None if keeper else 10.0,  # the timetable keeps them fresh
            )
            serve(app_, host=host, port=port)
        else:
            previous = _stop_on_signals(stop)
            try:
                while not stop.wait(0.5):
                    pass
            finally:
                _restore_signals(previous)
    finally:
        stop.set()
        if keeper is not None:
            keeper.shutdown()
        if workers.is_alive():
            workers.join(timeout=15)
        close()


@articles_app.command("add")
def articles_add(
    paths: Annotated[list[Path], typer.Argument(help="Article files or folders.")],
) -> None:
    """Import .md, .json and .jsonl articles; all or nothing per call."""
    with _context() as (settings, engine):
        report = publish.import_articles(engine, settings, paths, now=_now())
    for action, slug in report.changes:
        print(f"{action} {slug}")
    listed = len(report.changes)
    if report.created + report.updated > listed:
        print(f"... and {report.created + report.updated - listed} more")
    print(
        f"{report.files} file(s): {report.created} created, {report.updated} updated, "
        f"{report.unchanged} unchanged"
    )


@articles_app.command("list")
def articles_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
) -> None:
    """Every article, scheduled and unpublished ones included, newest first."""
    with _context() as (_settings, engine):
        views = publish.list_articles(engine)
    now = _now()
    if as_json:
        json.dump([_article_json(v, now) for v in views], sys.stdout, ensure_ascii=False, indent=2)
        print()
        return
    for view in views:
        a = view.article
        print(f"{a.published_at:%Y-%m-%d %H:%M}  {view.status(now):<11}  {a.slug}  {a.title}")


def _article_json(view: store.ArticleView, now: datetime) -> dict[str, Any]:
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


@articles_app.command("correct")
def articles_correct(
    slug: str,
    note: Annotated[str, typer.Option("--note", help="What was corrected, for readers.")],
) -> None:
    """Record a correction; the article's updated time moves."""
    with _context() as (_settings, engine):
        publish.correct_article(engine, slug, note, now=_now())
    print(f"corrected {slug}")


@articles_app.command("unpublish")
def articles_unpublish(slug: str) -> None:
    """Take an article off the site, the feeds and future digests."""
    with _context() as (_settings, engine):
        changed = publish.set_article_status(engine, slug, "unpublished", now=_now())
    print(f"unpublished {slug}" if changed else f"{slug} was already unpublished")


@articles_app.command("publish")
def articles_publish(slug: str) -> None:
    """Put an unpublished article back."""
    with _context() as (_settings, engine):
        changed = publish.set_article_status(engine, slug, "published", now=_now())
    print(f"published {slug}" if changed else f"{slug} was already published")


@app.command()
def check() -> None:
    """Validate settings and schedules.yaml; print each digest's next three send times."""
    settings = load_settings()
    timetable = load_timetable(settings.schedules)
    engine = store.make_engine(settings.database_url)
    store.ping(engine)
    print(f"settings: ok; database {engine.url.render_as_string(hide_password=True)} answers")
    engine.dispose()
    print(f"{settings.schedules}: ok, {len(timetable.digests)} digest(s)")
    now = _now()
    for digest in timetable.digests.values():
        times = ", ".join(t.isoformat() for t in digest.next_times(now, 3))
        print(f"  {digest.name}: {digest.cron} in {digest.zone.key}; next: {times}")


@digest_app.command("preview")
def digest_preview(
    name: str,
    out: Annotated[Path | None, typer.Option("--out", help="Write the HTML here.")] = None,
) -> None:
    """Render the next edition of NAME as it would go out now, without recording it."""
    with _context() as (settings, engine):
        timetable = load_timetable(settings.schedules)
        rendered = editions.preview(
            engine,
            settings,
            timetable,
            make_environment(zone=settings.zone),
            timetable.digest(name),
            now=_now(),
        )
    if out is None:
        print(rendered.text)
        return
    out.write_text(rendered.html, encoding="utf-8")
    size = len(rendered.html.encode())
    print(f"{rendered.subject}: {rendered.stories} stories, {size:,} bytes of HTML in {out}")


@digest_app.command("list")
def digest_list() -> None:
    """Editions, newest first, with their status, story counts and delivery counts."""
    with _context() as (_settings, engine):
        rows = editions.list_editions(engine)
        tallies = delivery.counts(engine, [e.id or 0 for e in rows])
    if not rows:
        print("no editions yet")
    for edition in rows:
        tally = tallies.get(edition.id or 0, {})
        owed = sum(tally.get(s, 0) for s in ("pending", "sending", "retry"))
        print(
            f"{edition.id:>5}  {edition.digest:<12} {edition.period_key}  {edition.status:<8} "
            f"{edition.article_count:>3} stories  sent {tally.get('sent', 0)}  "
            f"failed {tally.get('failed', 0)}  owed {owed}  {edition.subject}"
        )


@digest_app.command("send")
def digest_send(
    name: str,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would happen.")] = False,
) -> None:
    """Create this period's edition of NAME (once) and deliver it, with a progress bar."""
    with _context() as (settings, engine):
        timetable = load_timetable(settings.schedules)
        digest = timetable.digest(name)
        now = _now()
        if dry_run:
            print(editions.describe_send(engine, settings, digest, now=now))
            return
        env = make_environment(zone=settings.zone)
        plan = delivery.prepare_send(engine, settings, timetable, env, digest, now=now)
        edition = plan.edition
        print(
            f"edition {edition.id} ({edition.period_key}): {edition.status}, "
            f"{edition.article_count} stories{'' if plan.created else ' (already made)'}"
        )
        if edition.status == "skipped":
            print("nothing new to send: the edition is recorded as skipped")
            return
        _deliver_with_progress(engine, settings, edition.id or 0)


def _deliver_with_progress(engine: Engine, settings: Settings, edition_id: int) -> None:
    stop = threading.Event()
    sender = delivery.Sender(engine, settings, clock=_now)
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            sender.run(stop, once=True)
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=run, name="sender")
    previous = _stop_on_signals(stop)
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
                tally = delivery.counts(engine, [edition_id])[edition_id]
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
        _restore_signals(previous)
    if outcome:
        raise outcome[0]
    tally = delivery.counts(engine, [edition_id])[edition_id]
    owed = sum(tally.get(s, 0) for s in ("pending", "sending", "retry"))
    print(
        f"sent {tally.get('sent', 0)}, failed {tally.get('failed', 0)}, "
        f"cancelled {tally.get('cancelled', 0)}, still owed {owed}"
        + (" (retried later by `publisher deliver` or the daemon)" if owed else "")
    )
    if stop.is_set():
        print("stopped: what was not sent is still owed and goes out on the next run")


def _stop_on_signals(stop: threading.Event) -> dict[int, Any]:
    def handler(signum: int, _frame: Any) -> None:
        stop.set()

    return {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}


def _restore_signals(previous: dict[int, Any]) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)


@app.command()
def deliver(
    once: Annotated[bool, typer.Option("--once", help="Exit when nothing is due.")] = False,
) -> None:
    """Delivery workers only (for extra machines): send what is owed until stopped."""
    with _context() as (settings, engine):
        stop = threading.Event()
        previous = _stop_on_signals(stop)
        try:
            tally = delivery.Sender(engine, settings, clock=_now).run(stop, once=once)
        finally:
            _restore_signals(previous)
    print(
        f"sent {tally.sent}, failed {tally.failed}, retried {tally.retried}, "
        f"bounced {tally.bounced}, cancelled {tally.cancelled}"
    )


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
) -> None:
    """Add a subscriber (to every digest unless --digest is given; every category's stories
    unless --category is given)."""
    with _context() as (settings, engine):
        timetable = load_timetable(settings.schedules)
        view, created = community.add_subscriber(
            engine,
            email,
            name=name,
            confirmed=confirmed,
            digests=digest or [],
            known_digests=list(timetable.digests),
            categories=category,
            now=_now(),
        )
    row = view.subscriber
    print(
        f"{'added' if created else 'updated'} {row.email} ({row.status}; "
        f"digests: {' '.join(view.digests)}; categories: {' '.join(view.categories) or 'all'})"
    )


@subscribers_app.command("import")
def subscribers_import(path: Path) -> None:
    """Import a CSV (email, name, status, digests, created_at, confirmed_at, categories);
    all or nothing, every bad row reported with its line."""
    with _context() as (settings, engine):
        timetable = load_timetable(settings.schedules)
        done = community.import_subscribers(
            engine, path, known_digests=list(timetable.digests), zone=settings.zone, now=_now()
        )
    print(f"{path}: {done.created} added, {done.updated} updated")


@subscribers_app.command("export")
def subscribers_export(
    path: Annotated[Path | None, typer.Argument(help="CSV file (default: stdout).")] = None,
) -> None:
    """Write every subscriber as CSV (the columns `subscribers import` reads)."""
    with _context() as (_settings, engine):
        if path is None:
            community.export_subscribers(engine, sys.stdout)
            return
        with path.open("w", encoding="utf-8", newline="") as out:
            count = community.export_subscribers(engine, out)
    print(f"wrote {count} subscriber(s) to {path}")


@subscribers_app.command("list")
def subscribers_list() -> None:
    """Every subscriber with status, digests and categories (when they chose some)."""
    with _context() as (_settings, engine):
        views = community.list_subscribers(engine)
    for view in views:
        row = view.subscriber
        topics = f"  [{' '.join(view.categories)}]" if view.categories else ""
        print(f"{row.email:<40} {row.status:<13} {' '.join(view.digests)}{topics}")
    print(f"{len(views)} subscriber(s)")


@subscribers_app.command("remove")
def subscribers_remove(email: str) -> None:
    """Delete a subscriber and their delivery records."""
    with _context() as (_settings, engine):
        community.remove_subscriber(engine, email)
    print(f"removed {email.strip().lower()}")


@bounces_app.command("process")
def bounces_process(path: Path) -> None:
    """Read delivery status notifications (RFC 3464) from a Maildir or mbox and suppress
    every address that bounced permanently."""
    addresses, read = read_hard_bounces(path)
    with _context() as (_settings, engine):
        changed = delivery.suppress_bounces(engine, addresses, now=_now())
    print(
        f"{read} message(s) read: {len(addresses)} hard bounce(s), {changed} subscriber(s) "
        "suppressed"
    )


@reports_app.command("list")
def reports_list(
    all_: Annotated[bool, typer.Option("--all", help="Resolved ones too.")] = False,
) -> None:
    """Error reports from readers, oldest first (open ones unless --all)."""
    with _context() as (settings, engine):
        rows = community.list_reports(engine, include_resolved=all_)
    for row in rows:
        when = row.created_at.astimezone(settings.zone)
        contact = f" ({row.email})" if row.email else ""
        print(f"#{row.id} {when:%Y-%m-%d %H:%M} {row.status:<8} {row.slug}{contact}")
        print("    " + row.message.replace("\n", "\n    "))
    print(f"{len(rows)} report(s)")


@reports_app.command("resolve")
def reports_resolve(report_id: int) -> None:
    """Mark a report resolved."""
    with _context() as (_settings, engine):
        changed = community.resolve_report(engine, report_id, now=_now())
    print(f"resolved #{report_id}" if changed else f"#{report_id} was already resolved")


@feeds_app.command("build")
def feeds_build(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the feeds into.")],
) -> None:
    """Write every feed (with .gz siblings) under DIR, mirroring the URL paths."""
    with _context() as (settings, engine):
        written = syndication.export(engine, syndication.FeedBuilder(settings), out, now=_now())
    print(f"wrote {len(written)} feeds (and their .gz siblings) to {out}")


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the app, turning every failure into one clean line."""
    try:
        app(args=argv, standalone_mode=True)
    except PublisherError as exc:
        for line in exc.lines():
            _err(f"Error: {line}" if line == exc.message else line)
        sys.exit(exc.exit_code)
    except sa_exc.SQLAlchemyError as exc:
        reason = str(exc.orig if isinstance(exc, sa_exc.DBAPIError) else exc).splitlines()[0]
        _err(f"Error: database: {reason}")
        sys.exit(1)
    except OSError as exc:
        _err(f"Error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "))
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
