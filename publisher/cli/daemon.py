"""The daemon and its kin: init, run (web, timetable and workers: ``publisher.daemon``),
check, deliver."""

from __future__ import annotations

from typing import Annotated

import typer

from publisher import store
from publisher.articles import publish
from publisher.cli.common import actor, app, configure_logging, context, utc_now
from publisher.delivery import worker
from publisher.schedules import format_duration, load_timetable
from publisher.settings import load_settings, site_url_of, with_secret_key

__all__ = ["check", "deliver", "echo", "init", "run"]


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
    settings = with_secret_key(load_settings())
    configure_logging(settings)
    # The web app, the newsroom and the scheduler load here, not for every other command
    # (half a second of each `publisher ...` command's start).
    from publisher.daemon import process

    options = process.Options(
        actor=actor(),
        host=host,
        port=port,
        demo=demo,
        web=web,
        scheduler=scheduler,
        processes=processes,
    )
    process.run(settings, options, say=echo)


def echo(line: str) -> None:
    """Print one of the daemon's lines at once (its operator may be watching a pipe)."""
    print(line, flush=True)


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
    print(site_url_of(settings).line())
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
