"""Send one edition through Postfix's smtp-sink, beside a bare smtplib loop and smtp-source.

Two shapes: ``small`` (20,000 recipients, 6 stories: about 27 KB a message) and ``large``
(100,000 recipients, 12 stories: about 50 KB). For each database (PostgreSQL, SQLite) and each
number of sending processes, the edition is made, its deliveries created, and
`publisher deliver --once --processes N` sends them all over 4 connections a process (process
start-up included); right after each, with the same message bytes and 4 connections, the bare
smtplib loop and smtp-source (same size; ``--baseline`` messages), so that each ratio compares
runs made under the same load. Prints, a line per shape, database and process count: msg/s,
CPU a message, the peak memory of the largest sending process, both baselines, each ratio and
PASS/FAIL per target (1.2 times the loop, half of smtp-source, under 250 MB), with the load
average. ``--kill`` also times a resume: kill -9 of the sender a third of the way in, then
`deliver --once` at default settings, to the last message (target: under 30 s).

With --topics the stories are in 6 categories and three readers in four chose one or two
categories, so the sender renders a variant per set of stories on the way.

    .venv/bin/python bench/deliver.py --shape small --database sqlite --processes 1,2,4 --kill
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Engine, insert

from bench.common import add_confirmed_subscribers, measure, postgres_database, publisher_env
from publisher import store
from publisher.articles import publish
from publisher.delivery import sending
from publisher.models import Interest
from publisher.schedules import load_timetable
from publisher.settings import Settings, load_settings, with_secret_key
from publisher.templating import make_environment
from tests.browser import free_port

CONNECTIONS = 4
TIMETABLE = 'timezone: Asia/Singapore\ndigests:\n  daily:\n    cron: "0 7 * * *"\n'
SUMMARY = (
    "Growers in Pahang say refrigerated rail cuts the trip to Kunming to under three days "
    "and halves spoilage, but smaller farms worry about minimum volumes. "
) * 6


TOPICS = ("Trade", "Malaysia", "Transport", "Singapore", "Culture", "Weather")


def chosen_topics(n: int) -> set[int]:
    """The category numbers subscriber ``n`` chose: none for one in four, else one or two."""
    if n % 4 == 0:
        return set()
    return {n % 6, (n // 6) % 6}


def prepare(
    url: str, work: Path, count: int, smtp_url: str, topics: bool, stories: int = 12
) -> tuple[Settings, dict[str, str], int]:
    (work / "schedules.yaml").write_text(TIMETABLE)
    env = publisher_env(url, work / "var") | {
        "PUBLISHER_SMTP_URL": smtp_url,
        "PUBLISHER_SCHEDULES": str(work / "schedules.yaml"),
        "PUBLISHER_SEND_CONCURRENCY": str(CONNECTIONS),
        "PUBLISHER_SITE_URL": "https://news.example.com",
        "PUBLISHER_MAIL_FROM": "Newsflash Asia <newsletter@news.example.com>",
    }
    settings = with_secret_key(load_settings(env, env_file=None))
    engine = store.make_engine(url)
    store.migrate(engine)
    digest = load_timetable(settings.schedules).digest("daily")
    now = datetime.now(UTC)
    nominal = digest.last_time(now)
    assert nominal is not None
    path = work / "stories.jsonl"
    path.write_text(
        "\n".join(
            json.dumps(
                {
                    "title": f"Story {n}: durian exporters switch to rail as the corridor opens",
                    "summary": SUMMARY,
                    "image": f"https://images.example.org/{n}.jpg",
                    "editor": "Daniel Tan",
                    "categories": [TOPICS[n % 6]] if topics else ["Trade", "Malaysia"],
                    "ai_assisted": n % 2 == 0,
                    "published_at": (nominal - timedelta(minutes=n + 1)).isoformat(),
                }
            )
            for n in range(stories)
        )
    )
    publish.import_articles(engine, settings, [path], now=now, actor="test")
    add_confirmed_subscribers(engine, count, now, "daily")
    if topics:
        add_interests(engine, count)
    plan = sending.prepare_send(
        engine, settings, load_timetable(settings.schedules), make_environment(), digest, now=now
    )
    assert plan.new_deliveries == count, (plan.new_deliveries, count)
    with store.reading(engine) as session:
        edition = store.edition_by_id(session, plan.edition.id or 0)
    engine.dispose()
    return settings, env, edition.id or 0


def add_interests(engine: Engine, count: int) -> None:
    interests = Interest.__table__  # type: ignore[attr-defined]
    with store.reading(engine) as session:
        ids = {c.name: c.id for c in store.category_list(session)}
    for first in range(0, count, 10_000):
        rows = [
            {"subscriber_id": n + 1, "category_id": ids[TOPICS[t]]}
            for n in range(first, min(count, first + 10_000))
            for t in chosen_topics(n)
        ]
        with store.writing(engine) as session:
            session.execute(insert(interests), rows)


def sample_message(settings: Settings, url: str, edition_id: int) -> bytes:
    engine = store.make_engine(url)
    sender = sending.Sender(engine, settings, clock=lambda: datetime.now(UTC))
    with store.reading(engine) as session:
        claimed = store.Claimed(1, edition_id, 1, "member0@example.com", 0)
        del session
    message = (
        sender.book.whole(edition_id).render(sender._recipient(claimed, "Member 0")).as_bytes()
    )
    engine.dispose()
    return message


def cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def smtplib_loop(port: int, message: bytes, count: int) -> tuple[float, float]:
    """The bare ceiling: smtplib.sendmail of the same bytes on CONNECTIONS connections;
    messages a second and CPU microseconds a message."""

    def one(n: int) -> None:
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            for i in range(n):
                smtp.sendmail("newsletter@news.example.com", f"member{i}@example.com", message)

    threads = [
        threading.Thread(target=one, args=(count // CONNECTIONS,)) for _ in range(CONNECTIONS)
    ]
    started, used = time.perf_counter(), cpu(resource.RUSAGE_SELF)
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sent = count // CONNECTIONS * CONNECTIONS
    return sent / (time.perf_counter() - started), (cpu(resource.RUSAGE_SELF) - used) / sent * 1e6


def smtp_source(port: int, size: int, count: int) -> tuple[float, float] | None:
    if not shutil.which("smtp-source") and not Path("/usr/sbin/smtp-source").exists():
        return None
    started, used = time.perf_counter(), cpu(resource.RUSAGE_CHILDREN)
    subprocess.run(
        [
            "/usr/sbin/smtp-source",
            "-s",
            str(CONNECTIONS),
            "-m",
            str(count),
            "-l",
            str(size),
            "-f",
            "newsletter@news.example.com",
            "-t",
            "member@example.com",
            f"127.0.0.1:{port}",
        ],
        check=True,
    )
    seconds = time.perf_counter() - started
    return count / seconds, (cpu(resource.RUSAGE_CHILDREN) - used) / count * 1e6


SHAPES = {"small": (20_000, 6), "large": (100_000, 12)}


def sent_so_far(url: str) -> int:
    engine = store.make_engine(url)
    with store.reading(engine) as session:
        edition_counts = store.status_counts(session)[0]
    engine.dispose()
    return edition_counts.get("sent", 0)


def kill_and_resume(url: str, env: dict[str, str], work: Path, count: int) -> tuple[float, int]:
    """kill -9 of `deliver --once` a third of the way in; seconds the restarted `deliver
    --once` (default settings) took to send the rest, and how many it sent."""
    command = [sys.executable, "-m", "publisher", "deliver", "--once"]
    victim = subprocess.Popen(command, env=env, cwd=work, stdout=subprocess.DEVNULL)
    while sent_so_far(url) < count // 3:
        time.sleep(0.05)
    victim.kill()
    victim.wait()
    run = measure(command, env=env, cwd=work)
    assert sent_so_far(url) == count, "the resumed sender left messages owed"
    return run.seconds, int(re.search(r"sent (\d+)", run.stdout).group(1))  # type: ignore[union-attr]


@dataclass(frozen=True)
class Row:
    """One product run beside the baselines measured right after it, with the same bytes."""

    label: str
    rate: float
    cpu_us: float
    rss_mb: float
    loop: float
    loop_cpu_us: float
    source: float | None

    def verdicts(self) -> list[tuple[str, bool]]:
        found = [
            (f"{self.rate / self.loop:4.2f} of the loop (>= 1.2)", self.rate >= 1.2 * self.loop)
        ]
        if self.source:
            ratio = self.rate / self.source
            found.append((f"{ratio:4.2f} of smtp-source (>= 0.5)", ratio >= 0.5))
        found.append((f"{self.rss_mb:3.0f} MB (< 250)", self.rss_mb < 250))
        return found


def load_average() -> str:
    return " ".join(f"{n:.1f}" for n in os.getloadavg())


def one_run(
    base: str, n: int, count: int, stories: int, port: int, topics: bool, baseline: int
) -> Row | None:
    """Make the edition, send it with `deliver --once --processes n`, then the baselines."""
    with tempfile.TemporaryDirectory() as tmp, postgres_database() as pg_url:
        if base == "postgresql" and not pg_url:
            return None
        url = (pg_url or "") if base == "postgresql" else f"sqlite:///{tmp}/deliver.db"
        work = Path(tmp)
        settings, env, edition_id = prepare(
            url, work, count, f"smtp://127.0.0.1:{port}", topics, stories
        )
        message = sample_message(settings, url, edition_id)
        command = [sys.executable, "-m", "publisher", "deliver", "--once", "--processes", str(n)]
        run = measure(command, env=env, cwd=work)
    sent = int(re.search(r"sent (\d+)", run.stdout).group(1))  # type: ignore[union-attr]
    assert sent == count, run.stdout
    loop, loop_cpu = smtplib_loop(port, message, baseline)
    measured = smtp_source(port, len(message), baseline)
    row = Row(
        label=f"{base} x{n}",
        rate=sent / run.seconds,
        cpu_us=run.cpu_seconds / sent * 1e6,
        rss_mb=run.peak_rss_mb,
        loop=loop,
        loop_cpu_us=loop_cpu,
        source=measured[0] if measured else None,
    )
    source = f"{row.source:6,.0f}" if row.source else "     -"
    print(
        f"{row.label:<14} {len(message):>7,} B {row.rate:7,.0f} {row.cpu_us:6,.0f} us "
        f"{row.rss_mb:4.0f} MB | loop {row.loop:6,.0f} ({row.loop_cpu_us:4,.0f} us) "
        f"| smtp-source {source} | "
        + ", ".join(f"{text} {'PASS' if ok else 'FAIL'}" for text, ok in row.verdicts())
        + f" | load {load_average()}",
        flush=True,
    )
    return row


def resume(base: str, count: int, stories: int, port: int, topics: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp, postgres_database() as pg_url:
        if base == "postgresql" and not pg_url:
            return
        url = (pg_url or "") if base == "postgresql" else f"sqlite:///{tmp}/k.db"
        _, env, _ = prepare(url, Path(tmp), count, f"smtp://127.0.0.1:{port}", topics, stories)
        seconds, rest = kill_and_resume(url, env, Path(tmp), count)
    print(
        f"{base}: kill -9 a third of the way in, then deliver --once: the remaining "
        f"{rest:,} sent in {seconds:.1f} s (< 30 s to the last one: "
        f"{'PASS' if seconds < 30 else 'FAIL'}) | load {load_average()}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=[*SHAPES, "both"], default="both")
    parser.add_argument("--database", choices=["postgresql", "sqlite", "both"], default="both")
    parser.add_argument("--processes", default="1,2,4", help="comma-separated, e.g. 1,2,4")
    parser.add_argument("--recipients", type=int, help="instead of the shape's count")
    parser.add_argument(
        "--baseline", type=int, default=10_000, help="messages the loop and smtp-source send"
    )
    parser.add_argument("--kill", action="store_true", help="also time a kill -9 resume")
    parser.add_argument("--topics", action="store_true", help="readers choose categories")
    args = parser.parse_args()
    sink = "/usr/sbin/smtp-sink"
    if not Path(sink).exists():
        sys.exit("install Debian's postfix package for smtp-sink and smtp-source")
    port = free_port()
    sink_proc = subprocess.Popen(
        [sink, "-u", "nobody", "-c", f"127.0.0.1:{port}", "256"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(0.5)
    shapes = list(SHAPES) if args.shape == "both" else [args.shape]
    bases = ["postgresql", "sqlite"] if args.database == "both" else [args.database]
    processes = [int(n) for n in args.processes.split(",")]
    print(f"{os.cpu_count()} cores, load average {load_average()} at the start")
    rows: list[Row] = []
    try:
        for shape in shapes:
            count, stories = SHAPES[shape]
            count = args.recipients or count
            baseline = min(count, args.baseline)
            print(
                f"== {shape}: {count:,} recipients, {stories} stories; sender: msg/s, CPU a "
                f"message, peak RSS of the largest process; the loop ({CONNECTIONS} threads) "
                f"and smtp-source -s {CONNECTIONS} send {baseline:,} of the same bytes right after"
            )
            for base in bases:
                for n in processes:
                    row = one_run(base, n, count, stories, port, args.topics, baseline)
                    if row is None:
                        print(f"{base}: not available, skipped")
                        break
                    rows.append(row)
                if args.kill:
                    resume(base, count, stories, port, args.topics)
    finally:
        sink_proc.terminate()
        sink_proc.wait()
    met = sum(all(ok for _, ok in row.verdicts()) for row in rows)
    print(f"targets met in {met} of {len(rows)} runs; load average {load_average()} at the end")


if __name__ == "__main__":
    os.environ.pop("PUBLISHER_DATABASE_URL", None)
    main()
