"""Fixtures: real SQLite and real PostgreSQL engines, settings passed as dicts."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

from publisher import store
from publisher.articles.publish import STARTER_SCHEDULES
from publisher.settings import Settings, load_settings

# One Playwright for the whole session: a second sync_playwright() in the same process, as two
# modules importing the fixture each got, fails with "Sync API inside the asyncio loop".
from tests.browser import browser as browser
from tests.smtp import SmtpServer

PG_URL = os.environ.get(
    "PUBLISHER_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
SECRET = "test-secret-key-0123456789-abcdefghijklmnop"


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session; its URL."""
    admin_url = make_url(PG_URL).set(drivername="postgresql+psycopg")
    name = f"publisher_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        admin.dispose()
        message = f"PostgreSQL at {PG_URL} is not available: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    engine = store.make_engine(url)
    store.migrate(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate(engine: Engine) -> None:
    tables = ", ".join(t.name for t in SQLModel.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty, migrated database: SQLite in tmp_path, or the PostgreSQL one."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'publisher.db'}"
        engine = store.make_engine(url)
        store.migrate(engine)
        engine.dispose()
        yield url
        return
    url = request.getfixturevalue("pg_database")
    engine = store.make_engine(url)
    _truncate(engine)
    engine.dispose()
    yield url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = store.make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, PUBLISHER_DATABASE_URL=database_url)


def make_settings(tmp_path: Path, **values: str) -> Settings:
    timetable = tmp_path / "schedules.yaml"
    if not timetable.exists():
        timetable.write_text(STARTER_SCHEDULES)
    environ = {
        "PUBLISHER_VAR_DIR": str(tmp_path / "var"),
        "PUBLISHER_SECRET_KEY": SECRET,
        "PUBLISHER_SCHEDULES": str(tmp_path / "schedules.yaml"),
        "PUBLISHER_SITE_URL": "https://news.example.com",
        **values,
    }
    return load_settings(environ, env_file=None)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd) on loopback that records what it is given."""
    server = SmtpServer()
    server.start()
    yield server
    server.stop()
