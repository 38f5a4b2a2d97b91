"""The search index in the store (issue 30), on SQLite and PostgreSQL: migration 0022 indexes
the stories already there, and the index follows every write, delete included."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, delete, select

from publisher import store
from publisher.articles.cleaning import ArticleInput
from publisher.models import Article
from tests.support import NOW


def found(engine: Engine, query: str) -> list[int]:
    with store.reading(engine) as session:
        hits = store.search_articles(
            session, store.search_terms(query), now=NOW, limit=10, offset=0
        )
    return hits.ids


def add(engine: Engine, *items: ArticleInput) -> None:
    with store.writing(engine) as session:
        store.upsert_articles(session, items, now=NOW, host="news.example.com")


def test_the_migration_indexes_the_stories_already_there(engine: Engine) -> None:
    add(engine, ArticleInput(slug="a", title="Amphawa", body_html="<p>ตลาดน้ำอัมพวาเปิด &amp; ไป</p>"))
    config = Config()
    config.set_main_option("script_location", str(store.MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0021")  # before the search index: its table is gone
    with store.reading(engine) as session:
        assert session.execute(select(Article.id)).scalars().all()  # type: ignore[call-overload]
    store.migrate(engine)
    assert len(found(engine, "อัมพวา")) == 1
    with store.reading(engine) as session:
        body = session.execute(select(store.article_texts_t.c.body)).scalar_one()
    assert body == "ตลาดน้ำอัมพวาเปิด & ไป"  # as text: tags dropped, entities decoded


def full_text_tables_are_sound(engine: Engine) -> None:
    """FTS5's own checks (SQLite only): the words index against every row of
    ``article_texts``; the trigram index, which holds only the rows with unspaced text, in
    itself."""
    if engine.dialect.name != "sqlite":
        return
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO search_words(search_words, rank) VALUES ('integrity-check', 1)"
        )
        conn.exec_driver_sql(
            "INSERT INTO search_trigram(search_trigram) VALUES ('integrity-check')"
        )


def test_the_index_stays_sound_through_batches_edits_and_deletes(engine: Engine) -> None:
    """The store writes FTS5 batch by batch (migration 0027), the triggers take text out: a
    story moving between English and Thai keeps both tables true, before and after the
    migration and back."""
    add(
        engine,
        *(ArticleInput(slug=f"en-{n}", title=f"Harbour notice {n}") for n in range(3)),
        ArticleInput(slug="th", title="ตลาดน้ำอัมพวา", summary="boats"),
    )
    add(engine, ArticleInput(slug="en-0", title="ตลาดน้ำอัมพวา เรือ"))  # now Thai
    add(engine, ArticleInput(slug="th", title="Floating market"))  # now English
    with store.writing(engine) as session:
        session.execute(delete(Article).where(Article.slug == "en-1"))  # type: ignore[arg-type]
    full_text_tables_are_sound(engine)
    assert sorted(found(engine, "อัมพวา")) == [1]
    assert found(engine, "floating") == [4] and len(found(engine, "notice")) == 1
    config = Config()
    config.set_main_option("script_location", str(store.MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0022")
    full_text_tables_are_sound(engine)
    store.migrate(engine)
    full_text_tables_are_sound(engine)
    assert found(engine, "อัมพวา") == [1] and found(engine, "floating") == [4]


def test_a_deleted_story_leaves_the_index(engine: Engine) -> None:
    add(engine, ArticleInput(slug="a", title="Harbour dredging"))
    assert found(engine, "dredging")
    with store.writing(engine) as session:
        session.execute(delete(Article))
    assert found(engine, "dredging") == []
    with store.reading(engine) as session:
        assert session.execute(select(store.article_texts_t)).all() == []


def test_terms_are_words_whatever_the_query_says() -> None:
    assert store.search_terms('"rail" OR NEAR(a b) *x* -') == ["rail", "or", "near", "a", "b", "x"]
    assert store.search_terms("ตลาดน้ำ อัมพวา") == ["ตลาดน้ำ", "อัมพวา"]  # marks stay in
    assert store.search_terms("a " * 20) == ["a"]
    assert len(store.search_terms(" ".join(f"w{n}" for n in range(20)))) == store.MAX_TERMS
    assert store.search_terms("!!! ??? ***") == []
