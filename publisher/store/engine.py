"""The engine factory, sessions, the SQLite write lock, migrations and the table handles.
SQLite is used the way docs/architecture.md says was measured to be safe: WAL, a busy timeout, and
every write transaction opened with ``BEGIN IMMEDIATE`` (deferred BEGIN loses to "database is
locked"). PostgreSQL goes through psycopg 3."""

from __future__ import annotations

import os
import re
import threading
import weakref
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    ExceptionContext,
    create_engine,
    event,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from publisher.errors import ConfigError, OperationalError
from publisher.models import (
    Article,
    ArticleCategory,
    Category,
    Correction,
    Delivery,
    Edition,
    EditionArticle,
    FeedState,
    Interest,
    Stamp,
    Subscriber,
    Subscription,
    WebSubPing,
)

__all__ = [
    "BULK_CACHE_KIB",
    "MIGRATIONS",
    "STATUSES",
    "articles_t",
    "bulk_writing",
    "categories_t",
    "corrections_t",
    "deliveries_t",
    "edition_articles_t",
    "editions_t",
    "feed_state_t",
    "insert_ignore",
    "interests_t",
    "links_t",
    "make_engine",
    "migrate",
    "ping",
    "pings_t",
    "reading",
    "stamps_t",
    "subscribers_t",
    "subscriptions_t",
    "write_lock",
    "writing",
]

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
_MIGRATION_LOCK = 0x6E657773  # pg advisory lock key: two daemons starting never migrate twice

articles_t = Article.__table__  # type: ignore[attr-defined]
categories_t = Category.__table__  # type: ignore[attr-defined]
links_t = ArticleCategory.__table__  # type: ignore[attr-defined]
corrections_t = Correction.__table__  # type: ignore[attr-defined]
stamps_t = Stamp.__table__  # type: ignore[attr-defined]
feed_state_t = FeedState.__table__  # type: ignore[attr-defined]
pings_t = WebSubPing.__table__  # type: ignore[attr-defined]
editions_t = Edition.__table__  # type: ignore[attr-defined]
edition_articles_t = EditionArticle.__table__  # type: ignore[attr-defined]
subscribers_t = Subscriber.__table__  # type: ignore[attr-defined]
subscriptions_t = Subscription.__table__  # type: ignore[attr-defined]
interests_t = Interest.__table__  # type: ignore[attr-defined]
deliveries_t = Delivery.__table__  # type: ignore[attr-defined]

STATUSES = ("published", "unpublished")


# ---------------------------------------------------------------- engine and sessions


def make_engine(url: str, *, held: int = 0) -> Engine:
    """An engine for ``url`` (SQLite file or PostgreSQL), configured for safe concurrent use.
    ``held``: connections kept checked out for a long time (each sending connection's outcome
    writer holds one), on top of the pool's room for short transactions."""
    try:
        parsed = make_url(url)
    except sa_exc.ArgumentError:
        raise ConfigError(f"PUBLISHER_DATABASE_URL: cannot parse {url!r}") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(url, parsed.database, held)
    if backend == "postgresql":
        if parsed.get_driver_name() != "psycopg":
            parsed = parsed.set(drivername="postgresql+psycopg")
        engine = create_engine(parsed, pool_pre_ping=True, pool_size=10 + held, max_overflow=20)
        _translate_connect_errors(engine)
        return engine
    raise ConfigError(
        f"PUBLISHER_DATABASE_URL: {backend!r} is not supported (use sqlite:/// or postgresql://)"
    )


def _sqlite_engine(url: str, database: str | None, held: int) -> Engine:
    memory = not database or database == ":memory:"
    if not memory:
        _private_file(Path(database or ""))
    sized = {} if memory else {"pool_size": 5 + held, "max_overflow": 10}
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **sized)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's begin event (below) issue BEGIN itself, as pysqlite's legacy
        # implicit transactions lost updates under concurrency (docs/architecture.md).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("sqlite_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    _translate_connect_errors(engine)
    return engine


