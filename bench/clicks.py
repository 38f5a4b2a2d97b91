"""The per-message cost of click tracking's link rewriting, against tracking off, in one run.

First the whole send, as ``bench/deliver.py`` measures it: ``publisher deliver --once`` (4
connections, process start-up included) to Postfix's ``smtp-sink``, ``--recipients`` messages
(10,000) with ``PUBLISHER_TRACK_CLICKS=off`` and ``aggregate``, each twice in alternating order
on a fresh SQLite database (``--database``); prints messages a second, CPU a message and the
ratio (target: at least 0.90).

Then the per-message work alone, the pessimistic bound: on an edition made as
``bench/deliver.py`` makes it (12 stories, about 50 KB a message), what ``Sender`` does for
each message without the network or the database (a reader's values, the SMTP bytes), timed
for ``--messages`` messages with tracking off, ``aggregate`` and ``individual`` in alternating
rounds, so that the machine's load falls on each alike. In a real send each message also costs
the SMTP exchange and its outcome's write, which tracking does not touch.

    .venv/bin/python bench/clicks.py --database sqlite [--no-send]
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import measure, postgres_database
from bench.deliver import prepare
from publisher import store
from publisher.delivery import sending
from publisher.settings import Settings
from tests.browser import free_port

ROUNDS = 5
MODES = ("off", "aggregate", "individual")


def per_second(sender: sending.Sender, edition_id: int, count: int) -> float:
    """Messages a second of the per-message work: a reader's values and the SMTP bytes."""
    template = sender.book.whole(edition_id)
    started = time.perf_counter()
    for n in range(count):
        claimed = store.Claimed(n + 1, edition_id, n + 1, f"member{n}@example.com", 0, "key")
        template.render(sender._recipient(claimed, f"Member {n}")).as_wire()
    return count / (time.perf_counter() - started)


def whole_sends(database: str, count: int) -> None:
    """``deliver --once`` to smtp-sink with tracking off and on, alternating, twice each."""
    sink = "/usr/sbin/smtp-sink"
    if not Path(sink).exists():
        print("no smtp-sink (Debian's postfix package): whole sends skipped")
        return
    port = free_port()
    sink_proc = subprocess.Popen(
        [sink, "-u", "nobody", "-c", f"127.0.0.1:{port}", "256"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(0.5)
    results: dict[str, list[tuple[float, float]]] = {"off": [], "aggregate": []}
    try:
        for mode in ("off", "aggregate", "aggregate", "off"):
            with ExitStack() as stack:
                folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
                url = f"sqlite:///{folder / 'send.db'}"
                if database == "postgresql":
                    url = stack.enter_context(postgres_database()) or ""
                    if not url:
                        return
                _settings, env, _edition = prepare(
                    url, folder, count, f"smtp://127.0.0.1:{port}", False
                )
                env["PUBLISHER_TRACK_CLICKS"] = mode
                command = [sys.executable, "-m", "publisher", "deliver", "--once"]
                run = measure(command, env=env, cwd=folder)
                found = re.search(r"sent (\d+)", run.stdout)
                sent = int(found.group(1)) if found else 0
                assert sent == count, run.stdout
                results[mode].append((sent / run.seconds, run.cpu_seconds / sent * 1e6))
                print(
                    f"deliver --once, track_clicks={mode:<9} {sent:,} messages: "
                    f"{sent / run.seconds:6,.0f} msg/s, {run.cpu_seconds / sent * 1e6:5,.0f} µs "
                    "CPU a message",
                    flush=True,
                )
    finally:
        sink_proc.terminate()
        sink_proc.wait()
    off = statistics.mean(r for r, _ in results["off"])
    on = statistics.mean(r for r, _ in results["aggregate"])
    cpu_off = statistics.mean(c for _, c in results["off"])
    cpu_on = statistics.mean(c for _, c in results["aggregate"])
    print(
        f"whole send: aggregate {on:,.0f} msg/s against off {off:,.0f}: ratio {on / off:.3f} "
        f"(CPU a message {cpu_on:,.0f} against {cpu_off:,.0f} µs); target at least 0.90: "
        f"{'met' if on / off >= 0.9 else 'NOT met'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--no-send", action="store_true", help="only the per-message work")
    args = parser.parse_args()
    if not args.no_send:
        whole_sends(args.database, args.recipients)
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        if args.database == "postgresql":
            url = stack.enter_context(postgres_database())
            if url is None:
                return
        else:
            url = f"sqlite:///{folder / 'bench.db'}"
        settings, _env, edition_id = prepare(url, folder, 100, "smtp://127.0.0.1:9", False)
        engine = store.make_engine(url)
        senders = {}
        for mode in MODES:
            tracked: Settings = settings.model_copy(update={"track_clicks": mode})
            senders[mode] = sending.Sender(engine, tracked, clock=lambda: datetime.now(UTC))
        one = senders["aggregate"].book.whole(edition_id)
        links = one._wire[1].slots.count("reader") + one._wire[0].slots.count("reader")
        print(f"{links} tracked links a message (HTML and text parts)")
        rates: dict[str, list[float]] = {mode: [] for mode in MODES}
        per_round = max(args.messages // ROUNDS, 1)
        for _ in range(ROUNDS):
            for mode in MODES:
                rates[mode].append(per_second(senders[mode], edition_id, per_round))
        base = statistics.median(rates["off"])
        for mode in MODES:
            rate = statistics.median(rates[mode])
            cost = 1e6 / rate
            print(
                f"track_clicks={mode:<10} {rate:>8,.0f} messages/s ({cost:.1f} µs a message), "
                f"ratio to off {rate / base:.3f}"
            )
        ratio = statistics.median(rates["aggregate"]) / base
        print(
            f"per-message work alone: aggregate {ratio:.3f} of off (the whole send is the "
            "target's measure; this is its pessimistic bound)"
        )
        engine.dispose()


if __name__ == "__main__":
    main()
