"""Extra sending processes for `publisher run` and `publisher deliver` (--processes N): each
is a `publisher deliver` child with its own connections and heartbeat, so the GIL of one
process stops being the ceiling. A child stops with its parent, even one killed with -9."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading

TALLY = re.compile(r"(sent|failed|retried|bounced|cancelled|deferred) (\d+)")


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
