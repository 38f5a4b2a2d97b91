"""A sending process: `publisher deliver`, and the extra sending processes of `publisher run`
and `publisher deliver --processes N`, each a `publisher deliver` child with its own
connections and heartbeat (so the GIL of one process stops being the ceiling). A child stops
with its parent, even one killed with -9.

This is the light entry point (issue 15): `python -m publisher deliver ...` comes here
without the Typer command line, the web app or the newsroom (about a second of CPU a
process on a loaded 2-core machine). Anything it does not parse (``--help``, a bad value)
goes to the full command line, which explains it.
"""

from __future__ import annotations

import gc
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy import exc as sa_exc

from publisher import store
from publisher.delivery import outbox, sending
from publisher.errors import OperationalError, PublisherError
from publisher.schedules import load_timetable
from publisher.settings import (
    Settings,
    load_settings,
    site_url_of,
    with_secret_key,
    with_site_url,
)

__all__ = [
    "MAX_PROCESSES",
    "TALLY",
    "Request",
    "deliver",
    "failure_lines",
    "finish",
    "main",
    "opened",
    "parse",
    "restore_signals",
    "spawn",
    "stop_on_signals",
    "utc_now",
    "watch_parent",
]

TALLY = re.compile(r"(sent|failed|retried|bounced|cancelled|deferred) (\d+)")
MAX_PROCESSES = 64


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Request:
    """`publisher deliver`'s options."""

    once: bool = False
    processes: int | None = None
    parent: int | None = None


def parse(args: list[str]) -> Request | None:
    """The options of ``deliver [--once] [--processes N] [--parent PID]``; None for anything
    else (the full command line handles it)."""
    if not args or args[0] != "deliver":
        return None
    once = False
    numbers: dict[str, str | None] = {"--processes": None, "--parent": None}
    rest = list(args[1:])
    while rest:
        word = rest.pop(0)
        name, _, value = word.partition("=")
        if word == "--once":
            once = True
            continue
        if name not in numbers or numbers[name] is not None:
            return None
        if not value:
            if not rest:
                return None
            value = rest.pop(0)
        if not value.isdigit():
            return None
        numbers[name] = value
    processes = int(numbers["--processes"]) if numbers["--processes"] else None
    if processes is not None and not 1 <= processes <= MAX_PROCESSES:
        return None
    parent = int(numbers["--parent"]) if numbers["--parent"] else None
    return Request(once=once, processes=processes, parent=parent)


@contextmanager
def opened(*, migrate: bool = True) -> Iterator[tuple[Settings, Engine]]:
    """Settings, and an engine on a database brought up to date (``migrate``; a child
    sending process skips it: its parent migrated before starting it). Links are made with
    PUBLISHER_SITE_URL, else where `publisher run` last listened (settings.site_url_of)."""
    settings = with_secret_key(load_settings())
    settings = with_site_url(settings, site_url_of(settings))
    engine = store.make_engine(settings.database_url, held=settings.send_concurrency)
    try:
        if migrate:
            store.migrate(engine)
        yield settings, engine
    finally:
        engine.dispose()


