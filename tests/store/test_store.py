from __future__ import annotations

import os
import re
import stat
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, select, text, update
from sqlmodel import SQLModel

from publisher import store
from publisher.articles.cleaning import ArticleInput
from publisher.errors import ConfigError, InputError, NotFoundError, OperationalError
from publisher.models import Article
from tests.support import NOW

HOST = "news.example.com"


def add(engine: Engine, *items: ArticleInput, now: datetime = NOW) -> store.BatchResult:
    with store.writing(engine) as session:
        return store.upsert_articles(session, items, now=now, host=HOST)


def view(engine: Engine, slug: str) -> store.ArticleView:
    with store.reading(engine) as session:
        return store.article_by_slug(session, slug)


def test_migrations_match_the_models_and_rerun_cleanly(engine: Engine) -> None:
    store.migrate(engine)

    # The search index (migration 0022) is SQL the models do not describe: FTS5 tables and a
    # generated tsvector (publisher/store/search.py); its tests are in tests/store/test_search.py.
    def described(name: str | None, kind: str, _parent: object) -> bool:
        return not (kind == "table" and (name or "").startswith(store.SEARCH_TABLES))

    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_name": described})
        assert compare_metadata(context, SQLModel.metadata) == []


def test_datetimes_come_back_aware(engine: Engine) -> None:
    seoul = timezone(timedelta(hours=9))
    published = datetime(2026, 11, 29, 11, 0, tzinfo=seoul)
    add(engine, ArticleInput(slug="a", title="A", published_at=published))
    got = view(engine, "a").article
    assert got.published_at.tzinfo is not None
    assert got.published_at == published
    assert got.created_at == NOW


def test_naive_datetimes_are_refused(engine: Engine) -> None:
    with pytest.raises(Exception, match="naive datetime"), store.writing(engine) as session:
        session.execute(
            update(Article.__table__).values(updated_at=datetime(2026, 1, 1))  # type: ignore[attr-defined]
        )


def test_upsert_keeps_id_and_moves_updated_only_on_change(engine: Engine) -> None:
    first = add(engine, ArticleInput(slug="a", title="A", categories=("Trade", "Culture")))
    assert first.created == ["a"]
    before = view(engine, "a")
    same = add(
        engine,
        ArticleInput(slug="a", title="A", categories=("Trade", "Culture")),
        now=NOW + timedelta(hours=1),
    )
    assert (same.created, same.updated, same.unchanged) == ([], [], 1)
    assert view(engine, "a").article.updated_at == before.article.updated_at
    later = NOW + timedelta(hours=2)
    changed = add(
        engine, ArticleInput(slug="a", title="A, revised", categories=("Trade",)), now=later
    )
    assert changed.updated == ["a"]
    after = view(engine, "a")
    assert after.article.uid == before.article.uid
    assert after.article.uid.startswith(f"tag:{HOST},2026-11-30:article/")
    assert after.article.id == before.article.id
    assert after.article.updated_at == later
    assert after.article.published_at == before.article.published_at
    assert after.categories == ("Trade",)


def test_latest_hides_scheduled_and_unpublished_and_filters_categories(engine: Engine) -> None:
    hour = timedelta(hours=1)
    add(
        engine,
        ArticleInput(slug="old", title="Old", published_at=NOW - 2 * hour, categories=("Trade",)),
        ArticleInput(slug="new", title="New", published_at=NOW - hour, categories=("Culture",)),
        ArticleInput(slug="soon", title="Soon", published_at=NOW + hour, categories=("Trade",)),
        ArticleInput(slug="gone", title="Gone", published_at=NOW - hour),
    )
    with store.writing(engine) as session:
        assert store.set_status(session, "gone", "unpublished", now=NOW)
        assert not store.set_status(session, "gone", "unpublished", now=NOW)
    with store.reading(engine) as session:
        assert [v.article.slug for v in store.latest_articles(session, now=NOW, limit=10)] == [
            "new",
            "old",
        ]
        trade = store.latest_articles(session, now=NOW, limit=10, category_slug="trade")
        assert [v.article.slug for v in trade] == ["old"]
        later = store.latest_articles(session, now=NOW + 2 * hour, limit=10, category_slug="trade")
        assert [v.article.slug for v in later] == ["soon", "old"]
        assert [c.slug for c in store.category_list(session)] == ["culture", "trade"]
    assert view(engine, "soon").status(NOW) == "scheduled"
    assert view(engine, "gone").status(NOW) == "unpublished"


def test_corrections_move_updated(engine: Engine) -> None:
    add(engine, ArticleInput(slug="a", title="A", published_at=NOW - timedelta(days=1)))
    later = NOW + timedelta(minutes=5)
    with store.writing(engine) as session:
        store.add_correction(session, "a", "The bridge is 1.2 km long, not 12 km.", now=later)
    got = view(engine, "a")
    assert got.article.updated_at == later
    assert [c.note for c in got.corrections] == ["The bridge is 1.2 km long, not 12 km."]
    with pytest.raises(NotFoundError), store.writing(engine) as session:
        store.add_correction(session, "missing", "x", now=NOW)
    with pytest.raises(InputError), store.writing(engine) as session:
        store.add_correction(session, "a", "   ", now=NOW)


