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
