"""The database: engine factory, migrations, sessions, and every query as a function.

SQLite is used the way DESIGN.md measured to be safe: WAL, a busy timeout, and every write
transaction opened with ``BEGIN IMMEDIATE`` (deferred BEGIN loses to "database is locked").
PostgreSQL goes through psycopg 3.
"""

from __future__ import annotations

import threading
import uuid
import weakref
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from alembic import command
from alembic.config import Config
from sqlalchemy import (
    Connection,
    Engine,
    ExceptionContext,
    and_,
    bindparam,
    case,
    create_engine,
    delete,
    event,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import CursorResult, make_url
from sqlalchemy.orm import Session

from publisher.articles import ArticleInput
from publisher.content import slugify
from publisher.errors import ConfigError, InputError, NotFoundError, OperationalError
from publisher.models import (
    Article,
    ArticleCategory,
    AwareDateTime,
    Category,
    Correction,
    Delivery,
    Edition,
    EditionArticle,
    FeedState,
    Stamp,
    Subscriber,
    Subscription,
    WebSubPing,
)

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
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
deliveries_t = Delivery.__table__  # type: ignore[attr-defined]

STATUSES = ("published", "unpublished")


# ---------------------------------------------------------------- engine and sessions


def make_engine(url: str) -> Engine:
    """An engine for ``url`` (SQLite file or PostgreSQL), configured for safe concurrent use."""
    try:
        parsed = make_url(url)
    except sa_exc.ArgumentError:
        raise ConfigError(f"PUBLISHER_DATABASE_URL: cannot parse {url!r}") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(url, parsed.database)
    if backend == "postgresql":
        if parsed.get_driver_name() != "psycopg":
            parsed = parsed.set(drivername="postgresql+psycopg")
        engine = create_engine(parsed, pool_pre_ping=True, pool_size=10, max_overflow=20)
        _translate_connect_errors(engine)
        return engine
    raise ConfigError(
        f"PUBLISHER_DATABASE_URL: {backend!r} is not supported (use sqlite:/// or postgresql://)"
    )


def _sqlite_engine(url: str, database: str | None) -> Engine:
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's begin event (below) issue BEGIN itself, as pysqlite's legacy
        # implicit transactions lost updates under concurrency (DESIGN.md).
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
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.execution_options(sqlite_immediate=True).begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


def ping(engine: Engine) -> None:
    """Raise OperationalError unless the database answers."""
    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")


# ---------------------------------------------------------------- articles: writes


@dataclass(frozen=True)
class BatchResult:
    created: list[str]
    updated: list[str]
    unchanged: int


def new_uid(host: str, now: datetime) -> str:
    """A ``tag:`` URI (RFC 4151), fixed at creation and never derived from title or slug."""
    return f"tag:{host},{now.date().isoformat()}:article/{uuid.uuid4().hex}"


def upsert_articles(
    session: Session, items: Sequence[ArticleInput], *, now: datetime, host: str
) -> BatchResult:
    """Insert new slugs, update changed ones, leave identical ones alone. One batch."""
    if not items:
        return BatchResult([], [], 0)
    slugs = [item.slug for item in items]
    existing = {
        row.slug: row
        for row in session.execute(
            select(
                articles_t.c.id,
                articles_t.c.slug,
                articles_t.c.content_hash,
                articles_t.c.published_at,
            ).where(articles_t.c.slug.in_(slugs))
        )
    }
    fresh = [item for item in items if item.slug not in existing]
    changed = [
        item
        for item in items
        if item.slug in existing and existing[item.slug].content_hash != item.content_hash
    ]
    ids: dict[str, int] = {}
    if fresh:
        rows = [_new_row(item, now, host) for item in fresh]
        result = session.execute(
            insert(articles_t).returning(articles_t.c.id, articles_t.c.slug), rows
        )
        ids.update({row.slug: row.id for row in result})
    if changed:
        session.execute(
            update(articles_t)
            .where(articles_t.c.id == bindparam("_id"))
            .values(
                {
                    name: bindparam(name)
                    for name in (*_EDITABLE, "content_hash", "updated_at", "published_at")
                }
            ),
            [_changed_row(item, existing[item.slug], now) for item in changed],
        )
        changed_ids = [existing[item.slug].id for item in changed]
        session.execute(delete(links_t).where(links_t.c.article_id.in_(changed_ids)))
        ids.update({item.slug: existing[item.slug].id for item in changed})
    touched = [item for item in items if item.slug in ids]
    _link_categories(session, touched, ids)
    _add_corrections(session, touched, ids)
    if touched:
        bump(session, "articles")
    return BatchResult(
        [item.slug for item in fresh],
        [item.slug for item in changed],
        len(items) - len(fresh) - len(changed),
    )


_EDITABLE = (
    "title",
    "summary",
    "body_html",
    "author",
    "editor",
    "image",
    "source_name",
    "source_url",
    "ai_assisted",
    "sponsored",
)


def _new_row(item: ArticleInput, now: datetime, host: str) -> dict[str, Any]:
    published = item.published_at or now
    row = {name: getattr(item, name) for name in _EDITABLE}
    row.update(
        uid=new_uid(host, now),
        slug=item.slug,
        status="published",
        content_hash=item.content_hash,
        published_at=published,
        created_at=now,
        updated_at=max([published, *(when for when, _ in item.corrections)]),
    )
    return row


def _changed_row(item: ArticleInput, current: Any, now: datetime) -> dict[str, Any]:
    row: dict[str, Any] = {name: getattr(item, name) for name in _EDITABLE}
    row.update(
        _id=current.id,
        content_hash=item.content_hash,
        updated_at=now,
        # A file without published_at keeps the time the article first went out.
        published_at=item.published_at or current.published_at,
    )
    return row


def _insert_ignore(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    return pg_insert if dialect == "postgresql" else sqlite_insert


def ensure_categories(session: Session, names: Iterable[str]) -> dict[str, int]:
    """Category ids by slug, creating the categories that do not exist yet."""
    wanted = {slugify(name): name for name in names}
    if not wanted:
        return {}
    statement = _insert_ignore(session)(categories_t).on_conflict_do_nothing(
        index_elements=["slug"]
    )
    session.execute(statement, [{"slug": s, "name": n} for s, n in wanted.items()])
    found = session.execute(
        select(categories_t.c.slug, categories_t.c.id).where(categories_t.c.slug.in_(wanted))
    )
    return {row.slug: row.id for row in found}


def _link_categories(session: Session, items: Sequence[ArticleInput], ids: dict[str, int]) -> None:
    categories = ensure_categories(session, (name for i in items for name in i.categories))
    links = [
        {"article_id": ids[item.slug], "category_id": categories[slugify(name)], "position": n}
        for item in items
        for n, name in enumerate(item.categories)
    ]
    if links:
        statement = _insert_ignore(session)(links_t).on_conflict_do_nothing()
        session.execute(statement, links)


def _add_corrections(session: Session, items: Sequence[ArticleInput], ids: dict[str, int]) -> None:
    """Record the corrections a file lists that are not recorded yet (none is ever removed)."""
    wanted = [(ids[i.slug], when, note) for i in items for when, note in i.corrections]
    if not wanted:
        return
    have = {
        (row.article_id, row.created_at, row.note)
        for row in session.execute(
            select(
                corrections_t.c.article_id, corrections_t.c.created_at, corrections_t.c.note
            ).where(corrections_t.c.article_id.in_({article_id for article_id, _, _ in wanted}))
        )
    }
    rows = [
        {"article_id": article_id, "created_at": when, "note": note}
        for article_id, when, note in wanted
        if (article_id, when, note) not in have
    ]
    if rows:
        session.execute(insert(corrections_t), rows)


def _article_id(session: Session, slug: str) -> int:
    found = session.scalar(select(articles_t.c.id).where(articles_t.c.slug == slug))
    if found is None:
        raise NotFoundError(f"no article with slug {slug!r}")
    return int(found)


def add_correction(session: Session, slug: str, note: str, *, now: datetime) -> None:
    """Record a correction; the article's ``updated_at`` moves to ``now``."""
    note = note.strip()
    if not note:
        raise InputError("a correction needs a note saying what was corrected")
    article_id = _article_id(session, slug)
    session.execute(insert(corrections_t).values(article_id=article_id, note=note, created_at=now))
    session.execute(update(articles_t).where(articles_t.c.id == article_id).values(updated_at=now))
    bump(session, "articles")


def set_status(session: Session, slug: str, status: str, *, now: datetime) -> bool:
    """Publish or unpublish; False when it already had that status."""
    if status not in STATUSES:
        raise InputError(f"unknown status {status!r} (one of {', '.join(STATUSES)})")
    article_id = _article_id(session, slug)
    result = session.execute(
        update(articles_t)
        .where(and_(articles_t.c.id == article_id, articles_t.c.status != status))
        .values(status=status, updated_at=now)
    )
    changed = bool(cast(CursorResult[Any], result).rowcount)
    if changed:
        bump(session, "articles")
    return changed


# ---------------------------------------------------------------- articles: reads


@dataclass(frozen=True)
class CorrectionView:
    note: str
    created_at: datetime


@dataclass(frozen=True)
class ArticleView:
    """An article with its categories and corrections, as pages, feeds and mail need it."""

    article: Article
    categories: tuple[str, ...]
    corrections: tuple[CorrectionView, ...]

    def status(self, now: datetime) -> str:
        if self.article.status == "published" and self.article.published_at > now:
            return "scheduled"
        return self.article.status


def _views(session: Session, articles: Sequence[Article]) -> list[ArticleView]:
    ids = [a.id for a in articles]
    names: dict[int, list[str]] = {i: [] for i in ids if i is not None}
    notes: dict[int, list[CorrectionView]] = {i: [] for i in ids if i is not None}
    if ids:
        for article_id, name in session.execute(
            select(links_t.c.article_id, categories_t.c.name)
            .join(categories_t, categories_t.c.id == links_t.c.category_id)
            .where(links_t.c.article_id.in_(ids))
            .order_by(links_t.c.article_id, links_t.c.position)
        ):
            names[article_id].append(name)
        for row in session.execute(
            select(corrections_t.c.article_id, corrections_t.c.note, corrections_t.c.created_at)
            .where(corrections_t.c.article_id.in_(ids))
            .order_by(corrections_t.c.created_at, corrections_t.c.id)
        ):
            notes[row.article_id].append(CorrectionView(row.note, row.created_at))
    return [
        ArticleView(a, tuple(names[a.id]), tuple(notes[a.id])) for a in articles if a.id is not None
    ]


_NEWEST_FIRST = (articles_t.c.published_at.desc(), articles_t.c.id.desc())


def visible(now: datetime) -> Any:
    """The condition for an article readers may see at ``now``."""
    return and_(articles_t.c.status == "published", articles_t.c.published_at <= now)


def _latest(query: Any, *, now: datetime, limit: int, category_id: int | None) -> Any:
    query = query.where(visible(now))
    if category_id is not None:
        query = query.where(
            exists()
            .where(links_t.c.article_id == articles_t.c.id)
            .where(links_t.c.category_id == category_id)
        )
    return query.order_by(*_NEWEST_FIRST).limit(limit)


def latest_articles(
    session: Session, *, now: datetime, limit: int, category_slug: str | None = None
) -> list[ArticleView]:
    """The newest visible articles, newest first (by publication time, then id)."""
    category_id = None
    if category_slug is not None:
        category_id = category_by_slug(session, category_slug).id
    query = _latest(select(Article), now=now, limit=limit, category_id=category_id)
    return _views(session, session.scalars(query).all())


@dataclass(frozen=True)
class ArticleKey:
    """What identifies one version of an article's content, without loading the content."""

    id: int
    content_hash: str
    updated_at: datetime


def latest_keys(
    session: Session, *, now: datetime, limit: int, category_id: int | None = None
) -> list[ArticleKey]:
    """``latest_articles`` as keys only: cheap enough to ask for every feed on every check."""
    columns = select(articles_t.c.id, articles_t.c.content_hash, articles_t.c.updated_at)
    query = _latest(columns, now=now, limit=limit, category_id=category_id)
    return [ArticleKey(row.id, row.content_hash, row.updated_at) for row in session.execute(query)]


def views_by_id(session: Session, ids: Iterable[int]) -> dict[int, ArticleView]:
    wanted = list(ids)
    if not wanted:
        return {}
    found = session.scalars(select(Article).where(articles_t.c.id.in_(wanted))).all()
    return {view.article.id or 0: view for view in _views(session, found)}


def all_articles(session: Session, *, limit: int | None = None) -> list[ArticleView]:
    """Every article whatever its status, newest publication first."""
    query = select(Article).order_by(*_NEWEST_FIRST)
    if limit is not None:
        query = query.limit(limit)
    return _views(session, session.scalars(query).all())


def article_by_slug(session: Session, slug: str) -> ArticleView:
    found = session.scalars(select(Article).where(articles_t.c.slug == slug)).first()
    if found is None:
        raise NotFoundError(f"no article with slug {slug!r}")
    return _views(session, [found])[0]


def category_by_slug(session: Session, slug: str) -> Category:
    found = session.scalars(select(Category).where(categories_t.c.slug == slug)).first()
    if found is None:
        raise NotFoundError(f"no category {slug!r}")
    return found


def category_list(session: Session) -> list[Category]:
    return list(session.scalars(select(Category).order_by(categories_t.c.slug)).all())


def article_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(articles_t)) or 0)


