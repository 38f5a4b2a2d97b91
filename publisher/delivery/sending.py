"""Delivery use cases: start an edition's deliveries and send them, crash-safe.

Every delivery is a row (pending, sending under a lease, sent, retry, failed, cancelled).
Workers lease small batches, send each message, and record each outcome in its own commit,
written while the next message goes out and committed before that one ends (its final dot):
after a crash nothing is lost, and only the one message each connection had in flight can
go twice. Each sending process registers with a
heartbeat (``delivery.heartbeat``): when it dies its leases run out at once (on the same
host as soon as its process is gone, elsewhere when its heartbeat stops), and its rows go to
another worker. Nothing here trusts the scheduler or a cursor.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from jinja2 import Environment
from sqlalchemy import Engine

from publisher import store
from publisher.community import links
from publisher.delivery import mailbox
from publisher.delivery.heartbeat import Heartbeat
from publisher.editions import making, sends
from publisher.editions.compose import greeting
from publisher.editions.messages import MessageBook
from publisher.mail.bounces import UNSUBSCRIBE_SUBJECT
from publisher.mail.mime import Recipient, envelope_sender
from publisher.mail.transports import DeliveryError, Transport, make_transport
from publisher.models import Edition
from publisher.schedules import Digest, Timetable
from publisher.settings import Settings
from publisher.tokens import Signer

__all__ = [
    "BATCH",
    "HELD_CHECK",
    "IDLE_POLL",
    "MAX_BATCH",
    "MAX_OUTAGE_WAIT",
    "Clock",
    "RateLimit",
    "SendPlan",
    "Sender",
    "Tally",
    "backoff",
    "catch_up",
    "counts",
    "prepare_send",
    "prune",
    "start",
]

log = logging.getLogger(__name__)

BATCH = 50  # a connection's first claim; each next one twice the last, up to MAX_BATCH
MAX_BATCH = 400  # (the first claims stay small so that every process gets a share at once)
MAX_OUTAGE_WAIT = 300.0  # seconds between tries while the SMTP server is down
IDLE_POLL = 1.0
HELD_CHECK = 1.0  # seconds: how soon a worker sees that an edition was paused or cancelled
Clock = Callable[[], datetime]


def backoff(attempt: int, base: float) -> timedelta:
    """Exponential back-off with full jitter: base, 2 base, 4 base ... up to 64 base."""
    ceiling = base * 2 ** min(attempt, 6)
    return timedelta(seconds=ceiling / 2 + random.uniform(0, ceiling / 2))


@dataclass
class Tally:
    """What the workers of this process did (thread-safe counters)."""

    sent: int = 0
    failed: int = 0
    retried: int = 0
    bounced: int = 0
    cancelled: int = 0
    deferred: int = 0  # batches given back because the SMTP server was down
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, outcome: str) -> None:
        with self._lock:
            setattr(self, outcome, getattr(self, outcome) + 1)

    def snapshot(self) -> dict[str, int]:
        """The counts as ``messages_<outcome>``, for /metrics."""
        with self._lock:
            return {
                f"messages_{name}": getattr(self, name)
                for name in ("sent", "failed", "retried", "bounced", "cancelled", "deferred")
            }


class RateLimit:
    """At most ``rate`` messages a second across every thread of this process (0: none)."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._next = time.monotonic()
        self._lock = threading.Lock()

    def wait(self, stop: threading.Event) -> None:
        if not self.interval:
            return
        with self._lock:
            now = time.monotonic()
            slot = max(self._next, now)
            self._next = slot + self.interval
        if slot > now:
            stop.wait(slot - now)


