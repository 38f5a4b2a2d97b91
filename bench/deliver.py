"""Send one edition through Postfix's smtp-sink, beside a bare smtplib loop and smtp-source.

Two shapes: ``small`` (20,000 recipients, 6 stories: about 27 KB a message) and ``large``
(100,000 recipients, 12 stories: about 50 KB). For each database (PostgreSQL, SQLite) and each
number of sending processes, the edition is made, its deliveries created, and
`publisher deliver --once --processes N` sends them all over 4 connections a process (process
start-up included). In the same run, with the same message bytes and 4 connections: the bare
smtplib loop and smtp-source (same size). Prints messages per second, each ratio, the peak
memory of the sending process, and the targets (1.2 times the loop, half of smtp-source,
under 250 MB). ``--kill`` also times a resume: kill -9 of the sender a third of the way in,
then `deliver --once` at default settings, to the last message.

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
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Engine, insert

from bench.common import add_confirmed_subscribers, measure, postgres_database, publisher_env
from publisher import delivery, publish, store
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
    plan = delivery.prepare_send(
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
    sender = delivery.Sender(engine, settings, clock=lambda: datetime.now(UTC))
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=[*SHAPES, "both"], default="both")
    parser.add_argument("--database", choices=["postgresql", "sqlite", "both"], default="both")
    parser.add_argument("--processes", default="1", help="comma-separated, e.g. 1,2,4")
    parser.add_argument("--recipients", type=int, help="instead of the shape's count")
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
    try:
        for shape in shapes:
            count, stories = SHAPES[shape]
            count = args.recipients or count
            print(f"== {shape}: {count:,} recipients, {stories} stories")
            rates: list[tuple[str, float, float, float]] = []
            message = b""
            for base in bases:
                for n in processes:
                    with tempfile.TemporaryDirectory() as tmp, postgres_database() as pg_url:
                        if base == "postgresql" and not pg_url:
                            print("PostgreSQL: not available, skipped")
                            break
                        url = (
                            (pg_url or "")
                            if base == "postgresql"
                            else f"sqlite:///{tmp}/deliver.db"
                        )
                        work = Path(tmp)
                        settings, env, edition_id = prepare(
                            url, work, count, f"smtp://127.0.0.1:{port}", args.topics, stories
                        )
                        message = sample_message(settings, url, edition_id)
                        command = [sys.executable, "-m", "publisher", "deliver", "--once"]
                        run = measure([*command, "--processes", str(n)], env=env, cwd=work)
                        sent = int(re.search(r"sent (\d+)", run.stdout).group(1))  # type: ignore[union-attr]
                        assert sent == count, run.stdout
                        rate = sent / run.seconds
                        label = f"{base} x{n}"
                        used = run.cpu_seconds / sent * 1e6
                        rates.append((label, rate, run.peak_rss_mb, used))
                        print(
                            f"{label:<14} {sent:,} messages of {len(message):,} bytes in "
                            f"{run.seconds:5.1f} s: {rate:6,.0f} msg/s, {used:5,.0f} us CPU/msg, "
                            f"peak RSS {run.peak_rss_mb:4.0f} MB (first process)",
                            flush=True,
                        )
                    if args.kill and n == processes[0]:
                        with tempfile.TemporaryDirectory() as tmp, postgres_database() as pg_url:
                            url = (
                                (pg_url or "") if base == "postgresql" else f"sqlite:///{tmp}/k.db"
                            )
                            _, env, _ = prepare(
                                url,
                                Path(tmp),
                                count,
                                f"smtp://127.0.0.1:{port}",
                                args.topics,
                                stories,
                            )
                            seconds, rest = kill_and_resume(url, env, Path(tmp), count)
                            print(
                                f"{base}: kill -9 a third of the way in, then deliver --once: "
                                f"the remaining {rest:,} sent in {seconds:.1f} s "
                                f"(target: under 30 s to the last one)",
                                flush=True,
                            )
            ceiling = min(count, 20_000)
            loop, loop_cpu = smtplib_loop(port, message, ceiling)
            measured = smtp_source(port, len(message), ceiling)
            source = measured[0] if measured else None
            print(
                f"bare smtplib loop, same bytes, {CONNECTIONS} connections: {loop:6,.0f} msg/s, "
                f"{loop_cpu:5,.0f} us CPU/msg"
            )
            if measured:
                print(
                    f"smtp-source -s {CONNECTIONS} -l {len(message)}: {measured[0]:6,.0f} msg/s, "
                    f"{measured[1]:5,.0f} us CPU/msg"
                )
            for label, rate, rss, _ in rates:
                vs_source = f"{rate / source:4.2f} of smtp-source (target 0.5)" if source else ""
                verdict = rate >= 1.2 * loop and (not source or rate >= 0.5 * source) and rss < 250
                print(
                    f"  {label:<14} {rate / loop:4.2f} of the loop (target 1.2), {vs_source}: "
                    f"{'targets met' if verdict else 'targets NOT met'}"
                )
    finally:
        sink_proc.terminate()
        sink_proc.wait()


if __name__ == "__main__":
    os.environ.pop("PUBLISHER_DATABASE_URL", None)
    main()