def next_scheduled(session: Session, *, now: datetime) -> datetime | None:
    """When the next scheduled article becomes visible (None: nothing is scheduled)."""
    return session.scalar(
        select(func.min(articles_t.c.published_at)).where(
            and_(articles_t.c.status == "published", articles_t.c.published_at > now)
        )
    )


def categories_with_articles(session: Session) -> list[Category]:
    """Categories that at least one article is in (feeds exist for these)."""
    used = exists().where(links_t.c.category_id == categories_t.c.id)
    return list(session.scalars(select(Category).where(used).order_by(categories_t.c.slug)).all())


# ---------------------------------------------------------------- change stamps


def bump(session: Session, name: str) -> None:
    """Move the stamp ``name`` on; call inside the transaction that changes the thing."""
    statement = _insert_ignore(session)(stamps_t).values(name=name, version=1)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["name"], set_={"version": stamps_t.c.version + 1}
        )
    )


def stamp(session: Session, name: str) -> int:
    return int(session.scalar(select(stamps_t.c.version).where(stamps_t.c.name == name)) or 0)


# ---------------------------------------------------------------- feed state and WebSub


def record_feed_etags(session: Session, etags: dict[str, str], *, now: datetime) -> list[str]:
    """Store each path's ETag; the paths whose ETag changed (new paths count as changed).

    The conditional UPDATE lets exactly one of several daemons see a given change.
    """
    known = {
        row.path
        for row in session.execute(
            select(feed_state_t.c.path).where(feed_state_t.c.path.in_(list(etags)))
        )
    }
    changed: list[str] = []
    fresh = [p for p in etags if p not in known]
    if fresh:
        statement = (
            _insert_ignore(session)(feed_state_t)
            .on_conflict_do_nothing(index_elements=["path"])
            .returning(feed_state_t.c.path)
        )
        for path in fresh:
            inserted = session.execute(
                statement, {"path": path, "etag": etags[path], "changed_at": now}
            ).first()
            if inserted is not None:
                changed.append(path)
    for path in known:
        result = session.execute(
            update(feed_state_t)
            .where(and_(feed_state_t.c.path == path, feed_state_t.c.etag != etags[path]))
            .values(etag=etags[path], changed_at=now)
        )
        if cast(CursorResult[Any], result).rowcount:
            changed.append(path)
    return sorted(changed)


