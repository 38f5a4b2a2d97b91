"""The daemon process (`publisher run`), wired: the database, the timetable's keeper, the feed
cache, the sending threads and processes, the outbox worker, the web app and its server, and
the signals. Each step is one method of :class:`Daemon`; :func:`run` takes them in order and
stops everything on the way out, whatever happened."""

from __future__ import annotations

import signal
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType

from fastapi import FastAPI
from sqlalchemy import Engine

from publisher import store
from publisher.articles import publish
from publisher.daemon.scheduler import Timekeeper
from publisher.delivery import outbox, sending, worker
from publisher.newsroom import staff
from publisher.schedules import Timetable, load_timetable
from publisher.settings import Settings
from publisher.syndication import feeds
from publisher.templating import make_environment
from publisher.tokens import Signer
from publisher.web import create_app, serve
from publisher.web.application import DaemonHooks

__all__ = ["Daemon", "Options", "Say", "first_admin", "open_database", "run"]

# Where the daemon's lines for its operator go (the command line prints them).
Say = Callable[[str], None]
JOIN_TIMEOUT = 15.0  # seconds a sending thread gets to finish what it holds


@dataclass(frozen=True)
class Options:
    """`publisher run`'s options, and who demo articles are recorded as."""

    actor: str  # who the sample articles are recorded as, in the audit trail
    host: str = "127.0.0.1"
    port: int = 8000
    demo: bool = False  # load the sample articles if there are none
    web: bool = True  # serve HTTP
    scheduler: bool = True  # run the digest timetable
    processes: int | None = None  # sending processes (None: PUBLISHER_SEND_PROCESSES)


def run(settings: Settings, options: Options, say: Say) -> None:
    """The daemon: web server, digest timetable and delivery workers in one process, until
    SIGTERM or Ctrl-C (then it returns); SIGHUP re-reads schedules.yaml."""
    daemon = Daemon(settings, options, say)
    try:
        daemon.start()
        daemon.serve()
    finally:
        daemon.stop()


def open_database(settings: Settings) -> Engine:
    """An engine on the database, brought up to date, with a connection for each sender."""
    engine = store.make_engine(settings.database_url, held=settings.send_concurrency)
    store.migrate(engine)
    return engine


