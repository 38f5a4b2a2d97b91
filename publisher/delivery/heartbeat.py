"""A sending process's registration and heartbeat, and the eviction of dead ones.

Each sending process registers a worker row and beats every ``send_heartbeat`` seconds from a
thread of its own, so a process that is only slow (a long SMTP transaction, a busy machine)
keeps beating and keeps its leases. A worker is dead when its heartbeat is older than
``MISSED_BEATS`` periods, or at once when it ran on this host and its process is gone (the pid
is free, or was reused by a process that started later). A dead worker's leases run out on the
spot, so whoever claims next resends only what it had in flight.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Engine

from publisher import store

__all__ = ["MISSED_BEATS", "Clock", "Heartbeat", "process_alive", "process_start"]

log = logging.getLogger(__name__)

MISSED_BEATS = 4  # heartbeats a worker may miss before it counts as dead
Clock = Callable[[], datetime]


def process_start(pid: int) -> str:
    """The OS's start time of ``pid`` (clock ticks since boot, Linux), "" when unknown; a pid
    reused by a later process has another one."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            # The command name (field 2) may hold spaces and parentheses: count from its end.
            fields = stat.read().rsplit(b")", 1)[1].split()
        return fields[19].decode()  # field 22, starttime
    except (OSError, IndexError):
        return ""


def process_alive(pid: int, start: str) -> bool:
    """Whether the process ``pid`` that started at ``start`` still runs on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, under another user
    now_start = process_start(pid)
    return not (start and now_start and now_start != start)


class Heartbeat:
    """This process's worker row: registered by ``start``, beaten by a thread, removed by
    ``stop``. ``id`` is what its deliveries' ``lease_owner`` holds."""

    def __init__(self, engine: Engine, period: float, *, clock: Clock) -> None:
        self.engine = engine
        self.period = period
        self.clock = clock
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.id = f"{self.host}:{self.pid}:{secrets.token_hex(3)}"
        self.generation = 0  # counts the times another process judged this one dead
        self._last_ok = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def stale_after(self) -> timedelta:
        return timedelta(seconds=self.period * MISSED_BEATS)

    def start(self) -> int:
        """Register, evict the dead, start beating; how many deliveries came back."""
        self._register()
        freed = self.evict_dead()
        self._thread = threading.Thread(target=self._beat, name="heartbeat", daemon=True)
        self._thread.start()
        return freed

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with store.writing(self.engine) as session:
            store.unregister_worker(session, self.id, now=self.clock())

    def evict_dead(self) -> int:
        """Evict workers that stopped beating or whose process is gone; deliveries freed."""
        now = self.clock()
        stale_before = now - self.stale_after
        with store.reading(self.engine) as session:
            suspects = store.suspect_workers(session, host=self.host, stale_before=stale_before)
        gone = [
            w.id
            for w in suspects
            if w.id != self.id and w.host == self.host and not process_alive(w.pid, w.proc_start)
        ]
        stale = [w.id for w in suspects if w.id != self.id and w.id not in gone]
        if not gone and not stale:
            return 0
        with store.writing(self.engine) as session:
            freed = store.evict_workers(
                session, gone=gone, stale=stale, stale_before=stale_before, now=now
            )
        if freed:
            log.warning("took back %d deliveries from dead sending processes", freed)
        return freed

    def holds(self, generation: int) -> bool:
        """Whether claims made at ``generation`` are still this worker's. Asked before each
        message: after a stall (SIGSTOP, a frozen VM) longer than two periods it beats first,
        so a worker taken for dead sends nothing more of what it held."""
        if time.monotonic() - self._last_ok > 2 * self.period:
            try:
                self._beat_once()
            except Exception:
                log.exception("heartbeat failed")
        return generation == self.generation

    def _register(self) -> None:
        with store.writing(self.engine) as session:
            store.register_worker(
                session,
                self.id,
                host=self.host,
                pid=self.pid,
                proc_start=process_start(self.pid),
                now=self.clock(),
            )
        self._last_ok = time.monotonic()

    def _beat_once(self) -> None:
        with self._lock:
            with store.writing(self.engine) as session:
                alive = store.beat(session, self.id, now=self.clock())
            if alive:
                self._last_ok = time.monotonic()
                return
            # Judged dead while stalled: our leases went to others. What we hold is dropped
            # (senders compare generations) and we come back under the same id.
            log.warning("this sender was taken for dead; its claims went to others")
            self.generation += 1
            self._register()

    def _beat(self) -> None:
        while not self._stop.wait(self.period):
            try:
                self._beat_once()
                self.evict_dead()
            except Exception:  # a database hiccup: beat again next period
                log.exception("heartbeat failed; trying again in %.0f s", self.period)
