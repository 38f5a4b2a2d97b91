"""The reader's search over published stories (issue 30): the index's text, kept by the writes
in :mod:`publisher.store.articles`, and the ranked query on SQLite (FTS5) and PostgreSQL.

``article_texts`` holds each story's headline, summary and body as plain text; the database's
full-text indexes follow it (SQLite: triggers into two FTS5 tables; PostgreSQL: a generated
tsvector and a pg_trgm index; migration 0022). Which stories may be found is decided when
searching, by joining ``articles`` on :func:`~publisher.store.articles.visible`, so a
withdrawn story, or a scheduled one not yet due, is never found, and one coming due is found
at once. A query is reduced to terms (runs of letters, marks and digits) before it reaches
either engine: no query syntax of theirs is ever given a reader's text.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Integer, MetaData, Table, Text, bindparam, delete, insert, text
from sqlalchemy.orm import Session

from publisher.store.engine import articles_t

__all__ = [
    "MAX_QUERY_CHARS",
    "MAX_TERMS",
    "SEARCH_TABLES",
    "SearchHits",
    "article_texts_t",
    "index_texts",
    "plain_text",
    "search_articles",
    "search_terms",
]

MAX_QUERY_CHARS = 200
MAX_TERMS = 8
_TRIGRAM = 3  # the shortest term the trigram indexes can find; shorter ones go by words
# Tables the models do not describe (the search index): the migration test leaves them out.
SEARCH_TABLES = ("article_texts", "search_trigram", "search_words")

article_texts_t = Table(
    "article_texts",
    MetaData(),
    Column("article_id", Integer, primary_key=True, autoincrement=False),
    Column("title", Text, nullable=False),
    Column("summary", Text, nullable=False),
    Column("body", Text, nullable=False),
)

_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")


def plain_text(body_html: str) -> str:
    """A body's text for the index: tags dropped, entities decoded, white space collapsed."""
    return _SPACE.sub(" ", html.unescape(_TAG.sub(" ", body_html))).strip()


def index_texts(session: Session, rows: Iterable[dict[str, Any]]) -> None:
    """Make the index hold these stories' text (``id``, ``title``, ``summary``, ``body_html``
    each): one delete and one multi-row insert, in the caller's transaction."""
    texts = [
        {
            "article_id": row["id"],
            "title": row["title"],
            "summary": row["summary"],
            "body": plain_text(row["body_html"]),
        }
        for row in rows
    ]
    if not texts:
        return
    ids = [t["article_id"] for t in texts]
    session.execute(delete(article_texts_t).where(article_texts_t.c.article_id.in_(ids)))
    session.execute(insert(article_texts_t), texts)


def _is_word_char(char: str) -> bool:
    return unicodedata.category(char)[0] in "LMN"


def search_terms(query: str) -> list[str]:
    """The terms of a reader's query: runs of letters, combining marks (Thai vowels and tone
    marks are marks) and digits, lower-cased, each once, at most :data:`MAX_TERMS`. Quotes,
    ``*``, ``NEAR(`` and every other symbol only separate terms."""
    terms: list[str] = []
    word: list[str] = []
    for char in query[:MAX_QUERY_CHARS] + " ":
        if _is_word_char(char):
            word.append(char)
        elif word:
            term = "".join(word).lower()
            word = []
            if term not in terms:
                terms.append(term)
    return terms[:MAX_TERMS]


@dataclass(frozen=True)
class SearchHits:
    """One page of matching story ids, best first, and how many match in all."""

    ids: list[int]
    total: int


def search_articles(
    session: Session, terms: Sequence[str], *, now: datetime, limit: int, offset: int
) -> SearchHits:
    """The published stories (visible at ``now``) holding every term, best first: a headline
    match before a summary match before a body match, then the newest."""
    if not terms:
        return SearchHits([], 0)
    if session.get_bind().dialect.name == "postgresql":
        return _postgresql(session, terms, now=now, limit=limit, offset=offset)
    return _sqlite(session, terms, now=now, limit=limit, offset=offset)


