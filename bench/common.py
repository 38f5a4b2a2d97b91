"""Helpers shared by the bench scripts: fresh databases and measured subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, create_engine, insert, text
from sqlalchemy.engine import make_url

from publisher import store
from publisher.models import Subscriber, Subscription

CATEGORIES = [
    "Culture",
    "Trade",
    "Transport",
    "Malaysia",
    "Singapore",
    "Korea",
    "Thailand",
    "Business",
    "Travel",
    "Brand Studio",
]

PG_URL = os.environ.get(
    "PUBLISHER_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@contextmanager
def postgres_database() -> Iterator[str | None]:
    """A fresh PostgreSQL database's URL (None when no server answers); dropped afterwards."""
    admin_url = make_url(PG_URL).set(drivername="postgresql+psycopg")
    name = f"publisher_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        print(f"PostgreSQL unavailable, skipped: {exc}".splitlines()[0])
        yield None
        return
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_rss_mb: float
    stdout: str
    cpu_seconds: float = 0.0  # user + system, the command and the children it waited for


def measure(args: list[str], env: dict[str, str], cwd: Path) -> Run:
    """Run a command to completion; wall time and the child's peak resident memory."""
    started = time.perf_counter()
    proc = subprocess.Popen(args, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    out = proc.stdout.read().decode() if proc.stdout else ""
    err = proc.stderr.read().decode() if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(args)} failed:\n{err}")
    return Run(seconds, usage.ru_maxrss / 1024, out, usage.ru_utime + usage.ru_stime)


def publisher_env(database_url: str, var_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUBLISHER_")}
    env.update(
        PUBLISHER_DATABASE_URL=database_url,
        PUBLISHER_VAR_DIR=str(var_dir),
        PUBLISHER_SECRET_KEY="bench-secret-key-0123456789-abcdefghijkl",
    )
    return env


def add_confirmed_subscribers(engine: Engine, count: int, now: datetime, digest: str) -> None:
    """``count`` confirmed subscribers of ``digest`` (member0@example.com ...), in bulk."""
    subscribers = Subscriber.__table__  # type: ignore[attr-defined]
    subscriptions = Subscription.__table__  # type: ignore[attr-defined]
    for first in range(0, count, 10_000):
        rows = [
            {
                "id": n + 1,
                "email": f"member{n}@example.com",
                "name": f"Member {n}",
                "status": "confirmed",
                "created_at": now,
                "updated_at": now,
                "confirmed_at": now,
            }
            for n in range(first, min(count, first + 10_000))
        ]
        with store.writing(engine) as session:
            session.execute(insert(subscribers), rows)
            session.execute(
                insert(subscriptions), [{"subscriber_id": r["id"], "digest": digest} for r in rows]
            )