def queue_pings(session: Session, feed_urls: Iterable[str], *, now: datetime) -> None:
    """Owe the hub a notification for each URL (one row per URL however often it changes)."""
    rows = [{"feed_url": url, "due_at": now, "attempts": 0, "last_error": ""} for url in feed_urls]
    if not rows:
        return
    statement = _insert_ignore(session)(pings_t)
    statement = statement.on_conflict_do_update(
        index_elements=["feed_url"],
        set_={"due_at": now, "attempts": 0, "last_error": ""},
    )
    session.execute(statement, rows)


def due_pings(session: Session, *, now: datetime, limit: int = 100) -> list[WebSubPing]:
    query = select(WebSubPing).where(pings_t.c.due_at <= now).order_by(pings_t.c.due_at)
    return list(session.scalars(query.limit(limit)).all())


def ping_done(session: Session, feed_url: str, *, queued_before: datetime) -> None:
    """Forget a ping that went through, unless the feed changed again meanwhile."""
    session.execute(
        delete(pings_t).where(
            and_(pings_t.c.feed_url == feed_url, pings_t.c.due_at <= queued_before)
        )
    )


def ping_failed(session: Session, feed_url: str, error: str, *, retry_at: datetime) -> None:
    session.execute(
        update(pings_t)
        .where(pings_t.c.feed_url == feed_url)
        .values(attempts=pings_t.c.attempts + 1, last_error=error[:500], due_at=retry_at)
    )