class Sender:
    """Sends due deliveries of every edition with ``settings.send_concurrency`` connections."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        *,
        clock: Clock,
        transport_factory: Callable[[], Transport] | None = None,
        timetable: Callable[[], Timetable] | None = None,
        env: Environment | None = None,
    ) -> None:
        """``timetable`` gives the digests' titles for the editions rendered per reader's
        categories (read from ``settings.schedules`` when first needed if not given)."""
        self.engine = engine
        self.settings = settings
        self.clock = clock
        self.sender = envelope_sender(settings.mail_from)
        self.signer = Signer.of(settings.secret_key)
        self.host = settings.site_host  # parsed once, not once a message
        # With a bounce mailbox, List-Unsubscribe names it too (issue 28): a mail client's
        # unsubscribe button works without the web.
        self.mailto = mailbox.bounce_address(settings)
        maildir = settings.var_dir / "mail"
        smtp_url = settings.smtp_url.get_secret_value() if settings.smtp_url else None
        self.transport_factory = transport_factory or (lambda: make_transport(smtp_url, maildir))
        self.heartbeat = Heartbeat(engine, settings.send_heartbeat, clock=clock)
        self.worker = self.heartbeat.id  # the lease owner of every delivery this process claims
        self.tally = Tally()
        self.rate = RateLimit(settings.send_rate)
        self.book = MessageBook(engine, settings, timetable=timetable, env=env)
        self._lock = threading.Lock()
        self._down_since: datetime | None = None  # the SMTP server's outage, as seen here
        self._local = threading.local()
        self._held_ids: set[int] = set()
        self._held_at = -HELD_CHECK

    # -------------------------------------------------------------- the loop

    def run(self, stop: threading.Event, *, once: bool = False) -> Tally:
        """Send until ``stop`` is set (or, with ``once``, until nothing is due). Threads stop
        claiming when ``stop`` is set, finish the message in hand, and give back the rest."""
        errors: list[BaseException] = []

        def work(n: int) -> None:
            try:
                self._work(stop, once, self.worker)
            except BaseException as exc:  # never lose a worker's failure
                log.exception("delivery worker %s stopped", n)
                errors.append(exc)
                stop.set()

        threads = [
            threading.Thread(target=work, args=(n,), name=f"deliver-{n}", daemon=True)
            for n in range(self.settings.send_concurrency)
        ]
        self.heartbeat.start()  # registers, and takes back what dead senders held
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                while thread.is_alive():
                    thread.join(timeout=0.5)
        finally:
            self.heartbeat.stop()
        self._finish_editions()
        if errors:
            raise errors[0]
        return self.tally

    def _work(self, stop: threading.Event, once: bool, worker: str) -> None:
        transport = self.transport_factory()
        lease = timedelta(seconds=self.settings.send_lease)
        # Each outcome is committed on this thread's own connection before the next send ends.
        self._local.outcomes = store.OutcomeWriter(self.engine)
        self._local.outages = 0  # this thread's failed tries since the server last answered
        size = BATCH
        try:
            while not stop.is_set():
                generation = self.heartbeat.generation
                self._local.outcomes.wait()  # the last batch is all recorded before the next
                with store.writing(self.engine) as session:
                    batch = store.claim_deliveries(
                        session, worker, now=self.clock(), lease=lease, limit=size
                    )
                if not batch:
                    size = BATCH
                    self._finish_editions()
                    if once and self._nothing_due():
                        return
                    stop.wait(IDLE_POLL)
                    continue
                size = min(size * 2, MAX_BATCH)  # per-batch queries cost less per message
                down = self._send_batch(
                    batch, transport, stop, worker, lease, once=once, generation=generation
                )
                if down and once:
                    # --once: what is owed waits for the next run instead of this one
                    # trying every batch against a server that is not there.
                    log.warning("%s: the SMTP server is unavailable; stopping", worker)
                    return
        finally:
            transport.close()
            self._local.outcomes.close()

    def _held(self) -> set[int]:
        """Editions paused or cancelled, read at most every HELD_CHECK seconds a process."""
        with self._lock:
            if time.monotonic() - self._held_at < HELD_CHECK:
                return self._held_ids
        with store.reading(self.engine) as session:
            held = store.held_editions(session)
        with self._lock:
            self._held_ids, self._held_at = held, time.monotonic()
        return held

    def _finish_editions(self) -> None:
        with store.writing(self.engine) as session:
            store.sweep_cancelled(session, now=self.clock())
            finished = store.finish_editions(session)
        for edition_id, outcome in counts(self.engine, finished).items():
            said = ", ".join(f"{n} {status}" for status, n in sorted(outcome.items()))
            log.info("edition %s sent: %s", edition_id, said or "nobody to send to")

    def _nothing_due(self) -> bool:
        with store.reading(self.engine) as session:
            return store.open_deliveries(session, due_by=self.clock()) == 0

    def _send_batch(
        self,
        batch: list[store.Claimed],
        transport: Transport,
        stop: threading.Event,
        worker: str,
        lease: timedelta,
        *,
        once: bool,
        generation: int,
    ) -> bool:
        """Send one claimed batch, pipelined on the connection (a message is ended in the same
        write as the next one starts); True when the SMTP server was unavailable."""
        renewed = time.monotonic()
        ready = self._local.outcomes.wait
        for index, delivery in enumerate(batch):
            if stop.is_set() or delivery.edition_id in self._held():
                # Stopping, or an editor paused or cancelled the edition (issue 13): the
                # messages in hand end, the rest of the batch goes back unattempted.
                settled = self._settle(batch, index - 1, transport.flush(ready=ready), stop, once)
                if settled is None:
                    self._release([d.id for d in batch[index:]], worker, self.clock())
                return bool(settled)
            if not self.heartbeat.holds(generation):
                transport.close()  # the message in hand is dropped, unended: not ours now
                return False  # taken for dead while stalled: the rest is someone else's now
            if time.monotonic() - renewed > lease.total_seconds() / 3:
                with store.writing(self.engine) as session:
                    rest = [d.id for d in batch[index - 1 if index else 0 :]]
                    store.renew_lease(session, rest, worker, until=self.clock() + lease)
                renewed = time.monotonic()
            person = delivery.reader
            if person.status != "confirmed":  # unsubscribed or bounced since the edition started
                self._finish(delivery, "cancelled", f"subscriber is {person.status}")
                continue
            template = self.book.for_reader(
                delivery.edition_id, person.topics, person.language, person.languages
            )
            if template is None:
                self._finish(
                    delivery, "cancelled", "no story in the categories and languages they chose"
                )
                continue
            self.rate.wait(stop)
            message = template.render(self._recipient(delivery, person.name, person.language))
            done = transport.submit(index, self.sender, delivery.email, message, ready=ready)
            settled = self._settle(batch, index, done, stop, once)
            if settled is not None:
                return settled
        return bool(self._settle(batch, len(batch) - 1, transport.flush(ready=ready), stop, once))

    def _settle(
        self,
        batch: list[store.Claimed],
        last: int,
        done: list[tuple[int, DeliveryError | None]],
        stop: threading.Event,
        once: bool,
    ) -> bool | None:
        """Record how the messages in ``done`` ended (``last``: the latest one handed over).
        None to go on; else the batch ends (its unsent rest given back), True when the SMTP
        server was unavailable."""
        for tag, error in done:
            delivery = batch[tag]
            if error is None:
                self._finish(delivery, "sent")
                if self._local.outages or self._down_since is not None:
                    self._outage_over()
            elif error.server_down:
                # Not this reader's fault: the whole rest of the batch goes back with no
                # attempt counted, and this worker waits longer while the outage lasts.
                wait = self._outage(error)
                self._release(
                    [d.id for d in batch[tag:]], self.worker, self.clock() + timedelta(seconds=wait)
                )
                if not once:
                    stop.wait(wait)
                return True
            elif self._failed(delivery, error) and tag == last:
                # The connection dropped with this message (counted against it, in case it is
                # the cause, and against the one before it, which may have arrived): give the
                # rest of the batch back and wait a little.
                self._release(
                    [d.id for d in batch[last + 1 :]],
                    self.worker,
                    self.clock() + backoff(0, self.settings.send_retry_base),
                )
                stop.wait(min(self.settings.send_retry_base, 5.0))
                return False
        return None

    def mail_status(self) -> str:
        """For /healthz: "ok", or since when the SMTP server has been unavailable."""
        with self._lock:
            since = self._down_since
        return "ok" if since is None else f"unavailable since {since.isoformat()}"

    def _outage(self, exc: DeliveryError) -> float:
        """Count this thread's failed try while the server is down; seconds to wait before
        the next. Logged on the 1st, 2nd, 4th and 8th try, then every 12th (about hourly)."""
        self._local.outages += 1
        tries: int = self._local.outages
        self.tally.add("deferred")
        with self._lock:
            if self._down_since is None:
                self._down_since = self.clock()
        ceiling = min(self.settings.send_retry_base * (1 << min(tries - 1, 16)), MAX_OUTAGE_WAIT)
        wait = ceiling / 2 + random.uniform(0, ceiling / 2)
        if (tries <= 8 and tries & (tries - 1) == 0) or tries % 12 == 0:
            log.warning(
                "SMTP server unavailable (%s failed tries): %s; the batch goes back to the "
                "queue, next try in %.0f s",
                tries,
                exc.reply,
                wait,
            )
        return wait

    def _outage_over(self) -> None:
        tries, self._local.outages = self._local.outages, 0
        with self._lock:
            self._down_since = None
        if tries:
            log.warning("SMTP server back after %s failed tries", tries)

    def _failed(self, delivery: store.Claimed, exc: DeliveryError) -> bool:
        """Record a failed attempt; True when the connection itself failed."""
        attempt = delivery.attempts + 1
        if exc.temporary and attempt < self.settings.send_max_attempts:
            retry_at = self.clock() + backoff(attempt - 1, self.settings.send_retry_base)
            self._finish(delivery, "retry", exc.reply, retry_at=retry_at)
            log.info(
                "delivery %s to %s: %s; retry at %s",
                delivery.id,
                delivery.email,
                exc.reply,
                retry_at.isoformat(),
            )
        else:
            self._finish(delivery, "failed", exc.reply)
            log.warning("delivery %s to %s failed: %s", delivery.id, delivery.email, exc.reply)
            if exc.mailbox_gone:
                with store.writing(self.engine) as session:
                    store.set_subscriber_status(
                        session, delivery.subscriber_id, "bounced", now=self.clock()
                    )
                self.tally.add("bounced")
        return exc.temporary and exc.code == 0

    def _finish(
        self,
        delivery: store.Claimed,
        status: str,
        error: str = "",
        *,
        retry_at: datetime | None = None,
    ) -> None:
        self._local.outcomes.record(
            delivery.id, status, now=self.clock(), error=error, retry_at=retry_at
        )
        self.tally.add({"retry": "retried"}.get(status, status))

    def _release(self, ids: list[int], worker: str, retry_at: datetime) -> None:
        self._local.outcomes.wait()
        with store.writing(self.engine) as session:
            store.release_deliveries(session, ids, worker, retry_at=retry_at)

    def _recipient(self, delivery: store.Claimed, name: str, language: str = "") -> Recipient:
        site = self.settings.site_url
        sid = delivery.subscriber_id
        member = links.member_links(self.signer, site, sid, delivery.link_key, now=self.clock())
        if self.mailto:
            token = member["unsubscribe"].rsplit("/", 1)[-1]
            subject = f"{UNSUBSCRIBE_SUBJECT}%20{token}"
            member["unsubscribe_mailto"] = f"mailto:{self.mailto}?subject={subject}"
        if self.settings.webhook_postmark_auth is not None:
            member["postmark_metadata"] = "1"
        return Recipient(
            address=delivery.email,
            # The same id for the same delivery: a receiver can drop a copy sent twice.
            message_id=self.signer.message_id(
                f"edition-{delivery.edition_id}.delivery-{delivery.id}",
                delivery.email,
                self.host,
            ),
            date=self.clock(),
            values={
                "greeting": greeting(name, language or self.settings.site_language),
                **member,
                **self.book.personal(sid, self.clock()),  # click tracking's reader tag
            },
        )


def start(engine: Engine, edition: Edition, *, now: datetime) -> int:
    """Create the edition's deliveries (once per subscriber); how many were new."""
    with store.writing(engine) as session:
        return store.start_deliveries(session, edition, now=now)


