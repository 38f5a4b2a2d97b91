"""The daemon's alarm clock: APScheduler 3.x, in memory, one job per digest on its cron in its
own time zone. It only says "now"; the editions table decides whether an edition exists, so
a second daemon, a restart or a DST double fire sends nothing twice (docs/architecture.md)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from jinja2 import Environment
from sqlalchemy import Engine

from publisher.delivery import mailbox, sending, webhooks
from publisher.editions import clicks, sends, stats
from publisher.errors import PublisherError
from publisher.media import keeper
from publisher.schedules import Timetable, load_timetable
from publisher.settings import Settings
from publisher.sources import polling
from publisher.syndication.feeds import FeedCache, send_pings

__all__ = [
    "FEED_UPKEEP_SECONDS",
    "PICTURES_CHECK_SECONDS",
    "REVIEW_CHECK_SECONDS",
    "SOURCES_CHECK_SECONDS",
    "Timekeeper",
]

FEED_UPKEEP_SECONDS = 10
REVIEW_CHECK_SECONDS = 15  # how late past its deadline an unreviewed edition is decided
# How often the clock looks for sources that are due; each source's own interval (at least a
# minute) and the claim in the database decide whether it is polled.
SOURCES_CHECK_SECONDS = 15
# How often imported stories' image addresses are looked for and fetched (a batch a time).
PICTURES_CHECK_SECONDS = 15

log = logging.getLogger(__name__)


class Timekeeper:
    """Fires each digest at its send times; catches up at start; reloads on request."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        timetable: Timetable,
        env: Environment,
        *,
        clock: Callable[[], datetime],
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.timetable = timetable
        self.env = env
        self.clock = clock
        self._lock = threading.Lock()
        self.scheduler = BackgroundScheduler(
            jobstores={"default": MemoryJobStore()},  # never shared between daemons
            # three: a slow source (up to fetch.DEADLINE) never holds up a digest and the feeds
            executors={"default": ThreadPoolExecutor(3)},
            job_defaults={"coalesce": True, "max_instances": 1},
            timezone="UTC",
        )

    def start(self, *, feeds: FeedCache | None = None) -> list[str]:
        """Catch up on missed send times, then start the clock; what catching up did.
        With ``feeds``, the clock also keeps them fresh: scheduled articles appear at their
        time, changed feeds are rebuilt and the WebSub hub is told."""
        done = [self._catch_up(name) for name in self.timetable.digests]
        self._schedule()
        if feeds is not None:
            self.scheduler.add_job(
                self._feeds,
                "interval",
                args=[feeds],
                id="feeds",
                seconds=FEED_UPKEEP_SECONDS,
                next_run_time=self.clock(),
            )
        self.scheduler.add_job(
            self._prune, "interval", id="prune", hours=6, next_run_time=self.clock()
        )
        self.scheduler.add_job(
            self._reviews,
            "interval",
            id="reviews",
            seconds=REVIEW_CHECK_SECONDS,
            next_run_time=self.clock(),
        )
        self.scheduler.add_job(
            self._sources,
            "interval",
            id="sources",
            seconds=SOURCES_CHECK_SECONDS,
            next_run_time=self.clock(),
        )
        self.scheduler.add_job(
            self._pictures,
            "interval",
            id="pictures",
            seconds=PICTURES_CHECK_SECONDS,
            next_run_time=self.clock(),
        )
        if self.settings.bounce_mailbox_url is not None:
            self.scheduler.add_job(
                self._bounces,
                "interval",
                id="bounces",
                seconds=min(SOURCES_CHECK_SECONDS, self.settings.bounce_mailbox_every),
                next_run_time=self.clock(),
            )
        self.scheduler.start()
        return done

    def _bounces(self) -> None:
        """Poll the bounce mailbox when it is due and this daemon wins it (issue 28)."""
        try:
            mailbox.poll_mailbox(self.engine, self.settings, now=self.clock())
        except Exception:
            log.exception("reading the bounce mailbox failed; trying again later")

    def _feeds(self, feeds: FeedCache) -> None:
        try:
            feeds.current()
            send_pings(self.engine, self.settings, now=self.clock())
        except Exception:
            log.exception("feed upkeep failed; trying again in %s s", FEED_UPKEEP_SECONDS)

    def _sources(self) -> None:
        with self._lock:
            timetable = self.timetable
        if not timetable.sources:
            return
        try:
            polling.poll_due(self.engine, self.settings, timetable, now=self.clock())
        except Exception:
            log.exception("polling sources failed; trying again in %s s", SOURCES_CHECK_SECONDS)

    def _pictures(self) -> None:
        """Keep the pictures imported stories name by address (issue 26)."""
        try:
            keeper.keep_pending(self.engine, self.settings, now=self.clock())
        except Exception:
            log.exception("keeping pictures failed; trying again in %s s", PICTURES_CHECK_SECONDS)

    def _prune(self) -> None:
        try:
            # Editions' figures are kept first, so they stay true without their rows; who
            # followed which link is kept as long as the deliveries (the counts stay).
            before = self.clock() - timedelta(days=self.settings.delivery_retention_days)
            stats.keep_figures(self.engine, before=before, now=self.clock())
            gone = sending.prune(self.engine, self.settings, now=self.clock())
            clicks.prune(self.engine, before=before)
            webhooks.prune(self.engine, now=self.clock())
        except Exception:
            log.exception("pruning old deliveries failed; trying again later")
            return
        if gone:
            log.info(
                "pruned %d finished deliveries older than %d days",
                gone,
                self.settings.delivery_retention_days,
            )

    def _reviews(self) -> None:
        """Editions past their review deadline: skipped or sent, as ``unreviewed`` says."""
        with self._lock:
            timetable = self.timetable
        try:
            for said in sends.expire_reviews(self.engine, timetable, now=self.clock()):
                log.info("%s", said)
        except Exception:
            log.exception("review deadlines: failed; trying again in %s s", REVIEW_CHECK_SECONDS)

    def _catch_up(self, name: str) -> str:
        try:
            return sending.catch_up(
                self.engine,
                self.settings,
                self.timetable,
                self.env,
                self.timetable.digest(name),
                now=self.clock(),
            )
        except PublisherError as exc:
            log.error("catching up on %s failed: %s", name, exc.message)
            return f"{name}: catching up failed: {exc.message}"

    def _schedule(self) -> None:
        for job in self.scheduler.get_jobs():
            if job.id.startswith("digest:") and job.id[7:] not in self.timetable.digests:
                job.remove()
        for digest in self.timetable.digests.values():
            grace = max(int(digest.catch_up.total_seconds()), 1)
            self.scheduler.add_job(
                self.fire,
                trigger=digest.trigger,
                args=[digest.name],
                id=f"digest:{digest.name}",
                misfire_grace_time=grace,
                replace_existing=True,
            )

    def fire(self, name: str) -> None:
        """A digest's send time came: make this period's edition (once) and its deliveries;
        the delivery workers send them."""
        with self._lock:
            digest = self.timetable.digests.get(name)
        if digest is None:
            return
        try:
            plan = sending.prepare_send(
                self.engine, self.settings, self.timetable, self.env, digest, now=self.clock()
            )
        except Exception:
            log.exception(
                "digest %s: the edition could not be made; the next start catches up", name
            )
            return
        log.info(
            "digest %s: edition %s (%s) %s, %d new deliveries",
            name,
            plan.edition.id,
            plan.edition.period_key,
            plan.edition.status,
            plan.new_deliveries,
        )

    def reload(self, path: Path) -> bool:
        """Read the timetable again; a bad file keeps the old one (and says why in the log)."""
        try:
            timetable = load_timetable(path)
        except PublisherError as exc:
            log.error(
                "%s not reloaded, keeping the old timetable: %s", path, "; ".join(exc.lines())
            )
            return False
        with self._lock:
            self.timetable = timetable
            self._schedule()
        log.info(
            "%s reloaded: %s; %s",
            path,
            ", ".join(timetable.digests) or "no digests",
            ("sources " + ", ".join(timetable.sources)) if timetable.sources else "no sources",
        )
        return True

    def status(self) -> dict[str, Any]:
        """For /healthz: whether the clock runs, and each digest's next send time."""
        running = bool(self.scheduler.running)
        now = self.clock()
        digests = {
            name: {
                "next_send": (next(iter(d.next_times(now, 1)), None) or now).isoformat(),
                "cron": d.cron,
                "timezone": d.zone.key,
            }
            for name, d in self.timetable.digests.items()
        }
        return {"scheduler": "running" if running else "stopped", "digests": digests}

    def shutdown(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
