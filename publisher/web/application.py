"""The one application object: what every page, form and API call needs (the settings, the
database, the clock, the templates, the signer, the timetable, the feed cache, the daemon's
figures, and the reader side's courier, form limits and click tracker), built once by
``create_app`` and kept on the app's state. A handler reaches it with
``Depends(application)``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

from fastapi import Request
from jinja2 import Environment
from sqlalchemy import Engine

from publisher.content import slugify
from publisher.editions.clicks import Tracker
from publisher.schedules import Timetable, load_timetable
from publisher.sealing import Sealer
from publisher.settings import Settings
from publisher.syndication.feeds import FeedBuilder, FeedCache
from publisher.templating import make_environment
from publisher.tokens import Signer
from publisher.web.courier import Courier
from publisher.web.guards import ReaderLimits

__all__ = ["Application", "Clock", "DaemonHooks", "application"]

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class DaemonHooks:
    """What the daemon running this app tells it (all None where no daemon runs beside it):
    the scheduler's state, its figures for the metrics, and the mail server's health ("ok", or
    since when the server has been unavailable)."""

    status: Callable[[], dict[str, Any]] | None = None
    counters: Callable[[], dict[str, int]] | None = None
    mail_status: Callable[[], str] | None = None
    # The timetable SIGHUP last loaded: the pages read the one /healthz reads (issue 25).
    timetable: Callable[[], Timetable] | None = None


@dataclass(frozen=True)
class Application:
    """Everything the web side needs; ``clock`` is its only source of "now"."""

    settings: Settings
    engine: Engine
    clock: Clock
    env: Environment
    signer: Signer
    loaded: Timetable  # the timetable at start; ``timetable`` is the one in force now
    feeds: FeedCache
    daemon: DaemonHooks = DaemonHooks()
    # With it, the mail a sign-up queues is sent straight after the answer too (else only the
    # daemon's outbox worker sends it).
    send_mail_now: bool = False
    # Made from the fields above, one of each per application: two apps in one process (the
    # tests) share no per-client count and no mail in flight.
    courier: Courier = field(init=False, repr=False, compare=False)
    limits: ReaderLimits = field(init=False, repr=False, compare=False)
    tracker: Tracker = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Frozen: the derived fields are set once, here, the way dataclasses document.
        courier = Courier(self.engine, self.settings, self.clock, enabled=self.send_mail_now)
        object.__setattr__(self, "courier", courier)
        object.__setattr__(self, "limits", ReaderLimits())
        # Built now, so that a secret key too short for click tracking stops the start.
        object.__setattr__(self, "tracker", Tracker(self.settings))

    @classmethod
    def of(
        cls,
        settings: Settings,
        engine: Engine,
        *,
        clock: Clock,
        timetable: Timetable | None = None,
        daemon: DaemonHooks = DaemonHooks(),
        feeds: FeedCache | None = None,
        send_mail_now: bool = False,
    ) -> Application:
        """The application over ``engine``: the timetable read from PUBLISHER_SCHEDULES unless
        given, and a feed cache of its own unless the daemon shares one."""
        env = make_environment(zone=settings.zone)
        # Category labels and bylines link to their sections and authors' pages.
        env.filters["slug"] = lambda value: quote(slugify(str(value)), safe="")
        env.globals["media_base"] = settings.media_base  # where pictures are served (issue 26)
        cache = feeds or FeedCache(
            engine, FeedBuilder(settings, env), clock, export_dir=settings.feeds_export_dir
        )
        return cls(
            settings,
            engine,
            clock,
            env,
            Signer.of(settings.secret_key),
            timetable or load_timetable(settings.schedules),
            cache,
            daemon,
            send_mail_now,
        )

    @property
    def timetable(self) -> Timetable:
        """The timetable in force: the daemon's (reloaded on SIGHUP), else the one loaded."""
        return self.daemon.timetable() if self.daemon.timetable else self.loaded

    def sealer(self, purpose: str) -> Sealer:
        """Seals secrets kept in the database for ``purpose`` (the second factor's: "totp")."""
        return Sealer.of(self.settings.secret_key, purpose)

    def process_counters(self) -> dict[str, int]:
        """This process's own figures for the metrics: the daemon's, and the feed builds."""
        counted = self.daemon.counters() if self.daemon.counters else {}
        return {**counted, "feed_builds": self.feeds.builds}


def application(request: Request) -> Application:
    """The dependency every handler takes: the app's one :class:`Application`."""
    found: Application = request.app.state.application
    return found