def _query(sql: str) -> Any:
    """``sql`` with ``:now`` bound as the articles' own time type (stored in UTC, in the
    database's format), so that a story published exactly now is found."""
    return text(sql).bindparams(bindparam("now", type_=articles_t.c.published_at.type))


def _phrase(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def _sqlite(
    session: Session, terms: Sequence[str], *, now: datetime, limit: int, offset: int
) -> SearchHits:
    long = [t for t in terms if len(t) >= _TRIGRAM]
    short = [t for t in terms if len(t) < _TRIGRAM]
    # Ranked by the table that holds the long terms (trigrams), else by words; short terms
    # are prefix matches on words ("부산" finds "부산에서": Korean particles follow the noun).
    table = "search_trigram" if long else "search_words"
    where = [f"{table} MATCH :ranked"]
    params: dict[str, Any] = {"now": now, "limit": limit, "offset": offset}
    params["ranked"] = " AND ".join(_phrase(t) for t in long) if long else ""
    if short:
        words = " AND ".join(_phrase(t) + "*" for t in short)
        if long:
            where.append("a.id IN (SELECT rowid FROM search_words WHERE search_words MATCH :words)")
            params["words"] = words
        else:
            params["ranked"] = words
    source = (
        f"FROM {table} CROSS JOIN articles a ON a.id = {table}.rowid "
        f"WHERE {' AND '.join(where)} AND a.status = 'published' AND a.published_at <= :now"
    )
    total = session.execute(_query(f"SELECT count(*) {source}"), params).scalar_one()
    ids = session.execute(
        _query(
            f"SELECT a.id {source} ORDER BY bm25({table}, 10.0, 4.0, 1.0), "
            "a.published_at DESC, a.id DESC LIMIT :limit OFFSET :offset"
        ),
        params,
    ).scalars()
    return SearchHits(list(ids), int(total))


def _like(term: str) -> str:
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _postgresql(
    session: Session, terms: Sequence[str], *, now: datetime, limit: int, offset: int
) -> SearchHits:
    # Long terms: a substring of the joined text (pg_trgm's GIN index finds the candidates, in
    # any script); short ones: a prefix of a ``simple`` word. Ranked by where the terms are.
    everything = "(t.title || ' ' || t.summary || ' ' || t.body)"
    where = []
    score = []
    params: dict[str, Any] = {"now": now, "limit": limit, "offset": offset}
    for n, term in enumerate(terms):
        if len(term) >= _TRIGRAM:
            params[f"t{n}"] = _like(term)
            where.append(f"{everything} ILIKE :t{n}")
            score.append(
                f"(CASE WHEN t.title ILIKE :t{n} THEN 100 WHEN t.summary ILIKE :t{n} "
                "THEN 10 ELSE 1 END)"
            )
        else:
            params[f"t{n}"] = term
            where.append(f"t.words @@ to_tsquery('simple', quote_literal(:t{n}) || ':*')")
            score.append(
                f"(CASE WHEN t.words @@ to_tsquery('simple', quote_literal(:t{n}) || ':*A') "
                f"THEN 100 WHEN t.words @@ to_tsquery('simple', quote_literal(:t{n}) || ':*B') "
                "THEN 10 ELSE 1 END)"
            )
    # The text indexes first (materialized: the planner never walks every article probing
    # the text of each), then which of those stories readers may see.
    found = (
        f"WITH found AS MATERIALIZED (SELECT t.article_id, {' + '.join(score)} AS score "
        f"FROM article_texts t WHERE {' AND '.join(where)}) "
    )
    source = (
        "FROM found JOIN articles a ON a.id = found.article_id "
        "WHERE a.status = 'published' AND a.published_at <= :now"
    )
    total = session.execute(_query(f"{found}SELECT count(*) {source}"), params).scalar_one()
    ids = session.execute(
        _query(
            f"{found}SELECT a.id {source} ORDER BY found.score DESC, "
            "a.published_at DESC, a.id DESC LIMIT :limit OFFSET :offset"
        ),
        params,
    ).scalars()
    return SearchHits(list(ids), int(total))
