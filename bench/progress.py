"""How much an edition's progress poll costs while a big edition sends, on PostgreSQL.

An edition of 100,000 deliveries (``--recipients``) is made as ``bench/deliver.py`` makes it;
then half are marked sent over the last ten minutes, one in fifty failed, a few retrying, and
the rest owed. Times ``stats.progress`` (what the newsroom polls every few seconds),
``figures`` and ``rate_series`` (median of 20 calls each), with the index migration 0016 adds
(``ix_deliveries_edition_status``) and without it.

    .venv/bin/python bench/progress.py
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text

from bench.common import postgres_database
from bench.deliver import prepare
from publisher import store
from publisher.editions import stats

CALLS = 20


def median_ms(call: Callable[[], object]) -> float:
    times = []
    for _ in range(CALLS):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    args = parser.parse_args()
    with postgres_database() as url, tempfile.TemporaryDirectory() as folder:
        if url is None:
            return
        settings, _env, edition_id = prepare(
            url, Path(folder), args.recipients, "smtp://127.0.0.1:9", topics=False
        )
        engine = store.make_engine(url)
        now = datetime.now(UTC)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "UPDATE deliveries SET status = 'sent', attempts = 1, "
                    "sent_at = :now - make_interval(secs => (id % 600)) WHERE id % 2 = 0"
                ),
                {"now": now},
            )
            conn.execute(
                text(
                    "UPDATE deliveries SET status = 'failed', attempts = 1, "
                    "last_error = '550 5.1.1 <' || email || '>: user unknown' WHERE id % 50 = 1"
                )
            )
            conn.execute(text("UPDATE deliveries SET status = 'retry' WHERE id % 97 = 3"))
            conn.execute(
                text("UPDATE deliveries SET status = 'sending' WHERE id % 2 = 1 AND id < 400")
            )
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
        shown = stats.progress(engine, edition_id, now=now)
        print(
            f"{args.recipients:,} deliveries: sent {shown.sent:,}, failed {shown.failed:,}, "
            f"retrying {shown.retrying:,}, owed {shown.owed:,}, rate {shown.rate}/s, "
            f"eta {shown.eta_seconds} s"
        )
        for label in ("with ix_deliveries_edition_status", "without it"):
            poll = median_ms(lambda: stats.progress(engine, edition_id, now=now))
            whole = median_ms(lambda: stats.figures(engine, settings, edition_id, now=now))
            chart = median_ms(lambda: stats.rate_series(engine, edition_id))
            print(
                f"{label}: progress {poll:.1f} ms, figures {whole:.1f} ms, "
                f"rate_series {chart:.1f} ms (median of {CALLS})"
            )
            with engine.begin() as conn:
                conn.execute(text("DROP INDEX IF EXISTS ix_deliveries_edition_status"))
            with engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
        engine.dispose()


if __name__ == "__main__":
    main()
