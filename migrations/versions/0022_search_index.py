"""The reader's search (issue 30): ``article_texts`` holds each story's headline, summary and body
as plain text (tags stripped), and apart, the runs of scripts written without spaces between
words (Thai, Lao, Khmer, Myanmar, Chinese, Japanese kana: ``unspaced``); the database's own
full-text indexes are built over it.

SQLite: two FTS5 tables over it (external content, kept in step by triggers on
``article_texts``): ``search_words`` (``unicode61`` words of the three texts; no prefix
indexes, which made imports four times slower) and ``search_trigram`` (the ``trigram``
tokenizer over ``unspaced`` only: any run of three or more characters of a Thai or Chinese text
is found, and English bodies cost no trigrams). PostgreSQL: a ``simple`` tsvector (weights
A/B/C for headline, summary, body) and a pg_trgm GIN index over ``unspaced``. Whether a story
may be found is decided at query time by joining ``articles`` (status and ``published_at``), so
withdrawing a story or a scheduled one coming due needs no index change. Existing stories are
indexed here (backfill).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06
"""

import html
import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")
_UNSPACED = re.compile(
    "[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+"
)
BATCH = 1000

SQLITE = [
    """CREATE VIRTUAL TABLE search_trigram USING fts5(
        unspaced, content='article_texts', content_rowid='article_id', tokenize='trigram')""",
    """CREATE VIRTUAL TABLE search_words USING fts5(
        title, summary, body, content='article_texts', content_rowid='article_id',
        tokenize='unicode61 remove_diacritics 2')""",
    """CREATE TRIGGER article_texts_ai AFTER INSERT ON article_texts BEGIN
        INSERT INTO search_trigram(rowid, unspaced) VALUES (new.article_id, new.unspaced);
        INSERT INTO search_words(rowid, title, summary, body)
            VALUES (new.article_id, new.title, new.summary, new.body);
    END""",
    """CREATE TRIGGER article_texts_ad AFTER DELETE ON article_texts BEGIN
        INSERT INTO search_trigram(search_trigram, rowid, unspaced)
            VALUES ('delete', old.article_id, old.unspaced);
        INSERT INTO search_words(search_words, rowid, title, summary, body)
            VALUES ('delete', old.article_id, old.title, old.summary, old.body);
    END""",
    """CREATE TRIGGER article_texts_au AFTER UPDATE ON article_texts BEGIN
        INSERT INTO search_trigram(search_trigram, rowid, unspaced)
            VALUES ('delete', old.article_id, old.unspaced);
        INSERT INTO search_words(search_words, rowid, title, summary, body)
            VALUES ('delete', old.article_id, old.title, old.summary, old.body);
        INSERT INTO search_trigram(rowid, unspaced) VALUES (new.article_id, new.unspaced);
        INSERT INTO search_words(rowid, title, summary, body)
            VALUES (new.article_id, new.title, new.summary, new.body);
    END""",
]

POSTGRESQL = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    # The text parser takes "<script>" for a tag and drops it: angle brackets become spaces.
    """ALTER TABLE article_texts ADD COLUMN words tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('simple', translate(title, '<>', '  ')), 'A')
        || setweight(to_tsvector('simple', translate(summary, '<>', '  ')), 'B')
        || setweight(to_tsvector('simple', translate(body, '<>', '  ')), 'C')) STORED""",
    "CREATE INDEX ix_article_texts_words ON article_texts USING gin (words)",
    "CREATE INDEX ix_article_texts_unspaced ON article_texts USING gin (unspaced gin_trgm_ops)",
]


def plain(body_html: str) -> str:
    """The body's text: tags dropped, entities decoded, white space collapsed (a frozen copy
    of ``publisher.store.search.plain_text`` as it was for this revision)."""
    return _SPACE.sub(" ", html.unescape(_TAG.sub(" ", body_html))).strip()


def _texts(article_id: int, title: str, summary: str, body: str) -> dict[str, object]:
    runs = [run for text in (title, summary, body) for run in _UNSPACED.findall(text)]
    return {
        "article_id": article_id,
        "title": title,
        "summary": summary,
        "body": body,
        "unspaced": " ".join(runs),
    }


def upgrade() -> None:
    op.create_table(
        "article_texts",
        sa.Column(
            "article_id",
            sa.Integer(),
            sa.ForeignKey("articles.id", ondelete="CASCADE"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("unspaced", sa.Text(), nullable=False),
    )
    bind = op.get_bind()
    for statement in SQLITE if bind.dialect.name == "sqlite" else POSTGRESQL:
        op.execute(statement)
    _backfill(bind)


def _backfill(bind: sa.Connection) -> None:
    texts = sa.table(
        "article_texts",
        sa.column("article_id"),
        sa.column("title"),
        sa.column("summary"),
        sa.column("body"),
        sa.column("unspaced"),
    )
    last = 0
    while True:
        rows = bind.execute(
            sa.text(
                "SELECT id, title, summary, body_html FROM articles WHERE id > :last "
                "ORDER BY id LIMIT :n"
            ),
            {"last": last, "n": BATCH},
        ).all()
        if not rows:
            return
        bind.execute(
            sa.insert(texts),
            [_texts(r.id, r.title, r.summary, plain(r.body_html)) for r in rows],
        )
        last = rows[-1].id


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for name in ("search_trigram", "search_words"):
            op.execute(f"DROP TABLE IF EXISTS {name}")
    op.drop_table("article_texts")
