"""The reader's search over published stories (issue 30): the index's text, kept by the writes
in :mod:`publisher.store.articles`, and the ranked query on SQLite (FTS5) and PostgreSQL.

``article_texts`` holds each story's headline, summary and body as plain text, and apart, the
runs of scripts written without spaces between words (Thai, Lao, Khmer, Myanmar, Chinese,
Japanese kana); the database's full-text indexes follow it (migrations 0022 and 0027: FTS5
tables on SQLite, the narrow ``search_words`` table on PostgreSQL). Words go by a
word index (prefixes: "rail" finds "railway", "영화제" finds "영화제는"); a term in an unspaced
script, by a trigram index over those runs only, so that English bodies cost no trigrams.
Which stories may be found is decided when searching, by joining ``articles`` on status and
``published_at``, so a withdrawn story, or a scheduled one not yet due, is never found, and
one coming due is found at once. A query is reduced to terms (runs of letters, marks and
digits) before it reaches either engine: no query syntax of theirs is given a reader's text.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Integer, MetaData, Table, Text, bindparam, delete, insert, text
from sqlalchemy.orm import Session

from publisher.articles.cleaning import ArticleInput
from publisher.content import UNSPACED, searchable_text
from publisher.store.engine import articles_t

__all__ = [
    "CANDIDATES",
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
# PostgreSQL scores only the newest this many matches of a query (see _postgresql).
CANDIDATES = 1000
MAX_TERMS = 8
_TRIGRAM = 3  # the shortest term a trigram index can find
_SQLITE_IDS = 500  # ids bound in one statement (SQLite allows 999 parameters before 3.32)
# Tables the models do not describe (the search index): the migration test leaves them out.
SEARCH_TABLES = ("article_texts", "search_trigram", "search_words")

article_texts_t = Table(
    "article_texts",
    MetaData(),
    Column("article_id", Integer, primary_key=True, autoincrement=False),
    Column("title", Text, nullable=False),
    Column("summary", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("unspaced", Text, nullable=False),
)

_UNSPACED = UNSPACED


def plain_text(body_html: str) -> str:
    """A body's text as the index holds it (content.py's ``searchable_text``, which an
    import's worker processes run into ``ArticleInput.search_body``)."""
    return searchable_text(body_html)


def index_texts(
    session: Session, stories: Iterable[tuple[int, ArticleInput]], *, fresh: bool = False
) -> None:
    """Make the index hold these stories' text (``(id, ArticleInput)`` each): one delete
    (none for ``fresh`` stories, just inserted) and one multi-row insert, in the caller's
    transaction. The full-text tables are written here, batch by batch (migration 0027): on
    SQLite rather than by a trigger row by row (which cost 2.5 times as much), on PostgreSQL
    into a narrow table of its own."""
    texts: list[dict[str, Any]] = [
        {
            "article_id": article_id,
            "title": item.title,
            "summary": item.summary,
            "body": item.search_body,
            "unspaced": item.search_unspaced,
        }
        for article_id, item in stories
    ]
    if not texts:
        return
    ids: list[int] = [t["article_id"] for t in texts]
    if not fresh:  # the delete trigger takes the old text out of the full-text tables
        session.execute(delete(article_texts_t).where(article_texts_t.c.article_id.in_(ids)))
    session.execute(insert(article_texts_t), texts)
    if session.get_bind().dialect.name == "sqlite":
        _fill_sqlite_index(session, ids)
    else:
        _fill_postgresql_index(session, ids, fresh=fresh)


def _fill_postgresql_index(session: Session, ids: list[int], *, fresh: bool) -> None:
    """Index these ``article_texts`` rows in ``search_words``: a ``simple`` tsvector weighted
    A, B, C for headline, summary and body (the text parser takes "<script>" for a tag and
    drops it, so angle brackets become spaces), and the unspaced runs for the trigrams."""
    chosen = {"ids": ids}
    if not fresh:
        session.execute(
            text("DELETE FROM search_words WHERE article_id IN :ids").bindparams(
                bindparam("ids", expanding=True)
            ),
            chosen,
        )
    session.execute(
        text(
            "INSERT INTO search_words (article_id, words, unspaced) "
            "SELECT article_id, "
            "setweight(to_tsvector('simple', translate(title, '<>', '  ')), 'A') "
            "|| setweight(to_tsvector('simple', translate(summary, '<>', '  ')), 'B') "
            "|| setweight(to_tsvector('simple', translate(body, '<>', '  ')), 'C'), "
            "unspaced FROM article_texts WHERE article_id IN :ids"
        ).bindparams(bindparam("ids", expanding=True)),
        chosen,
    )


