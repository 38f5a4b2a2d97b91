"""Send one edition to 100,000 confirmed subscribers through Postfix's smtp-sink.

For PostgreSQL and SQLite: the edition (12 stories, about 60 KB a message) is made, its
deliveries created, and `publisher deliver --once` sends them all over 4 connections. In the
same run, as ceilings: Postfix's smtp-source and a bare Python smtplib loop sending the same
bytes over the same number of connections. Prints messages per second, the ratios to both,
and the sender's peak memory. Targets: 1,000 messages a second end to end, 1.2 times the
smtplib loop, half of smtp-source, under 250 MB.

With --topics the 12 stories are in 6 categories (two each) and three readers in four chose one
or two categories, so the sender renders a variant per set of stories on the way (it prints
how many).

    .venv/bin/python bench/deliver.py [--recipients 100000] [--topics]
"""

from __future__ import annotations

import argparse
import json
import os
import re
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
    url: str, work: Path, count: int, smtp_url: str, topics: bool
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
    stories = work / "stories.jsonl"
    stories.write_text(
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
            for n in range(12)
        )
    )
    publish.import_articles(engine, settings, [stories], now=now)
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


def smtplib_loop(port: int, message: bytes, count: int) -> float:
    """The bare ceiling: smtplib.sendmail of the same bytes on CONNECTIONS connections."""

    def one(n: int) -> None:
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            for i in range(n):
                smtp.sendmail("newsletter@news.example.com", f"member{i}@example.com", message)

    threads = [
        threading.Thread(target=one, args=(count // CONNECTIONS,)) for _ in range(CONNECTIONS)
    ]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return (count // CONNECTIONS * CONNECTIONS) / (time.perf_counter() - started)


def smtp_source(port: int, size: int, count: int) -> float | None:
    if not shutil.which("smtp-source") and not Path("/usr/sbin/smtp-source").exists():
        return None
    started = time.perf_counter()
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
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--ceiling-messages", type=int, default=20_000)
    parser.add_argument("--topics", action="store_true", help="readers choose categories")
    args = parser.parse_args()
    if args.topics:
        variants = {frozenset(chosen_topics(n)) for n in range(args.recipients)} - {frozenset()}
        print(f"readers chose categories: {len(variants)} variants of the edition to render")
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
    try:
        with tempfile.TemporaryDirectory() as tmp:
            targets = []
            with postgres_database() as pg_url:
                if pg_url:
                    targets.append(("PostgreSQL", pg_url))
                targets.append(("SQLite", f"sqlite:///{Path(tmp) / 'deliver.db'}"))
                message = b""
                for label, url in targets:
                    work = Path(tmp) / label
                    work.mkdir()
                    settings, env, edition_id = prepare(
                        url, work, args.recipients, f"smtp://127.0.0.1:{port}", args.topics
                    )
                    message = sample_message(settings, url, edition_id)
                    run = measure(
                        [sys.executable, "-m", "publisher", "deliver", "--once"], env=env, cwd=work
                    )
                    sent = int(re.search(r"sent (\d+)", run.stdout).group(1))  # type: ignore[union-attr]
                    assert sent == args.recipients, run.stdout
                    rate = sent / run.seconds
                    size = len(message)
                    print(
                        f"{label:<10} {sent:,} messages of {size:,} bytes in {run.seconds:5.1f} s:"
                        f" {rate:6,.0f} msg/s, peak RSS {run.peak_rss_mb:5.0f} MB"
                    )
                    targets_rates = rate
                    del targets_rates
            loop = smtplib_loop(port, message, args.ceiling_messages)
            source = smtp_source(port, len(message), args.ceiling_messages)
            print(f"bare smtplib loop, same bytes, {CONNECTIONS} connections: {loop:6,.0f} msg/s")
            if source:
                print(f"smtp-source -s {CONNECTIONS} -l {len(message)}: {source:6,.0f} msg/s")
    finally:
        sink_proc.terminate()
        sink_proc.wait()


if __name__ == "__main__":
    os.environ.pop("PUBLISHER_DATABASE_URL", None)
    main()
