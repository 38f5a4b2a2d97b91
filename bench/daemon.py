"""Three `publisher run` daemons on one PostgreSQL sending one 100,000-recipient edition to
Postfix's smtp-sink, against one daemon on the same machine.

Each run waits for a digest's next send time (the next minute), so the edition is made by the
timetable's own job. Prints messages per second (first to last accepted message), the ratio of
three daemons to one, and the time from the nominal send time to the first message.

    .venv/bin/python bench/daemon.py [--recipients 100000]
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import add_confirmed_subscribers, postgres_database, publisher_env
from publisher import store
from publisher.articles import publish
from publisher.models import Delivery
from publisher.settings import load_settings
from tests.browser import free_port


def prepare(url: str, work: Path, count: int, smtp_url: str) -> tuple[dict[str, str], datetime]:
    now = datetime.now(UTC)
    due = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    if (due - now).total_seconds() < 20:
        due += timedelta(minutes=1)
    schedules = work / "schedules.yaml"
    schedules.write_text(
        f'timezone: UTC\ndigests:\n  daily:\n    cron: "{due.minute} {due.hour} * * *"\n'
        "    catch_up: 1m\n"
    )
    env = publisher_env(url, work / "var") | {
        "PUBLISHER_SMTP_URL": smtp_url,
        "PUBLISHER_SCHEDULES": str(schedules),
        "PUBLISHER_SITE_URL": "https://news.example.com",
        "PUBLISHER_MAIL_FROM": "Newsflash Asia <newsletter@news.example.com>",
    }
    settings = load_settings(env, env_file=None)
    engine = store.make_engine(url)
    store.migrate(engine)
    stories = work / "stories.jsonl"
    stories.write_text(
        "\n".join(
            json.dumps(
                {
                    "title": f"Story {n}",
                    "summary": "Summary " * 60,
                    "published_at": (now - timedelta(minutes=n + 1)).isoformat(),
                }
            )
            for n in range(12)
        )
    )
    publish.import_articles(engine, settings, [stories], now=now, actor="test")
    add_confirmed_subscribers(engine, count, now, "daily")
    engine.dispose()
    return env, due


def run(daemons: int, count: int, port: int) -> tuple[float, float]:
    """(messages per second, seconds from the send time to the first message)."""
    with postgres_database() as url, tempfile.TemporaryDirectory() as tmp:
        if url is None:
            sys.exit("this benchmark needs PostgreSQL")
        work = Path(tmp)
        env, due = prepare(url, work, count, f"smtp://127.0.0.1:{port}")
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "publisher", "run", "--no-web"],
                env=env,
                cwd=work,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(daemons)
        ]
        engine = store.make_engine(url)
        deliveries = Delivery.__table__  # type: ignore[attr-defined]
        try:
            while True:
                time.sleep(1)
                with store.reading(engine) as session:
                    sent = session.scalar(
                        select(func.count())
                        .select_from(deliveries)
                        .where(deliveries.c.status == "sent")
                    )
                if sent == count:
                    break
                if datetime.now(UTC) > due + timedelta(minutes=30):
                    sys.exit(f"only {sent} of {count} sent")
            with store.reading(engine) as session:
                first, last = session.execute(
                    select(func.min(deliveries.c.sent_at), func.max(deliveries.c.sent_at))
                ).one()
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            for proc in procs:
                proc.wait(timeout=60)
            engine.dispose()
        first = first.replace(tzinfo=UTC) if first.tzinfo is None else first
        last = last.replace(tzinfo=UTC) if last.tzinfo is None else last
        return count / max((last - first).total_seconds(), 1e-6), (first - due).total_seconds()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    args = parser.parse_args()
    port = free_port()
    sink = subprocess.Popen(
        ["/usr/sbin/smtp-sink", "-u", "nobody", "-c", f"127.0.0.1:{port}", "256"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        one, one_latency = run(1, args.recipients, port)
        print(
            f"1 daemon:  {one:6,.0f} msg/s; first message {one_latency:4.1f} s after the send time"
        )
        three, three_latency = run(3, args.recipients, port)
        print(
            f"3 daemons: {three:6,.0f} msg/s ({three / one:.2f} x one daemon); first message "
            f"{three_latency:4.1f} s after the send time"
        )
    finally:
        sink.terminate()
        sink.wait()


if __name__ == "__main__":
    main()