# ---------------------------------------------------------------- editions

FIRST_EDITION_LOOKBACK = timedelta(days=7)
CARRYING = ("pending", "ready", "sending", "sent")


def create_edition(
    session: Session, digest: str, period_key: str, *, nominal_at: datetime, now: datetime
) -> tuple[Edition, bool]:
    """The edition of ``digest`` for ``period_key``, and whether this call created it.
    Insert-if-absent: a second call, daemon or DST double fire gets the existing one."""
    statement = (
        _insert_ignore(session)(editions_t)
        .values(
            digest=digest,
            period_key=period_key,
            nominal_at=nominal_at,
            status="pending",
            subject="",
            html="",
            text="",
            article_count=0,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["digest", "period_key"])
        .returning(editions_t.c.id)
    )
    created = session.execute(statement).first() is not None
    found = session.scalars(
        select(Edition).where(
            and_(editions_t.c.digest == digest, editions_t.c.period_key == period_key)
        )
    ).one()
    return found, created


def candidate_articles(
    session: Session,
    digest: str,
    *,
    categories: Sequence[str],
    limit: int,
    until: datetime,
    before_id: int | None = None,
) -> list[ArticleView]:
    """Visible articles that no edition of ``digest`` carried, newer than the last edition
    that carried any (a week back for a first edition), newest first."""
    last = select(func.max(editions_t.c.nominal_at)).where(
        and_(editions_t.c.digest == digest, editions_t.c.status.in_(CARRYING))
    )
    if before_id is not None:
        last = last.where(editions_t.c.id != before_id)
    since = session.scalar(last) or until - FIRST_EDITION_LOOKBACK
    query = select(Article).where(
        and_(visible(until), articles_t.c.published_at > since),
        ~exists()
        .where(edition_articles_t.c.article_id == articles_t.c.id)
        .where(edition_articles_t.c.digest == digest),
    )
    if categories:
        query = query.where(
            exists()
            .where(links_t.c.article_id == articles_t.c.id)
            .where(links_t.c.category_id == categories_t.c.id)
            .where(categories_t.c.slug.in_(list(categories)))
        )
    query = query.order_by(*_NEWEST_FIRST).limit(limit)
    return _views(session, session.scalars(query).all())