def deliver(request: Request, out: Callable[[str], None] = print) -> None:
    """Send what is owed (digests, and the confirmation and access mails the web side
    queued) until stopped, or with ``once`` until nothing is due; print the tally."""
    children: list[subprocess.Popen[str]] = []
    with opened(migrate=request.parent is None) as (settings, engine):
        # The digests' titles, for readers who chose categories: a missing or broken
        # schedules.yaml stops here, before anything is sent.
        timetable = load_timetable(settings.schedules)
        stop = threading.Event()
        previous = stop_on_signals(stop)
        mail_stop = threading.Event()
        mail = threading.Thread(
            target=outbox.work, args=(engine, settings, mail_stop), kwargs={"clock": utc_now}
        )
        if request.parent is not None:
            watch_parent(request.parent, stop)
        try:
            children = spawn((request.processes or settings.send_processes) - 1, once=request.once)
            if request.parent is None and request.once:  # the outbox is the parent's
                mailed, waiting = outbox.send_due(engine, settings, now=utc_now())
                if mailed or waiting:
                    out(f"outbox: sent {mailed}, kept {waiting} for later")
            elif request.parent is None:
                mail.start()
            sender = sending.Sender(engine, settings, clock=utc_now, timetable=lambda: timetable)
            # What start-up made (modules, tables) is never garbage: out of the collector's
            # sight, a full collection walks only what sending makes. The collector took about
            # a twentieth of a sending process's CPU before (perf, issue 15).
            gc.collect()
            gc.freeze()
            tally = sender.run(stop, once=request.once)
        finally:
            mail_stop.set()
            if mail.is_alive():
                mail.join(timeout=15)
            restore_signals(previous)
            others, failed = finish(children, stop=stop.is_set())
    counts = {k: v + others.get(k, 0) for k, v in tally.snapshot().items()}
    out(", ".join(f"{name.removeprefix('messages_')} {n}" for name, n in counts.items()))
    if failed:
        raise OperationalError(f"{failed} of the sending processes failed (the log says why)")
    if request.once and counts["messages_deferred"] and not stop.is_set():
        raise OperationalError(
            "the SMTP server was unavailable (the log says why; check PUBLISHER_SMTP_URL): "
            "what is owed goes out on the next run"
        )


def failure_lines(exc: BaseException) -> tuple[list[str], int] | None:
    """What the command line prints for a failure a user can cause, and the exit code; None
    for a bug (its traceback is wanted)."""
    if isinstance(exc, PublisherError):
        lines = [f"Error: {line}" if line == exc.message else line for line in exc.lines()]
        return lines, exc.exit_code
    if isinstance(exc, sa_exc.SQLAlchemyError):
        reason = str(exc.orig if isinstance(exc, sa_exc.DBAPIError) else exc).splitlines()[0]
        return [f"Error: database: {reason}"], 1
    if isinstance(exc, OSError):
        return [f"Error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")], 1
    if isinstance(exc, KeyboardInterrupt):
        return [], 130
    return None


def main(request: Request) -> int:
    """Run ``deliver`` as a command: one clean ``Error:`` line and an exit code on failure."""
    try:
        deliver(request)
    except BaseException as exc:
        said = failure_lines(exc)
        if said is None:
            raise
        for line in said[0]:
            print(line, file=sys.stderr)
        return said[1]
    return 0


# ---------------------------------------------------------------- extra sending processes


def spawn(count: int, *, once: bool) -> list[subprocess.Popen[str]]:
    command = [sys.executable, "-m", "publisher", "deliver", "--processes", "1"]
    command += ["--parent", str(os.getpid())] + (["--once"] if once else [])
    return [
        subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=os.environ.copy())
        for _ in range(count)
    ]


def finish(children: list[subprocess.Popen[str]], *, stop: bool) -> tuple[dict[str, int], int]:
    """Wait for the children (asking them to stop first when ``stop``); their summed tallies
    and how many exited non-zero."""
    if stop:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
    totals: dict[str, int] = {}
    failed = 0
    for child in children:
        out, _ = child.communicate()
        failed += child.returncode != 0
        for name, value in TALLY.findall(out or ""):
            key = f"messages_{name}"
            totals[key] = totals.get(key, 0) + int(value)
    return totals, failed


def watch_parent(parent: int, stop: threading.Event) -> None:
    """Set ``stop`` when the process that started this one is gone."""

    def watch() -> None:
        while not stop.wait(1.0):
            if os.getppid() != parent:
                stop.set()

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def stop_on_signals(stop: threading.Event) -> dict[int, object]:
    """SIGTERM and Ctrl-C set ``stop``; the handlers they had, for ``restore_signals``."""

    def handler(signum: int, _frame: object) -> None:
        stop.set()

    return {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}


def restore_signals(previous: dict[int, object]) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)  # type: ignore[arg-type]
