"""The daemon and its kin: init, run (web, timetable and workers), check, deliver."""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import typer
from sqlalchemy import Engine

from publisher import store
from publisher.articles import publish
from publisher.cli.common import (
    actor,
    app,
    context,
    ready,
    restore_signals,
    stop_on_signals,
    utc_now,
)
from publisher.daemon.scheduler import Timekeeper
from publisher.delivery import outbox, sending, worker
from publisher.newsroom import staff
from publisher.schedules import format_duration, load_timetable
from publisher.settings import Settings, load_settings
from publisher.syndication import feeds
from publisher.templating import make_environment
from publisher.tokens import Signer
from publisher.web import create_app, serve


@app.command()
def init() -> None:
    """Create or migrate the database, the secret key and a starter schedules.yaml."""
    with context() as (settings, engine):
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
    processes: Annotated[
        int | None,
        typer.Option(min=1, max=64, help="Sending processes (PUBLISHER_SEND_PROCESSES)."),
    ] = None,
) -> None:
    """The daemon: web server, digest timetable and delivery workers in one process.
    SIGTERM or Ctrl-C stops it cleanly (exit 0); SIGHUP re-reads schedules.yaml."""
    settings, engine, close = ready()
    for line in publish.initialise(settings, engine)[1:]:  # a starter timetable if none
        print(line)
    timetable = load_timetable(settings.schedules)
    stop = threading.Event()
    keeper: Timekeeper | None = None
    env = make_environment(zone=settings.zone)
    sender = sending.Sender(
        engine,
        settings,
        clock=utc_now,
        # the timetable SIGHUP last loaded, for the digests' titles
        timetable=lambda: keeper.timetable if keeper else timetable,
        env=env,
    )
    workers = threading.Thread(target=sender.run, args=(stop,), name="delivery")
    mail = threading.Thread(
        target=outbox.work, args=(engine, settings, stop), kwargs={"clock": utc_now}, name="outbox"
    )
    feed_cache = feeds.FeedCache(
        engine,
        feeds.FeedBuilder(settings, env),
        utc_now,
        export_dir=settings.feeds_export_dir,
    )
    children = []
    try:
        if demo:
            report = publish.load_samples(engine, settings, now=utc_now(), actor=actor())
            if report is not None:
                print(f"loaded {report.created} sample articles")
        if scheduler:
            keeper = Timekeeper(engine, settings, timetable, env, clock=utc_now)
            for line in keeper.start(feeds=feed_cache):
                print(line, flush=True)
            signal.signal(signal.SIGHUP, lambda *_: keeper and keeper.reload(settings.schedules))
        workers.start()
        mail.start()  # confirmations and access links queued by the web side
        children = worker.spawn((processes or settings.send_processes) - 1, once=False)
        if web:
            print(f"serving {settings.site_title} on http://{host}:{port}", flush=True)
            local = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
            first_admin(engine, settings, served=f"http://{local}:{port}")
            app_ = create_app(
                settings,
                engine,
                timetable=timetable,
                status=keeper.status if keeper else None,
                counters=sender.tally.snapshot,
                mail_status=sender.mail_status,
                feeds=feed_cache,
                feed_upkeep_every=None if keeper else 10.0,  # the timetable keeps them fresh
                send_mail_now=True,  # confirmations go out at once, apart from the answer
            )
            serve(app_, settings, host=host, port=port)
        else:
            previous = stop_on_signals(stop)
            try:
                while not stop.wait(0.5):
                    pass
            finally:
                restore_signals(previous)
    finally:
        stop.set()
        if keeper is not None:
            keeper.shutdown()
        if workers.is_alive():
            workers.join(timeout=15)
        if mail.is_alive():
            mail.join(timeout=15)
        worker.finish(children, stop=True)
        close()


def first_admin(engine: Engine, settings: Settings, *, served: str | None = None) -> None:
    """With nobody able to sign in to the newsroom yet, print a one-time link that sets up
    its first admin (issue 12: a fresh clone needs no extra command). ``served``: where this
    daemon listens, used when PUBLISHER_SITE_URL is not set (``run --port 8080``, say)."""
    site = settings.site_url
    if served is not None and "site_url" not in settings.model_fields_set:
        site = served
    link = staff.first_run_link(engine, site, Signer.of(settings.secret_key), now=utc_now())
    if link is None:
        return
    print(
        "\nNobody can sign in to the newsroom yet. To set up its first admin, open this\n"
        "one-time link within an hour (it works once; restart for a new one):\n"
        f"\n    {link}\n",
        flush=True,
    )


@app.command()
def check() -> None:
    """Validate settings and schedules.yaml; print each digest's next three send times and
    each source to pull from."""
    settings = load_settings()
    timetable = load_timetable(settings.schedules)
    engine = store.make_engine(settings.database_url)
    store.ping(engine)
    print(f"settings: ok; database {engine.url.render_as_string(hide_password=True)} answers")
    engine.dispose()
    print(f"{settings.schedules}: ok, {len(timetable.digests)} digest(s)")
    now = utc_now()
    for digest in timetable.digests.values():
        times = ", ".join(t.isoformat() for t in digest.next_times(now, 3))
        print(f"  {digest.name}: {digest.cron} in {digest.zone.key}; next: {times}")
    if timetable.sources:
        print(f"{len(timetable.sources)} source(s)")
    for spec in timetable.sources.values():
        filed = f", filed under {', '.join(spec.categories)}" if spec.categories else ""
        every = format_duration(spec.every)
        print(f"  {spec.key}: {spec.url} every {every}, to the {spec.mode}{filed}")


@app.command()
def deliver(
    once: Annotated[bool, typer.Option("--once", help="Exit when nothing is due.")] = False,
    processes: Annotated[
        int | None,
        typer.Option(min=1, max=64, help="Sending processes (PUBLISHER_SEND_PROCESSES)."),
    ] = None,
    parent: Annotated[int | None, typer.Option(hidden=True)] = None,
) -> None:
    """Delivery workers only (for extra machines): send what is owed (digests, and the
    confirmation and access mails the web side queued) until stopped."""
    worker.deliver(worker.Request(once=once, processes=processes, parent=parent))