def carry_articles(session: Session, edition: Edition, article_ids: Sequence[int]) -> None:
    rows = [
        {
            "edition_id": edition.id,
            "article_id": article_id,
            "digest": edition.digest,
            "position": position,
        }
        for position, article_id in enumerate(article_ids)
    ]
    if rows:
        session.execute(insert(edition_articles_t), rows)
    session.execute(
        update(editions_t)
        .where(editions_t.c.id == edition.id)
        .values(article_count=len(rows), status="pending" if rows else "skipped")
    )


def edition_articles(session: Session, edition_id: int) -> list[ArticleView]:
    """The articles an edition carries, in its order."""
    query = (
        select(Article)
        .join(edition_articles_t, edition_articles_t.c.article_id == articles_t.c.id)
        .where(edition_articles_t.c.edition_id == edition_id)
        .order_by(edition_articles_t.c.position)
    )
    return _views(session, session.scalars(query).all())


def save_rendering(
    session: Session, edition_id: int, *, subject: str, html: str, text: str, count: int
) -> bool:
    """Store a pending edition's rendering and make it ready; False if another process did."""
    result = session.execute(
        update(editions_t)
        .where(and_(editions_t.c.id == edition_id, editions_t.c.status == "pending"))
        .values(subject=subject, html=html, text=text, status="ready", article_count=count)
    )
    return bool(cast(CursorResult[Any], result).rowcount)


def set_edition_status(session: Session, edition_id: int, status: str) -> None:
    session.execute(update(editions_t).where(editions_t.c.id == edition_id).values(status=status))


def edition_by_id(session: Session, edition_id: int) -> Edition:
    found = session.get(Edition, edition_id)
    if found is None:
        raise NotFoundError(f"no edition {edition_id}")
    return found


def edition_list(
    session: Session, *, digest: str | None = None, statuses: Sequence[str] = (), limit: int = 100
) -> list[Edition]:
    query = select(Edition).order_by(editions_t.c.nominal_at.desc(), editions_t.c.id.desc())
    if digest is not None:
        query = query.where(editions_t.c.digest == digest)
    if statuses:
        query = query.where(editions_t.c.status.in_(list(statuses)))
    return list(session.scalars(query.limit(limit)).all())


# ---------------------------------------------------------------- subscribers

SUBSCRIBER_STATUSES = ("pending", "confirmed", "unsubscribed", "bounced")


def subscriber_by_email(session: Session, email: str) -> Subscriber | None:
    return session.scalars(
        select(Subscriber).where(subscribers_t.c.email == email.strip().lower())
    ).first()


def subscriber_by_id(session: Session, subscriber_id: int) -> Subscriber:
    found = session.get(Subscriber, subscriber_id)
    if found is None:
        raise NotFoundError(f"no subscriber {subscriber_id}")
    return found


