"""The reader pages: the front page (``/``, paged) and a story's page (``/articles/{slug}``)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from publisher import store
from publisher.articles import publish
from publisher.content import slugify
from publisher.languages import catalog_for
from publisher.web import structured
from publisher.web.application import Application, application
from publisher.web.feeds import discovery_links
from publisher.web.pages import cached, is_member, join_form, render
from publisher.web.sections import list_page, listing, page_number

__all__ = ["RELATED", "article", "index", "router"]

RELATED = 4  # related stories under a story

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
def index(
    request: Request, page: str | None = None, app: Application = Depends(application)
) -> Response:
    """The front page: the latest stories (paged) and the join form."""
    found = listing(app, page_number(page))
    settings = app.settings
    return list_page(
        request,
        app,
        "index.html",
        found,
        path="/",
        title=settings.site_title,
        description=settings.site_tagline,
        **join_form(app),
    )


@router.get("/articles/{slug}", response_class=HTMLResponse)
def article(
    slug: str,
    request: Request,
    app: Application = Depends(application),
    member: bool = Depends(is_member),
) -> Response:
    """A story's page, with its section and author links, related stories and what machines
    read; the join form only for a browser without the member cookie."""
    now = app.clock()
    view = publish.article(app.engine, slug, now=now)
    home = app.settings.site_language
    with store.reading(app.engine) as session:
        related = store.related_stories(session, view, now=now, limit=RELATED)
        translations = store.translations(session, view.article, now=now, site_language=home)
    # The page speaks the story's language when a catalog does; else the reader's, with the
    # story itself marked in its own.
    language = view.article.language or home
    spoken = catalog_for(language, default="")
    response = render(
        app,
        "article.html",
        locale=spoken or None,
        page_language=language if spoken else None,
        story_language=language,
        translations=[(tag, slug) for tag, slug in translations if tag != language],
        alternates=sorted({**dict(translations), language: view.article.slug}.items())
        if translations
        else [],
        feed_links=discovery_links(app.settings, language),
        view=view,
        article=view.article,
        categories=[(slugify(name), name) for name in view.categories],
        author_slug=slugify(view.article.author),
        related=related,
        studio=app.timetable.brand_studio,
        member=member,
        meta=structured.article_meta(app.settings, view),
        json_ld=[structured.news_article(app.settings, view, app.timetable.brand_studio)],
        **({} if member else join_form(app)),
    )
    # A member's page has no join form; a story in a language without a catalog speaks the
    # reader's.
    response.headers["Vary"] = "Cookie, Accept-Language" if not spoken else "Cookie"
    return cached(request, response)
