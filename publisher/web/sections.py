"""The reader's lists of stories: the sections (``/categories/{slug}/``) and the authors
(``/authors/{slug}/``), each with its feeds, paged with ``?page=N`` like the front page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from publisher import store
from publisher.errors import NotFoundError
from publisher.settings import Settings
from publisher.web import structured
from publisher.web.application import Application, application
from publisher.web.facts import facts
from publisher.web.pages import cached, join_form, render

__all__ = [
    "MAX_PAGE",
    "PAGE_SIZE",
    "Listing",
    "author",
    "feed_links",
    "list_page",
    "listing",
    "page_number",
    "router",
    "section",
]

PAGE_SIZE = 20
MAX_PAGE = 100_000

router = APIRouter()


@dataclass(frozen=True)
class Listing:
    """One page of a list of stories: its stories, its number, whether a next page exists."""

    views: list[store.ArticleView]
    page: int
    more: bool


def page_number(raw: str | None) -> int:
    """``?page=N`` as a number from 1; anything else is no page (a 404)."""
    if raw is None:
        return 1
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise NotFoundError(f"there is no page {raw[:20]!r} of this list")
    return int(raw)


def listing(app: Application, page: int, **where: Any) -> Listing:
    """Page ``page`` of the visible stories (of ``where``: a category id or bylines), newest
    first; past the end is a 404, page 1 never is."""
    with store.reading(app.engine) as session:
        views = store.story_page(
            session,
            now=app.clock(),
            offset=(page - 1) * PAGE_SIZE,
            limit=PAGE_SIZE + 1,
            **where,
        )
    if page > 1 and not views:
        raise NotFoundError(f"this list has no page {page}")
    return Listing(views[:PAGE_SIZE], page, len(views) > PAGE_SIZE)


def feed_links(settings: Settings, prefix: str, title: str) -> list[tuple[str, str, str]]:
    """A section's or author's three feeds, as the pages' ``rel=alternate`` links."""
    base = f"{settings.site_url}/{prefix}"
    return [
        ("application/rss+xml", f"{title} (RSS)", f"{base}/feed.xml"),
        ("application/atom+xml", f"{title} (Atom)", f"{base}/atom.xml"),
        ("application/feed+json", f"{title} (JSON Feed)", f"{base}/feed.json"),
    ]


def list_page(
    request: Request,
    app: Application,
    template: str,
    found: Listing,
    *,
    path: str,
    title: str,
    description: str,
    **values: Any,
) -> Response:
    """A list page rendered with its canonical address, prev/next links and JSON-LD
    (``CollectionPage`` with the ``ItemList`` of its stories), answered with an ETag."""
    meta = structured.list_meta(
        app.settings,
        path=path,
        page=found.page,
        more=found.more,
        title=title,
        description=description,
    )
    first = (found.page - 1) * PAGE_SIZE + 1
    data = structured.collection(app.settings, meta, title, found.views, first=first)
    response = render(
        app,
        template,
        articles=found.views,
        listing=found,
        path=path,
        meta=meta,
        json_ld=[data],
        heading=title,
        **values,
    )
    return cached(request, response)


def _public_category(app: Application, slug: str) -> tuple[int, str, str]:
    for category in facts(app.engine, app.clock()).categories:
        if category[1] == slug:
            return category
    raise NotFoundError(f"there is no section {slug[:100]!r}")


@router.get("/categories/{slug}/", response_class=HTMLResponse)
def section(
    slug: str,
    request: Request,
    page: str | None = None,
    app: Application = Depends(application),
) -> Response:
    """A section: the category's stories, newest first, its feeds and its own join call."""
    category_id, slug, name = _public_category(app, slug)
    size = facts(app.engine, app.clock()).sizes.get(category_id, 0)
    found = listing(app, page_number(page), category_id=category_id, category_size=size)
    site = app.settings.site_title
    form = join_form(app)
    form["chosen_topics"] = (slug,)
    return list_page(
        request,
        app,
        "section.html",
        found,
        path=f"/categories/{quote(slug, safe='')}/",
        title=f"{name} · {site}",
        description=f"The latest {name} stories from {site}.",
        list_name=name,
        feed_links=feed_links(app.settings, f"categories/{slug}", f"{site}: {name}"),
        **form,
    )


@router.get("/authors/{slug}/", response_class=HTMLResponse)
def author(
    slug: str,
    request: Request,
    page: str | None = None,
    app: Application = Depends(application),
) -> Response:
    """An author: the byline's stories, newest first, and its feeds."""
    names = facts(app.engine, app.clock()).authors.get(slug)
    if not names:
        raise NotFoundError(f"there is no author {slug[:100]!r}")
    found = listing(app, page_number(page), authors=names)
    site = app.settings.site_title
    return list_page(
        request,
        app,
        "author.html",
        found,
        path=f"/authors/{quote(slug, safe='')}/",
        title=f"{names[0]} · {site}",
        description=f"Stories by {names[0]} on {site}.",
        list_name=names[0],
        feed_links=feed_links(app.settings, f"authors/{slug}", f"{site}: {names[0]}"),
    )