def upsert_subscriber(
    session: Session, email: str, *, name: str, status: str, digests: Sequence[str], now: datetime
) -> tuple[Subscriber, bool]:
    """Create or update a subscriber (by lower-cased address) and set their digests.
    An unsubscribed or bounced address never becomes confirmed this way; only the person
    confirming again does that (``confirm_subscriber``). Returns the row and whether it is new."""
    address = email.strip().lower()
    found = subscriber_by_email(session, address)
    if found is None:
        statement = (
            _insert_ignore(session)(subscribers_t)
            .values(
                email=address,
                name=name,
                status=status,
                created_at=now,
                updated_at=now,
                confirmed_at=now if status == "confirmed" else None,
            )
            .on_conflict_do_nothing(index_elements=["email"])
        )
        session.execute(statement)
        created = True
    else:
        created = False
        values: dict[str, Any] = {"updated_at": now}
        if name:
            values["name"] = name
        # Never back to confirmed from unsubscribed or bounced, never down to pending.
        locked = found.status in ("unsubscribed", "bounced")
        downgrade = found.status == "confirmed" and status == "pending"
        if status != found.status and not locked and not downgrade:
            values["status"] = status
            if status == "confirmed":
                values["confirmed_at"] = now
        session.execute(update(subscribers_t).where(subscribers_t.c.id == found.id).values(values))
    row = subscriber_by_email(session, address)
    assert row is not None and row.id is not None
    set_subscriptions(session, row.id, digests)
    session.refresh(row)
    return row, created


def set_subscriptions(session: Session, subscriber_id: int, digests: Sequence[str]) -> None:
    session.execute(delete(subscriptions_t).where(subscriptions_t.c.subscriber_id == subscriber_id))
    rows = [{"subscriber_id": subscriber_id, "digest": d} for d in dict.fromkeys(digests)]
    if rows:
        session.execute(insert(subscriptions_t), rows)