def test_corrections_from_files_are_added_once(engine: Engine) -> None:
    when = NOW - timedelta(hours=1)
    item = ArticleInput(
        slug="a", title="A", published_at=NOW - timedelta(days=1), corrections=((when, "Fixed."),)
    )
    add(engine, item)
    add(
        engine,
        ArticleInput(
            slug="a", title="A2", published_at=item.published_at, corrections=item.corrections
        ),
    )
    got = view(engine, "a")
    assert [(c.created_at, c.note) for c in got.corrections] == [(when, "Fixed.")]


def test_a_failed_write_leaves_nothing(engine: Engine) -> None:
    with pytest.raises(RuntimeError), store.writing(engine) as session:
        store.upsert_articles(session, [ArticleInput(slug="a", title="A")], now=NOW, host=HOST)
        raise RuntimeError("boom")
    with store.reading(engine) as session:
        assert store.article_count(session) == 0


def test_sqlite_concurrent_read_modify_write_loses_nothing(tmp_path: Path) -> None:
    """Measured (docs/architecture.md): deferred transactions lost or failed these; BEGIN IMMEDIATE
    gets all right."""
    engine = store.make_engine(f"sqlite:///{tmp_path}/c.db")
    store.migrate(engine)
    add(engine, ArticleInput(slug="counter", title="0"))
    table = Article.__table__  # type: ignore[attr-defined]
    errors: list[BaseException] = []

    def bump() -> None:
        try:
            for _ in range(25):
                with store.writing(engine) as session:
                    title = session.scalar(select(table.c.title).where(table.c.slug == "counter"))
                    session.execute(
                        update(table)
                        .where(table.c.slug == "counter")
                        .values(title=str(int(title or 0) + 1))
                    )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=bump) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert view(engine, "counter").article.title == "200"


def test_unreachable_database_is_an_operational_error() -> None:
    engine = store.make_engine("postgresql://nobody@127.0.0.1:1/none")
    with pytest.raises(OperationalError, match="cannot reach the database"):
        store.ping(engine)


def test_unsupported_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="not supported"):
        store.make_engine("mysql://x@y/z")
    with pytest.raises(ConfigError, match="cannot parse"):
        store.make_engine("::::")


def test_sqlite_uses_wal(tmp_path: Path) -> None:
    engine = store.make_engine(f"sqlite:///{tmp_path}/w.db")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30000
    engine.dispose()


def test_sqlite_files_are_their_owners_only(tmp_path: Path) -> None:
    """Issue 24: the database and its -wal and -shm were readable by every local user (0644
    under the usual umask); they are 0600, and an older install's are narrowed on start."""
    old = os.umask(0o022)
    try:
        path = tmp_path / "var" / "publisher.db"
        engine = store.make_engine(f"sqlite:///{path}")
        store.migrate(engine)
        with store.writing(engine) as session:  # a write, so that the -wal has something
            store.bump(session, "test")
        files = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
        assert {f.name: stat.S_IMODE(f.stat().st_mode) for f in files} == {
            f.name: 0o600 for f in files
        }
        engine.dispose()
        for each in files:
            if each.exists():
                each.chmod(0o644)
        store.make_engine(f"sqlite:///{path}").dispose()
        assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files if f.exists())
    finally:
        os.umask(old)


def test_utc_is_the_storage_zone(engine: Engine) -> None:
    add(engine, ArticleInput(slug="a", title="A", published_at=NOW))
    assert view(engine, "a").article.published_at.utcoffset() == timedelta(0)
    assert view(engine, "a").article.published_at == NOW.astimezone(UTC)


def test_migrate_knows_a_current_schema_from_the_scripts(tmp_path: Path) -> None:
    """A database at the newest migration is left as it is without loading Alembic; a new
    or older one is not taken for current."""
    from publisher.store import engine as engine_module

    fresh = store.make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    assert engine_module._at_head(fresh) is False  # no alembic_version table yet
    store.migrate(fresh)
    assert engine_module._at_head(fresh) is True
    head = engine_module._head()
    # The newest is the one no other follows (numbers are given out per branch, so the chain,
    # not the largest number, says which is last).
    scripts = [p.read_text() for p in (engine_module.MIGRATIONS / "versions").glob("*.py")]
    revisions = {re.search(r'^revision: str = "(\d+)"', t, re.M)[1] for t in scripts}  # type: ignore[index]
    followed = {m[1] for t in scripts if (m := re.search(r'^down_revision: .* = "(\d+)"', t, re.M))}
    assert head is not None and [head] == sorted(revisions - followed)
    with fresh.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    assert engine_module._at_head(fresh) is False
    fresh.dispose()
