"""Fixtures for every package's tests: real SQLite and real PostgreSQL engines, settings
passed as dicts, a real SMTP server. Plain helpers live in tests/support.py and its kin."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

from publisher import store
from publisher.settings import Settings
from tests.smtp import SmtpServer
from tests.support import PG_URL, make_settings

__all__ = [
    "database_url",
    "engine",
    "pg_database",
    "pytest_collection_modifyitems",
    "settings",
    "smtp",
    "sqlite_template",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test on PostgreSQL is marked ``postgresql``, so that `make check` can leave them
    to `make test`: the fixture's own half of each pair, and tests that pick it by hand."""
    for item in items:
        params = getattr(item, "callspec", None)
        picked = params is not None and params.params.get("database_url") == "postgresql"
        if picked or "pg_database" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgresql)


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


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database migrated once for the session, for tests to copy: running the
    migrations takes about half a second, a copy of their result next to nothing."""
    path = tmp_path_factory.mktemp("template") / "publisher.db"
    engine = store.make_engine(f"sqlite:///{path}")
    store.migrate(engine)
    engine.dispose()  # the last connection gone, the write-ahead log is in the file
    return path


def _truncate(engine: Engine) -> None:
    tables = ", ".join(t.name for t in SQLModel.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty, migrated database: SQLite in tmp_path, or the PostgreSQL one."""
    if request.param == "sqlite":
        path = tmp_path / "publisher.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    url = request.getfixturevalue("pg_database")
    engine = store.make_engine(url)
    _truncate(engine)
    engine.dispose()
    yield url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on ``database_url``'s database, disposed of afterwards."""
    engine = store.make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """A site's settings in ``tmp_path``, on ``database_url``'s database."""
    return make_settings(tmp_path, PUBLISHER_DATABASE_URL=database_url)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd) on loopback that records what it is given."""
    server = SmtpServer()
    server.start()
    yield server
    server.stop()