class Daemon:
    """One `publisher run`. Built: the database is up to date, a starter timetable exists,
    and the threads are made but not started; :meth:`start`, :meth:`serve` (which returns
    on SIGTERM or Ctrl-C) and :meth:`stop`, in that order, do the rest."""

    def __init__(self, settings: Settings, options: Options, say: Say) -> None:
        self.settings, self.options, self.say = settings, options, say
        self.engine = open_database(settings)
        for line in publish.initialise(settings, self.engine)[1:]:  # a starter timetable
            say(line)
        self.timetable = load_timetable(settings.schedules)
        self.stopping = threading.Event()
        self.keeper: Timekeeper | None = None
        self.children: list[subprocess.Popen[str]] = []
        self.env = make_environment(zone=settings.zone)
        self.sender = sending.Sender(
            self.engine,
            settings,
            clock=worker.utc_now,
            timetable=self.current_timetable,
            env=self.env,
        )
        self.workers = threading.Thread(
            target=self.sender.run, args=(self.stopping,), name="delivery"
        )
        self.mail = threading.Thread(
            target=outbox.work,
            args=(self.engine, settings, self.stopping),
            kwargs={"clock": worker.utc_now},
            name="outbox",
        )
        self.feeds = feeds.FeedCache(
            self.engine,
            feeds.FeedBuilder(settings, self.env),
            worker.utc_now,
            export_dir=settings.feeds_export_dir,
        )

    def current_timetable(self) -> Timetable:
        """The timetable SIGHUP last loaded (the digests' titles for the sender)."""
        return self.keeper.timetable if self.keeper else self.timetable

    def start(self) -> None:
        """The sample articles (with ``demo``), the timetable's keeper (with ``scheduler``),
        the sending threads, the outbox worker and the extra sending processes."""
        if self.options.demo:
            self.load_demo()
        if self.options.scheduler:
            self.start_timekeeper()
        self.workers.start()
        self.mail.start()  # confirmations and access links queued by the web side
        extra = (self.options.processes or self.settings.send_processes) - 1
        self.children = worker.spawn(extra, once=False)

    def load_demo(self) -> None:
        """The sample articles, if the database has none."""
        report = publish.load_samples(
            self.engine, self.settings, now=worker.utc_now(), actor=self.options.actor
        )
        if report is not None:
            self.say(f"loaded {report.created} sample articles")

    def start_timekeeper(self) -> None:
        """The digests', sources' and feeds' clock, catching up first; SIGHUP reloads it."""
        self.keeper = Timekeeper(
            self.engine, self.settings, self.timetable, self.env, clock=worker.utc_now
        )
        for line in self.keeper.start(feeds=self.feeds):
            self.say(line)
        signal.signal(signal.SIGHUP, self.reload)

    def reload(self, _signum: int, _frame: FrameType | None) -> None:
        """SIGHUP: re-read schedules.yaml (a broken one keeps the timetable running)."""
        if self.keeper is not None:
            self.keeper.reload(self.settings.schedules)

    def serve(self) -> None:
        """Serve the web app (with ``web``), else wait; either until SIGTERM or Ctrl-C."""
        if self.options.web:
            self.serve_web()
        else:
            self.wait_for_signal()

    def serve_web(self) -> None:
        """Say where it listens, and the newsroom's first-run link if nobody can sign in."""
        host, port = self.options.host, self.options.port
        self.say(f"serving {self.settings.site_title} on http://{host}:{port}")
        local = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        first_admin(self.engine, self.settings, served=f"http://{local}:{port}", say=self.say)
        serve(self.web_app(), self.settings, host=host, port=port)

    def web_app(self) -> FastAPI:
        """The web app, told the daemon's state and sharing its feed cache."""
        keeper = self.keeper
        hooks = DaemonHooks(
            status=keeper.status if keeper else None,
            counters=self.sender.tally.snapshot,
            mail_status=self.sender.mail_status,
        )
        return create_app(
            self.settings,
            self.engine,
            timetable=self.timetable,
            daemon=hooks,
            feeds=self.feeds,
            feed_upkeep_every=None if keeper else 10.0,  # the timetable keeps them fresh
            send_mail_now=True,  # confirmations go out at once, apart from the answer
        )

    def wait_for_signal(self) -> None:
        """No web server: wait here until SIGTERM or Ctrl-C."""
        previous = worker.stop_on_signals(self.stopping)
        try:
            while not self.stopping.wait(0.5):
                pass
        finally:
            worker.restore_signals(previous)

    def stop(self) -> None:
        """Stop everything started, the sending threads and processes given time to finish
        what they hold; then close the database."""
        self.stopping.set()
        if self.keeper is not None:
            self.keeper.shutdown()
        if self.workers.is_alive():
            self.workers.join(timeout=JOIN_TIMEOUT)
        if self.mail.is_alive():
            self.mail.join(timeout=JOIN_TIMEOUT)
        worker.finish(self.children, stop=True)
        self.engine.dispose()


def first_admin(
    engine: Engine, settings: Settings, *, served: str | None = None, say: Say = print
) -> None:
    """With nobody able to sign in to the newsroom yet, say a one-time link that sets up
    its first admin (issue 12: a fresh clone needs no extra command). ``served``: where this
    daemon listens, used when PUBLISHER_SITE_URL is not set (``run --port 8080``, say)."""
    site = settings.site_url
    if served is not None and "site_url" not in settings.model_fields_set:
        site = served
    link = staff.first_run_link(engine, site, Signer.of(settings.secret_key), now=worker.utc_now())
    if link is None:
        return
    say(
        "\nNobody can sign in to the newsroom yet. To set up its first admin, open this\n"
        "one-time link within an hour (it works once; restart for a new one):\n"
        f"\n    {link}\n"
    )
