"""The reader's search (``/search?q=...``, issue 30): published stories holding every word of
the query, best first, ten a page, with the matched words marked. The query is reduced to
words before it reaches the database (:func:`publisher.store.search_terms`), and the marking
escapes the story's text first and only then wraps the matches: no stored or typed text is
ever trusted as HTML. Results pages are ``noindex`` and cached briefly."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup, escape

from publisher import store
from publisher.errors import NotFoundError
from publisher.web.application import Application, application
from publisher.web.pages import cached, render

__all__ = ["PER_PAGE", "Result", "highlight", "router", "search", "snippet"]

router = APIRouter()

PER_PAGE = 10
SNIPPET_CHARS = 240
MAX_PAGE = 1000
MAX_AGE = 30  # short: a withdrawn story leaves the results within seconds


@dataclass(frozen=True)
class Result:
    view: store.ArticleView
    title: Markup
    snippet: Markup


def _spans(text: str, terms: Sequence[str]) -> list[tuple[int, int]]:
    """Where the terms are in ``text`` (case-insensitive), overlapping spans merged."""
    if not terms:
        return []
    pattern = re.compile("|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True)), re.I)
    spans: list[tuple[int, int]] = []
    for match in pattern.finditer(text):
        start, end = match.span()
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
        elif end > start:
            spans.append((start, end))
    return spans


def highlight(text: str, terms: Sequence[str]) -> Markup:
    """``text`` escaped, with each match of the terms in ``<mark>``: escaping comes first, so
    the only markup in the answer is ours."""
    out: list[str] = []
    last = 0
    for start, end in _spans(text, terms):
        out.append(str(escape(text[last:start])))
        out.append(f"<mark>{escape(text[start:end])}</mark>")
        last = end
    out.append(str(escape(text[last:])))
    return Markup("".join(out))


def snippet(text: str, terms: Sequence[str], size: int = SNIPPET_CHARS) -> Markup:
    """About ``size`` characters of ``text`` around its first match, marked and escaped."""
    spans = _spans(text, terms)
    start = max(0, spans[0][0] - size // 3) if spans else 0
    if start:
        space = text.find(" ", start, start + 20)
        start = space + 1 if space != -1 else start
    end = min(len(text), start + size)
    piece = highlight(text[start:end], terms)
    return Markup(("… " if start else "") + piece + (" …" if end < len(text) else ""))


def _results(app: Application, terms: list[str], page: int) -> tuple[list[Result], int, bool]:
    now = app.clock()
    with store.reading(app.engine) as session:
        hits = store.search_articles(
            session, terms, now=now, limit=PER_PAGE, offset=(page - 1) * PER_PAGE
        )
        views = store.views_by_id(session, hits.ids)
    results = []
    for article_id in hits.ids:
        view = views[article_id]
        a = view.article
        body = store.plain_text(a.body_html)
        in_summary = _spans(a.summary, terms)
        text = a.summary if in_summary or not _spans(body, terms) else body
        results.append(Result(view, highlight(a.title, terms), snippet(text or body, terms)))
    return results, hits.total, hits.capped


def _problem(query: str, terms: list[str]) -> str:
    if not query.strip():
        return ""
    if len(query) > store.MAX_QUERY_CHARS:
        return f"That search is too long: use at most {store.MAX_QUERY_CHARS} characters."
    if not terms:
        return "Search for words: that search had only punctuation or symbols in it."
    return ""


@router.get("/search", response_class=HTMLResponse)  # HEAD too (web/head.py)
def search(
    request: Request, q: str = "", page: str = "1", app: Application = Depends(application)
) -> Response:
    """Search results, or a page saying why there are none; an ETag from its bytes (a 304
    when the reader holds them)."""
    if not page.isdigit() or not 1 <= int(page) <= MAX_PAGE:
        raise NotFoundError("there is no such page of results")
    number = int(page)
    terms = store.search_terms(q)
    problem = _problem(q, terms)
    results: list[Result] = []
    total, capped = 0, False
    if terms and not problem:
        results, total, capped = _results(app, terms, number)
        if not results and number > 1:
            raise NotFoundError("there is no such page of results")
    pages = -(-total // PER_PAGE)
    response = render(
        app,
        "search.html",
        query=q[: store.MAX_QUERY_CHARS],
        terms=terms,
        problem=problem,
        results=results,
        total=total,
        capped=capped,
        page=number,
        pages=pages,
    )
    return cached(request, response, max_age=MAX_AGE)