def _fill_sqlite_index(session: Session, ids: list[int]) -> None:
    """Index these ``article_texts`` rows in FTS5: every story's words, and the unspaced runs
    of those that have any (English stories cost the trigram table nothing)."""
    for first in range(0, len(ids), _SQLITE_IDS):
        chosen = {"ids": ids[first : first + _SQLITE_IDS]}
        session.execute(
            text(
                "INSERT INTO search_words(rowid, title, summary, body) "
                "SELECT article_id, title, summary, body FROM article_texts "
                "WHERE article_id IN :ids"
            ).bindparams(bindparam("ids", expanding=True)),
            chosen,
        )
        session.execute(
            text(
                "INSERT INTO search_trigram(rowid, unspaced) "
                "SELECT article_id, unspaced FROM article_texts "
                "WHERE article_id IN :ids AND unspaced != ''"
            ).bindparams(bindparam("ids", expanding=True)),
            chosen,
        )


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


def _by_trigrams(term: str) -> bool:
    """Whether ``term`` is found by trigrams (a word of an unspaced script) or as a word."""
    return len(term) >= _TRIGRAM and _UNSPACED.search(term) is not None


@dataclass(frozen=True)
class SearchHits:
    """One page of matching story ids, best first, and how many match in all."""

    ids: list[int]
    total: int
    capped: bool = False  # more match than CANDIDATES: ``total`` counts the newest of them


def search_articles(
    session: Session, terms: Sequence[str], *, now: datetime, limit: int, offset: int
) -> SearchHits:
    """The published stories (visible at ``now``) holding every term, best first: a headline
    match before a summary match before a body match, then the newest."""
    if not terms:
        return SearchHits([], 0)
    words = [t for t in terms if not _by_trigrams(t)]
    runs = [t for t in terms if _by_trigrams(t)]
    params: dict[str, Any] = {"now": now, "limit": limit, "offset": offset}
    if session.get_bind().dialect.name == "postgresql":
        found, order = _postgresql(words, runs, params)
        # A word in a third of the stories made the planner read every row's tsvector back
        # from TOAST (a sequential scan it thinks cheap: 478 ms over 100,000 stories) rather
        # than take the GIN index's bitmap (32 ms). Only for this transaction's queries.
        session.execute(text("SET LOCAL enable_seqscan = off"))
    else:
        found, order = _sqlite(words, runs, params)
    visible_now = "AND a.status = 'published' AND a.published_at <= :now"
    ranks = ", ".join(f"{expression} AS rank{n}" for n, expression in enumerate(order))
    # The ranking inside (FTS5's bm25 cannot sit beside a window function), the count outside.
    rows = session.execute(
        text(
            "SELECT id, count(*) OVER () AS total FROM "
            f"(SELECT a.id AS id, a.published_at AS published_at, {ranks} {found} {visible_now}) "
            "AS ranked "
            f"ORDER BY {', '.join(f'rank{n}' for n in range(len(order)))}, published_at DESC, "
            "id DESC LIMIT :limit OFFSET :offset"
        ).bindparams(bindparam("now", type_=articles_t.c.published_at.type)),
        params,
    ).all()
    if rows or offset == 0:
        total = rows[0].total if rows else 0
        capped = "candidates" in params and total >= CANDIDATES
        return SearchHits([row.id for row in rows], total, capped=capped)
    # Past the last page: the window saw no row, so count on their own.
    total = session.execute(
        text(f"SELECT count(*) {found} {visible_now}").bindparams(
            bindparam("now", type_=articles_t.c.published_at.type)
        ),
        params,
    ).scalar_one()
    return SearchHits([], int(total), capped="candidates" in params and int(total) >= CANDIDATES)