def _private_file(path: Path) -> None:
    """The database file made readable by its owner only (0600; issue 24: it holds every
    reader's address and link key), before SQLite opens it: SQLite gives its -wal and -shm
    files the database's own mode. A file an older version made readable by others is
    narrowed too, with any -wal and -shm beside it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    except OSError:
        return  # SQLite's own open says what is wrong, in its words
    for each in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            mode = each.stat().st_mode
            if mode & 0o077:
                each.chmod(mode & 0o700)
        except OSError:  # not there, or someone else's: left as it is
            continue


def _translate_connect_errors(engine: Engine) -> None:
    @event.listens_for(engine, "handle_error")
    def _on_error(context: ExceptionContext) -> None:
        if context.is_disconnect or context.connection is None:
            url = engine.url.render_as_string(hide_password=True)
            reason = str(context.original_exception).strip().splitlines()[0]
            raise OperationalError(f"cannot reach the database at {url}: {reason}")


_WRITE_LOCKS: weakref.WeakKeyDictionary[Any, threading.Lock] = weakref.WeakKeyDictionary()


def write_lock(engine: Engine | Connection) -> AbstractContextManager[object]:
    """Held around each write transaction on SQLite: threads of one process queue here
    instead of in SQLite's busy handler, which sleeps in growing steps and made four sending
    threads spend a quarter of their time waiting for BEGIN IMMEDIATE. Other processes still
    meet at the busy timeout. A no-op on PostgreSQL."""
    if engine.dialect.name != "sqlite":
        return nullcontext()
    pool = engine.pool if isinstance(engine, Engine) else engine.engine.pool
    lock = _WRITE_LOCKS.get(pool)
    if lock is None:
        lock = _WRITE_LOCKS.setdefault(pool, threading.Lock())
    return lock


@contextmanager
def writing(engine: Engine) -> Iterator[Session]:
    """A session in one write transaction, committed on success, rolled back on error."""
    bound = engine.execution_options(sqlite_immediate=True)
    with (
        write_lock(engine),
        Session(bound, expire_on_commit=False) as session,
        session.begin(),
    ):
        yield session


@contextmanager
def reading(engine: Engine) -> Iterator[Session]:
    """A session for reads; its transaction is rolled back at the end."""
    with Session(engine, expire_on_commit=False) as session:
        yield session


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (safe to call from several daemons at once)."""
    if _at_head(engine):
        return  # nothing to do: no need to load Alembic and its scripts (issue 15)
    # Alembic loaded here, not at import: a process that finds the schema current, or a
    # child sending process, never needs it (about 0.2 s of CPU, issue 15).
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.connect() as outer:
        sqlite = outer.dialect.name == "sqlite"
        if sqlite:
            # A migration that rebuilds a table drops the old one: with foreign keys on, that
            # deletes the rows pointing at it. Off outside the transaction, as SQLite asks.
            outer.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
        try:
            with outer.execution_options(sqlite_immediate=True).begin():
                if outer.dialect.name == "postgresql":
                    outer.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
                config.attributes["connection"] = outer
                command.upgrade(config, "head")
                if sqlite and outer.exec_driver_sql("PRAGMA foreign_key_check").first():
                    raise RuntimeError("a migration broke a foreign key; nothing was changed")
        finally:
            if sqlite:
                outer.connection.driver_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]


_REVISION = re.compile(r'^(down_)?revision(?::[^=]*)?=\s*(?:"([^"]*)"|None)', re.MULTILINE)


def _head() -> str | None:
    """The one newest revision of ``migrations/versions`` (read from the scripts' text);
    None when unsure (no scripts, several heads, a merge), so that Alembic decides."""
    revisions: set[str] = set()
    pointed: set[str] = set()
    for script in (MIGRATIONS / "versions").glob("*.py"):
        found = {bool(m[1]): m[2] for m in _REVISION.finditer(script.read_text("utf-8"))}
        if False not in found or not found[False]:
            return None
        revisions.add(found[False])
        if found.get(True):
            pointed.add(found[True])
    heads = revisions - pointed
    return heads.pop() if len(heads) == 1 else None


def _at_head(engine: Engine) -> bool:
    """Whether the database already stands at the newest migration."""
    head = _head()
    if head is None:
        return False
    try:
        with engine.connect() as conn:
            versions = [
                row[0] for row in conn.exec_driver_sql("SELECT version_num FROM alembic_version")
            ]
    except sa_exc.DBAPIError:
        return False  # no such table yet: a new database
    return versions == [head]


def ping(engine: Engine) -> None:
    """Raise OperationalError unless the database answers."""
    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")


def insert_ignore(session: Session) -> Any:
    """The session's backend's own ``insert``: the one with ``on_conflict_do_nothing``."""
    dialect = session.get_bind().dialect.name
    return pg_insert if dialect == "postgresql" else sqlite_insert


# SQLite's page cache for a bulk write (KiB): an import's inserts land all over the unique
# indexes (the random ``uid``s, the slugs) and the full-text tables, and with the default
# 2 MiB cache the same pages were written out and read back many times over.
BULK_CACHE_KIB = 131_072
_DEFAULT_CACHE_KIB = 2_000  # SQLite's own default (PRAGMA cache_size=-2000)


@contextmanager
def bulk_writing(engine: Engine) -> Iterator[Session]:
    """:func:`writing` for a large import: on SQLite the connection keeps up to
    :data:`BULK_CACHE_KIB` of pages for the transaction, and gives them back after it."""
    with writing(engine) as session:
        if engine.dialect.name != "sqlite":
            yield session
            return
        raw = session.connection().connection.driver_connection
        raw.execute(f"PRAGMA cache_size=-{BULK_CACHE_KIB}")  # type: ignore[union-attr]
        try:
            yield session
        finally:
            raw.execute(f"PRAGMA cache_size=-{_DEFAULT_CACHE_KIB}")  # type: ignore[union-attr]
