"""The tests' shared constants and plain helpers: the fixed clock, the secret key, the sample
articles, settings built from a dict, and polling until a condition holds."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from publisher.articles.publish import STARTER_SCHEDULES
from publisher.settings import Settings, load_settings

__all__ = [
    "EXAMPLES",
    "LOOPBACK",
    "NOW",
    "PG_URL",
    "SECRET",
    "Clock",
    "make_settings",
    "wait_for",
]

PG_URL = os.environ.get(
    "PUBLISHER_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
SECRET = "test-secret-key-0123456789-abcdefghijklmnop"
EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "articles"
LOOPBACK = "127.0.0.0/8"  # PUBLISHER_FETCH_ALLOW_HOSTS for tests whose servers are local


def make_settings(tmp_path: Path, **values: str) -> Settings:
    """Settings for a site in ``tmp_path`` (the starter timetable unless one is there), with
    ``values`` over the defaults, read as the environment would give them."""
    timetable = tmp_path / "schedules.yaml"
    if not timetable.exists():
        timetable.write_text(STARTER_SCHEDULES)
    environ = {
        "PUBLISHER_VAR_DIR": str(tmp_path / "var"),
        "PUBLISHER_SECRET_KEY": SECRET,
        "PUBLISHER_SCHEDULES": str(tmp_path / "schedules.yaml"),
        "PUBLISHER_SITE_URL": "https://news.example.com",
        # The tests' feed servers and hubs listen on loopback, which the daemon refuses to
        # fetch from by default (issue 24); a test of that default passes "" here.
        "PUBLISHER_FETCH_ALLOW_HOSTS": LOOPBACK,
        **values,
    }
    return load_settings(environ, env_file=None)


class Clock:
    """The app's only "now": a test moves it on instead of waiting."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def wait_for(condition: Any, what: str, seconds: float = 30) -> Any:
    """``condition()``'s first truthy value, asked every 0.1 s; fails after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not (found := condition()):
        assert time.monotonic() < deadline, f"no {what} within {seconds} s"
        time.sleep(0.1)
    return found