def _phrase(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def _sqlite(words: list[str], runs: list[str], params: dict[str, Any]) -> tuple[str, list[str]]:
    """FROM-and-WHERE and ORDER BY for SQLite: driven from the FTS5 table (CROSS JOIN keeps
    SQLite from walking every article and probing the index for each)."""
    if runs:
        params["runs"] = " AND ".join(_phrase(t) for t in runs)
    if words:
        params["words"] = " AND ".join(_phrase(t) + "*" for t in words)
        found = (
            "FROM search_words CROSS JOIN articles a ON a.id = search_words.rowid "
            "WHERE search_words MATCH :words"
        )
        if runs:
            found += (
                " AND a.id IN (SELECT rowid FROM search_trigram WHERE search_trigram MATCH :runs)"
            )
        else:
            # Only the newest CANDIDATES matches are ranked, as on PostgreSQL: bm25 over a
            # word in each of 100,000 stories took 109 ms a query. FTS5 walks a term's
            # matches newest (highest rowid) first, so finding the bound costs little.
            params["candidates"] = CANDIDATES
            found += (
                " AND search_words.rowid >= coalesce((SELECT rowid FROM search_words "
                "WHERE search_words MATCH :words ORDER BY rowid DESC "
                "LIMIT 1 OFFSET :candidates - 1), 0)"
            )
        return found, ["bm25(search_words, 10.0, 4.0, 1.0)"]
    # Only unspaced-script terms: a headline holding the first ranks first.
    params["first"] = runs[0]
    params["candidates"] = CANDIDATES  # the newest only, as above
    found = (
        "FROM search_trigram CROSS JOIN articles a ON a.id = search_trigram.rowid "
        "WHERE search_trigram MATCH :runs AND search_trigram.rowid >= coalesce(("
        "SELECT rowid FROM search_trigram WHERE search_trigram MATCH :runs "
        "ORDER BY rowid DESC LIMIT 1 OFFSET :candidates - 1), 0)"
    )
    return found, [
        "instr(lower(a.title), :first) = 0",
        "instr(lower(a.summary), :first) = 0",
    ]


def _like(term: str) -> str:
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _where_it_is(pattern: str) -> str:
    return (
        f"(CASE WHEN a.title ILIKE :{pattern} THEN 100 WHEN a.summary ILIKE :{pattern} THEN 10 "
        "ELSE 1 END)"
    )


def _postgresql(words: list[str], runs: list[str], params: dict[str, Any]) -> tuple[str, list[str]]:
    """FROM-and-WHERE and ORDER BY for PostgreSQL: the newest CANDIDATES matches, found by the
    GIN indexes of the narrow ``search_words`` table (migration 0027), then scored by where
    the terms are in the headline and summary of ``articles``'s rows."""
    where, score = [], []
    for n, term in enumerate(words):
        params[f"w{n}"] = term
        params[f"l{n}"] = _like(term)
        where.append(f"s.words @@ to_tsquery('simple', quote_literal(:w{n}) || ':*')")
        score.append(_where_it_is(f"l{n}"))
    for n, term in enumerate(runs):
        params[f"r{n}"] = _like(term)
        where.append(f"s.unspaced ILIKE :r{n}")
        score.append(_where_it_is(f"r{n}"))
    # Only the newest CANDIDATES matches are scored and ranked: a word in every story cost
    # 1.4 s a query over 100,000 (scoring each match), an easy way to keep the daemon busy.
    # "+ 0" keeps the planner from walking the primary key newest first and testing each
    # row's tsvector (read back from TOAST: 336 ms for 10,000 matches); the GIN index's
    # bitmap, then a top-N sort of the ids, took 9 ms.
    params["candidates"] = CANDIDATES
    found = (
        f"FROM (SELECT s.article_id FROM search_words s WHERE {' AND '.join(where)} "
        "ORDER BY s.article_id + 0 DESC LIMIT :candidates) AS found "
        "JOIN articles a ON a.id = found.article_id WHERE true"
    )
    return found, [f"-({' + '.join(score)})"]