def subscriptions_of(session: Session, subscriber_ids: Sequence[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {i: [] for i in subscriber_ids}
    for row in session.execute(
        select(subscriptions_t.c.subscriber_id, subscriptions_t.c.digest)
        .where(subscriptions_t.c.subscriber_id.in_(list(subscriber_ids)))
        .order_by(subscriptions_t.c.digest)
    ):
        out[row.subscriber_id].append(row.digest)
    return out


def set_subscriber_status(
    session: Session, subscriber_id: int, status: str, *, now: datetime
) -> bool:
    """Change a subscriber's status; False when it already had it."""
    values: dict[str, Any] = {"status": status, "updated_at": now}
    if status == "confirmed":
        values["confirmed_at"] = now
    result = session.execute(
        update(subscribers_t)
        .where(and_(subscribers_t.c.id == subscriber_id, subscribers_t.c.status != status))
        .values(values)
    )
    return bool(cast(CursorResult[Any], result).rowcount)


def subscriber_list(session: Session, *, after_id: int = 0, limit: int = 1000) -> list[Subscriber]:
    query = select(Subscriber).where(subscribers_t.c.id > after_id).order_by(subscribers_t.c.id)
    return list(session.scalars(query.limit(limit)).all())


def delete_subscriber(session: Session, email: str) -> bool:
    result = session.execute(
        delete(subscribers_t).where(subscribers_t.c.email == email.strip().lower())
    )
    return bool(cast(CursorResult[Any], result).rowcount)


def audience_size(session: Session, digest: str) -> int:
    """Confirmed subscribers of ``digest``."""
    query = (
        select(func.count())
        .select_from(subscriptions_t)
        .join(subscribers_t, subscribers_t.c.id == subscriptions_t.c.subscriber_id)
        .where(and_(subscriptions_t.c.digest == digest, subscribers_t.c.status == "confirmed"))
    )
    return int(session.scalar(query) or 0)


# ---------------------------------------------------------------- deliveries

OPEN_DELIVERY = ("pending", "sending", "retry")


@dataclass(frozen=True)
class Claimed:
    id: int
    edition_id: int
    subscriber_id: int
    email: str
    attempts: int


def start_deliveries(session: Session, edition: Edition, *, now: datetime) -> int:
    """One pending delivery per confirmed subscriber of the edition's digest (insert-if-absent,
    so running it again adds only subscribers confirmed since); the edition is sending."""
    source = (
        select(
            literal(edition.id),
            subscribers_t.c.id,
            subscribers_t.c.email,
            literal("pending"),
            literal(0),
            literal(now, AwareDateTime()),
            literal(""),
            literal(""),
        )
        .join(subscriptions_t, subscriptions_t.c.subscriber_id == subscribers_t.c.id)
        .where(
            and_(subscriptions_t.c.digest == edition.digest, subscribers_t.c.status == "confirmed")
        )
    )
    columns = [
        "edition_id",
        "subscriber_id",
        "email",
        "status",
        "attempts",
        "next_attempt_at",
        "lease_owner",
        "last_error",
    ]
    statement = (
        _insert_ignore(session)(deliveries_t)
        .from_select(columns, source)
        .on_conflict_do_nothing(index_elements=["edition_id", "subscriber_id"])
    )
    count = (
        select(func.count())
        .select_from(deliveries_t)
        .where(deliveries_t.c.edition_id == edition.id)
    )
    before = int(session.scalar(count) or 0)
    session.execute(statement)
    session.execute(
        update(editions_t)
        .where(and_(editions_t.c.id == edition.id, editions_t.c.status.in_(("ready", "sent"))))
        .values(status="sending")
    )
    return int(session.scalar(count) or 0) - before


def claim_deliveries(
    session: Session, worker: str, *, now: datetime, lease: timedelta, limit: int
) -> list[Claimed]:
    """Lease up to ``limit`` deliveries that are due, or whose lease ran out (a worker died).
    PostgreSQL skips rows other workers hold (FOR UPDATE SKIP LOCKED); SQLite has one writer."""
    due = or_(
        and_(
            deliveries_t.c.status.in_(("pending", "retry")), deliveries_t.c.next_attempt_at <= now
        ),
        and_(deliveries_t.c.status == "sending", deliveries_t.c.lease_until < now),
    )
    pick = select(deliveries_t.c.id).where(due).order_by(deliveries_t.c.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    statement = (
        update(deliveries_t)
        .where(deliveries_t.c.id.in_(pick.scalar_subquery()))
        .values(status="sending", lease_owner=worker, lease_until=now + lease)
        .returning(
            deliveries_t.c.id,
            deliveries_t.c.edition_id,
            deliveries_t.c.subscriber_id,
            deliveries_t.c.email,
            deliveries_t.c.attempts,
        )
    )
    rows = [
        Claimed(r.id, r.edition_id, r.subscriber_id, r.email, r.attempts)
        for r in session.execute(statement)
    ]
    return sorted(rows, key=lambda r: r.id)


def renew_lease(session: Session, ids: Sequence[int], worker: str, *, until: datetime) -> None:
    session.execute(
        update(deliveries_t)
        .where(
            and_(
                deliveries_t.c.id.in_(list(ids)),
                deliveries_t.c.lease_owner == worker,
                deliveries_t.c.status == "sending",
            )
        )
        .values(lease_until=until)
    )


def recipients(session: Session, subscriber_ids: Sequence[int]) -> dict[int, tuple[str, str]]:
    """(name, status) of each subscriber, read at send time."""
    rows = session.execute(
        select(subscribers_t.c.id, subscribers_t.c.name, subscribers_t.c.status).where(
            subscribers_t.c.id.in_(list(subscriber_ids))
        )
    )
    return {row.id: (row.name, row.status) for row in rows}


def _finish_statement(*, attempt: bool, sent: bool, retry: bool) -> Any:
    values: dict[str, Any] = {
        "status": bindparam("status"),
        "attempts": deliveries_t.c.attempts + (1 if attempt else 0),
        "lease_owner": "",
        "lease_until": None,
        "last_error": bindparam("error"),
    }
    if sent:
        values["sent_at"] = bindparam("now", type_=AwareDateTime())
    if retry:
        values["next_attempt_at"] = bindparam("retry_at", type_=AwareDateTime())
    return update(deliveries_t).where(deliveries_t.c.id == bindparam("delivery_id")).values(values)


# Built once: this runs once per message, and building the statement cost more than running it.
_FINISH = {
    "sent": _finish_statement(attempt=True, sent=True, retry=False),
    "retry": _finish_statement(attempt=True, sent=False, retry=True),
    "failed": _finish_statement(attempt=True, sent=False, retry=False),
    "cancelled": _finish_statement(attempt=False, sent=False, retry=False),
}


def finish_delivery(
    session: Session | Connection,
    delivery_id: int,
    status: str,
    *,
    now: datetime,
    error: str = "",
    retry_at: datetime | None = None,
) -> None:
    """Record one attempt's outcome: sent, retry (at ``retry_at``), failed or cancelled."""
    params: dict[str, Any] = {"delivery_id": delivery_id, "status": status, "error": error[:1000]}
    if status == "sent":
        params["now"] = now
    if status == "retry":
        params["retry_at"] = retry_at or now
    session.execute(_FINISH[status], params)


class OutcomeWriter:
    """Records delivery outcomes on a dedicated driver connection, one statement and one
    commit each. This is the per-message hot path: going through SQLAlchemy's execution
    machinery (and, on SQLite, a separate BEGIN IMMEDIATE) cost more than sending the message.
    The statement is a single UPDATE by primary key, atomic on its own."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sqlite = engine.dialect.name == "sqlite"
        self._raw = engine.raw_connection()
        mark = "?" if self.sqlite else "%s"
        common = f"status = {mark}, lease_owner = '', lease_until = NULL, last_error = {mark}"
        self._sql = {
            "sent": f"UPDATE deliveries SET {common}, attempts = attempts + 1, sent_at = {mark} "
            f"WHERE id = {mark}",
            "retry": f"UPDATE deliveries SET {common}, attempts = attempts + 1, "
            f"next_attempt_at = {mark} WHERE id = {mark}",
            "failed": f"UPDATE deliveries SET {common}, attempts = attempts + 1 WHERE id = {mark}",
            "cancelled": f"UPDATE deliveries SET {common} WHERE id = {mark}",
        }
        if not self.sqlite:
            # One round trip per outcome: the UPDATE commits by itself. And if the database
            # server itself crashes, the last few hundred milliseconds of outcomes may be lost
            # and those messages sent again (nothing is ever lost; our own crashes are
            # unaffected), so no outcome waits for a disk flush.
            driver = self._raw.driver_connection
            driver.autocommit = True  # type: ignore[union-attr]
            cursor = self._raw.cursor()
            cursor.execute("SET synchronous_commit = off")
            cursor.close()

    def _when(self, value: datetime) -> Any:
        utc = value.astimezone(UTC)
        # SQLite: the text form SQLAlchemy's DateTime stores, so comparisons stay exact.
        return utc.strftime("%Y-%m-%d %H:%M:%S.%f") if self.sqlite else utc

    def record(
        self,
        delivery_id: int,
        status: str,
        *,
        now: datetime,
        error: str = "",
        retry_at: datetime | None = None,
    ) -> None:
        params: list[Any] = [status, error[:1000]]
        if status == "sent":
            params.append(self._when(now))
        elif status == "retry":
            params.append(self._when(retry_at or now))
        params.append(delivery_id)
        with write_lock(self.engine):
            cursor = self._raw.cursor()
            try:
                cursor.execute(self._sql[status], params)  # commits by itself (autocommit)
            finally:
                cursor.close()

    def close(self) -> None:
        if not self.sqlite:
            cursor = self._raw.cursor()
            cursor.execute("RESET synchronous_commit")
            cursor.close()
            self._raw.driver_connection.autocommit = False  # type: ignore[union-attr]
        self._raw.close()


def release_deliveries(
    session: Session, ids: Sequence[int], worker: str, *, retry_at: datetime
) -> None:
    """Give back leased, unattempted deliveries (on shutdown, or when the server is down)."""
    if not ids:
        return
    session.execute(
        update(deliveries_t)
        .where(
            and_(
                deliveries_t.c.id.in_(list(ids)),
                deliveries_t.c.lease_owner == worker,
                deliveries_t.c.status == "sending",
            )
        )
        .values(
            status=case((deliveries_t.c.attempts > 0, "retry"), else_="pending"),
            lease_owner="",
            lease_until=None,
            next_attempt_at=retry_at,
        )
    )


def open_deliveries(session: Session, *, due_by: datetime | None = None) -> int:
    """Deliveries not finished yet (only those due by ``due_by``, leased ones included)."""
    query = (
        select(func.count())
        .select_from(deliveries_t)
        .where(deliveries_t.c.status.in_(OPEN_DELIVERY))
    )
    if due_by is not None:
        query = query.where(
            or_(deliveries_t.c.status == "sending", deliveries_t.c.next_attempt_at <= due_by)
        )
    return int(session.scalar(query) or 0)


def finish_editions(session: Session) -> None:
    """Editions being sent whose every delivery is finished are sent."""
    unfinished = (
        exists()
        .where(deliveries_t.c.edition_id == editions_t.c.id)
        .where(deliveries_t.c.status.in_(OPEN_DELIVERY))
    )
    session.execute(
        update(editions_t)
        .where(and_(editions_t.c.status == "sending", ~unfinished))
        .values(status="sent")
    )


def delivery_counts(session: Session, edition_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    out: dict[int, dict[str, int]] = {i: {} for i in edition_ids}
    for row in session.execute(
        select(deliveries_t.c.edition_id, deliveries_t.c.status, func.count())
        .where(deliveries_t.c.edition_id.in_(list(edition_ids)))
        .group_by(deliveries_t.c.edition_id, deliveries_t.c.status)
    ):
        out[row[0]][row[1]] = int(row[2])
    return out
