"""The daemon process (`publisher run`), wired: the database, the timetable's keeper, the feed
cache, the sending threads and processes, the outbox worker, the web app and its server, and
the signals. Each step is one method of :class:`Daemon`; :func:`run` takes them in order and
stops everything on the way out, whatever happened."""

from __future__ import annotations

import errno
import signal
import socket
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
from publisher.errors import OperationalError
from publisher.media import examples
from publisher.newsroom import staff
from publisher.schedules import Timetable, load_timetable
from publisher.settings import (
    Settings,
    SiteUrl,
    record_served_url,
    served_url,
    site_url_of,
    with_site_url,
)
from publisher.syndication import feeds
from publisher.templating import make_environment
from publisher.tokens import Signer
from publisher.web import create_app, serve
from publisher.web.application import DaemonHooks

__all__ = [
    "Daemon",
    "Options",
    "Say",
    "check_port",
    "first_admin",
    "open_database",
    "run",
    "site_url",
]

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
    if options.web:
        check_port(options.host, options.port)  # before anything starts or is said
    site = site_url(settings, options)
    if options.web and site.source != "PUBLISHER_SITE_URL":
        record_served_url(settings, site.url)
    daemon = Daemon(with_site_url(settings, site), options, say, site=site)
    try:
        daemon.start()
        daemon.serve()
    finally:
        daemon.stop()


def site_url(settings: Settings, options: Options) -> SiteUrl:
    """The URL every link is made with: PUBLISHER_SITE_URL, else where this daemon listens
    (issue 25: a reader signing up on :18765 gets a link to :18765), else (no web server)
    where `publisher run` last listened."""
    site = site_url_of(settings)
    if options.web and site.source != "PUBLISHER_SITE_URL":
        return SiteUrl(served_url(options.host, options.port), "where this daemon listens")
    return site


def check_port(host: str, port: int) -> None:
    """OperationalError, saying what to look for, when ``host``:``port`` cannot be listened on."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise OperationalError(
                    f"port {port} is in use: another `publisher run`? see "
                    f"`ss -ltnp 'sport = :{port}'`; or choose another with --port"
                ) from None
            raise OperationalError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def open_database(settings: Settings) -> Engine:
    """An engine on the database, brought up to date, with a connection for each sender."""
    engine = store.make_engine(settings.database_url, held=settings.send_concurrency)
    store.migrate(engine)
    return engine


class Daemon:
    """One `publisher run`. Built: the database is up to date, a starter timetable exists,
    and the threads are made but not started; :meth:`start`, :meth:`serve` (which returns
    on SIGTERM or Ctrl-C) and :meth:`stop`, in that order, do the rest."""

    def __init__(
        self, settings: Settings, options: Options, say: Say, *, site: SiteUrl | None = None
    ) -> None:
        self.settings, self.options, self.say = settings, options, say
        self.site = site or site_url_of(settings)  # the links' URL, and where it came from
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
            # Their pictures, the site's own (examples/pictures/), kept like uploads.
            examples.keep_examples(
                self.engine, self.settings, now=worker.utc_now(), actor=self.options.actor
            )

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
        self.say(self.site.line())
        first_admin(self.engine, self.settings, say=self.say)
        serve(self.web_app(), self.settings, host=host, port=port)

    def web_app(self) -> FastAPI:
        """The web app, told the daemon's state and sharing its feed cache."""
        keeper = self.keeper
        hooks = DaemonHooks(
            status=keeper.status if keeper else None,
            counters=self.sender.tally.snapshot,
            mail_status=self.sender.mail_status,
            timetable=self.current_timetable,
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


def first_admin(engine: Engine, settings: Settings, *, say: Say = print) -> None:
    """With nobody able to sign in to the newsroom yet, say a one-time link that sets up
    its first admin (issue 12: a fresh clone needs no extra command), on the site URL."""
    site = settings.site_url
    link = staff.first_run_link(engine, site, Signer.of(settings.secret_key), now=worker.utc_now())
    if link is None:
        return
    say(
        "\nNobody can sign in to the newsroom yet. To set up its first admin, open this\n"
        "one-time link within an hour (it works once; restart for a new one):\n"
        f"\n    {link}\n"
    )