def counts(engine: Engine, edition_ids: list[int]) -> dict[int, dict[str, int]]:
    with store.reading(engine) as session:
        return store.delivery_counts(session, edition_ids)


@dataclass(frozen=True)
class SendPlan:
    edition: Edition
    created: bool
    new_deliveries: int


def prepare_send(
    engine: Engine,
    settings: Settings,
    timetable: Timetable,
    env: Environment,
    digest: Digest,
    *,
    now: datetime,
) -> SendPlan:
    """This period's edition (made once) with a delivery for every confirmed subscriber.
    Run again in the same period, it adds only what is still owed."""
    nominal = making.current_nominal(digest, now)
    edition, created = making.ensure_edition(
        engine, settings, timetable, env, digest, nominal=nominal, now=now
    )
    if edition.status not in ("ready", "sending", "sent"):
        # pending, skipped, missed; awaiting_review (sent once approved), paused, cancelled
        return SendPlan(edition, created, 0)
    new = start(engine, edition, now=now)
    with store.reading(engine) as session:
        return SendPlan(store.edition_by_id(session, edition.id or 0), created, new)


def catch_up(
    engine: Engine,
    settings: Settings,
    timetable: Timetable,
    env: Environment,
    digest: Digest,
    *,
    now: datetime,
) -> str:
    """At start: if the digest's last send time passed while no daemon ran, its edition goes
    out now when that is within ``catch_up``, and is recorded as missed (never sent) when
    later. An edition already made is left to the workers; one awaiting review past its
    deadline is skipped or sent as ``unreviewed`` says. A digest that never had an edition
    (a site's first start, a digest new in the timetable) missed nothing: its timetable
    begins now (issue 25). Says what it did, in words."""
    nominal = digest.last_time(now)
    if nominal is None:
        return f"{digest.name}: no send time yet"
    with store.reading(engine) as session:
        begun = bool(store.edition_list(session, digest=digest.name, limit=1))
    if not begun:
        upcoming = next(iter(digest.next_times(now, 1)), None)
        when = f"; first send {upcoming.isoformat()}" if upcoming else ""
        return f"{digest.name}: first start, the timetable begins now{when}"
    key = digest.period_key(nominal)
    # A review deadline that passed while no daemon ran: decided now, as `unreviewed` says.
    expired = sends.expire_reviews(engine, timetable, now=now, digest=digest.name)
    with store.reading(engine) as session:
        existing = store.edition_for(session, digest.name, key)
    if existing is not None and existing.status != "pending":
        if expired:
            return "; ".join(expired)
        if existing.status in ("ready", "sending"):
            start(engine, existing, now=now)  # the rest of what is owed, if any
        return f"{digest.name}: edition {existing.id} for {key} is {existing.status}"
    if existing is None and now - nominal > digest.catch_up:
        with store.writing(engine) as session:
            edition, created = store.create_edition(
                session, digest.name, key, nominal_at=nominal, now=now
            )
            if created:
                store.set_edition_status(session, edition.id or 0, "missed")
        return (
            f"{digest.name}: the send time {nominal.isoformat()} is more than "
            f"{digest.catch_up} ago: recorded as missed, not sent"
        )
    plan = prepare_send(engine, settings, timetable, env, digest, now=now)
    if plan.edition.status == "awaiting_review":
        # Made late, it may be past its review deadline already: decided now, not in 15 s.
        expired = sends.expire_reviews(engine, timetable, now=now, digest=digest.name)
        if expired:
            return "; ".join(expired)
    return (
        f"{digest.name}: caught up on {key}: edition {plan.edition.id} "
        f"{plan.edition.status}, {plan.new_deliveries} deliveries"
    )


def prune(engine: Engine, settings: Settings, *, now: datetime) -> int:
    """Forget finished deliveries older than the retention period."""
    before = now - timedelta(days=settings.delivery_retention_days)
    with store.writing(engine) as session:
        return store.prune_deliveries(session, before=before)
