"""The newsroom's dashboard and audit page with a million subscribers (issue 12).

A million subscribers signed up over two years (all four statuses), an edition sent to the
confirmed ones (a delivery row each), 200,000 audit entries; then the median time of the
dashboard's figures, each query apart and all together, and of audit pages (the first, a
filtered one, one deep in the trail), on SQLite and, when it answers, PostgreSQL.

    .venv/bin/python bench/dashboard.py [--subscribers 1000000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, update

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import postgres_database
from publisher import store
from publisher.models import AuditEntry, Subscriber, Subscription
from publisher.newsroom import dashboard
from publisher.schedules import load_timetable
from publisher.settings import Settings
from tests.support import make_settings

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
STATUSES = ("confirmed", "confirmed", "confirmed", "pending", "unsubscribed", "bounced")


def fill(engine: Engine, count: int) -> None:
    subscribers = Subscriber.__table__  # type: ignore[attr-defined]
    subscriptions = Subscription.__table__  # type: ignore[attr-defined]
    audit = AuditEntry.__table__  # type: ignore[attr-defined]
    span = timedelta(days=730).total_seconds()
    for first in range(0, count, 20_000):
        rows = [
            {
                "id": n + 1,
                "email": f"member{n}@example.com",
                "name": "",
                "status": STATUSES[n % len(STATUSES)],
                "created_at": NOW - timedelta(seconds=span * (1 - n / count)),
                "updated_at": NOW,
                "link_key": "",
            }
            for n in range(first, min(count, first + 20_000))
        ]
        with store.writing(engine) as session:
            session.execute(insert(subscribers), rows)
            session.execute(
                insert(subscriptions), [{"subscriber_id": r["id"], "digest": "daily"} for r in rows]
            )
    with store.writing(engine) as session:
        edition, _ = store.create_edition(
            session, "daily", "2026-11-30", nominal_at=NOW - timedelta(hours=5), now=NOW
        )
        store.save_rendering(session, edition.id or 0, subject="x", html="x", text="x", count=1)
        store.start_deliveries(session, store.edition_by_id(session, edition.id or 0), now=NOW)
        deliveries = store.deliveries_t
        session.execute(
            update(deliveries)
            .where(deliveries.c.subscriber_id % 100 != 0)
            .values(status="sent", sent_at=NOW)
        )
    kinds = ("article", "report", "subscriber", "staff")
    for first in range(0, 200_000, 20_000):
        with store.writing(engine) as session:
            session.execute(
                insert(audit),
                [
                    {
                        "at": NOW - timedelta(minutes=200_000 - n),
                        "actor": f"ed{n % 7}@example.com",
                        "action": f"{kinds[n % 4]}.change",
                        "subject_kind": kinds[n % 4],
                        "subject_id": n,
                        "subject_label": f"subject-{n}",
                        "before": "",
                        "after": "",
                    }
                    for n in range(first, first + 20_000)
                ],
            )


def median_ms(job: Callable[[], Any], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        job()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def measure(name: str, engine: Engine, settings: Settings, rounds: int) -> None:
    timetable = load_timetable(settings.schedules)
    window = NOW - timedelta(days=90)

    def read(query: Callable[..., Any], **kw: Any) -> Callable[[], Any]:
        def job() -> Any:
            with store.reading(engine) as session:
                return query(session, **kw)

        return job

    editor = dashboard.AuditQuery.parse({}, admin=False)[0]
    staff = dashboard.AuditQuery.parse({"kind": "staff", "actor": "ed3@example.com"}, admin=True)[0]
    jobs: dict[str, Callable[[], Any]] = {
        "subscribers by status": read(store.subscriber_statuses),
        "sign-ups by 15 min, 90 days": read(store.signups, since=window, until=NOW),
        "queue": read(store.queue_counts, now=NOW),
        "last editions and counts": lambda: dashboard._editions(engine, dashboard.RECENT_EDITIONS),
        "whole dashboard": lambda: dashboard.dashboard(engine, settings, timetable, now=NOW),
        "live figures (polled)": lambda: dashboard.live(engine, settings, now=NOW),
        "audit, first page (editor)": lambda: dashboard.audit(
            engine, editor, admin=False, zone=settings.zone
        ),
        "audit, staff by one actor": lambda: dashboard.audit(
            engine, staff, admin=True, zone=settings.zone
        ),
        "audit, page deep in the trail": lambda: dashboard.audit(
            engine, editor, admin=False, zone=settings.zone, before_id=1000
        ),
    }
    for label, job in jobs.items():
        print(f"{name:10} {label:32} {median_ms(job, rounds):8.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    with postgres_database() as pg_url:
        urls = {"sqlite": f"sqlite:///{folder}/bench.db"}
        if pg_url:
            urls["postgresql"] = pg_url
        for name, url in urls.items():
            settings = make_settings(folder, PUBLISHER_DATABASE_URL=url)
            engine = store.make_engine(url)
            store.migrate(engine)
            started = time.perf_counter()
            fill(engine, args.subscribers)
            print(
                f"{name}: {args.subscribers:,} subscribers in {time.perf_counter() - started:.0f} s"
            )
            measure(name, engine, settings, args.rounds)
            engine.dispose()


if __name__ == "__main__":
    main()
