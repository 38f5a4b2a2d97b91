"""The reader pages: the front page (``/``, paged), a story's page (``/articles/{slug}``; a
withdrawn story's page says why), and a draft's preview link (``/preview/{token}``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from publisher import store
from publisher.articles import editorial, publish
from publisher.content import slugify
from publisher.languages import catalog_for
from publisher.look.values import read_look
from publisher.web import structured
from publisher.web.application import Application, application
from publisher.web.feeds import discovery_links
from publisher.web.pages import cached, is_member, join_form, render
from publisher.web.sections import list_page, listing, page_number

__all__ = ["RELATED", "article", "index", "preview", "router", "story_values"]

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
    view = publish.story_page(app.engine, slug, now=now)
    values = story_values(app, view, member=member, now=now)
    response = render(app, "article.html", **values)
    # A member's page has no join form; a story in a language without a catalog speaks the
    # reader's.
    response.headers["Vary"] = "Cookie" if values["locale"] else "Cookie, Accept-Language"
    return cached(request, response)


def story_values(
    app: Application, view: store.ArticleView, *, member: bool, now: Any, preview: bool = False
) -> dict[str, Any]:
    """What ``pages/article.html`` shows of ``view``: the story page, a withdrawn story's
    page (headline, date, the reason, no body), or a preview of an unsaved or unpublished
    one (``preview``: marked noindex, nothing for machines, no related stories)."""
    withdrawn = view.article.status == "withdrawn"
    related: list[store.ArticleView] = []
    translations: list[tuple[str, str]] = []
    home = app.settings.site_language
    with store.reading(app.engine) as session:
        # The Brand Studio block as the newsroom's Look page sets it, as in the digest.
        look = read_look(session, app.settings, app.timetable.brand_studio)[0]
        if not (withdrawn or preview):
            related = store.related_stories(session, view, now=now, limit=RELATED)
            translations = store.translations(session, view.article, now=now, site_language=home)
    machines = not (withdrawn or preview)
    # The page speaks the story's language when a catalog does; else the reader's, with the
    # story itself marked in its own.
    language = view.article.language or home
    spoken = catalog_for(language, default="")
    return {
        "locale": spoken or None,
        "page_language": language if spoken else None,
        "story_language": language,
        "translations": [(tag, slug) for tag, slug in translations if tag != language],
        "alternates": (
            sorted({**dict(translations), language: view.article.slug}.items())
            if translations
            else []
        ),
        **({} if preview else {"feed_links": discovery_links(app.settings, language)}),
        "view": view,
        "article": view.article,
        "categories": [(slugify(name), name) for name in view.categories],
        "author_slug": slugify(view.article.author),
        "related": related,
        "studio": look.studio,
        "member": member,
        "withdrawn": withdrawn,
        "preview": preview,
        "meta": structured.article_meta(app.settings, view) if machines else None,
        "json_ld": (
            [structured.news_article(app.settings, view, look.studio_words)] if machines else []
        ),
        **({} if member or withdrawn or preview else join_form(app)),
    }


@router.get("/preview/{token}", response_class=HTMLResponse)
def preview(token: str, app: Application = Depends(application)) -> Response:
    """A draft as readers would see it, for a colleague without an account: read-only,
    ``noindex``, never cached; an altered or expired link is a 404."""
    now = app.clock()
    view = editorial.preview_view(app.engine, app.signer, token, now=now)
    response = render(
        app, "article.html", **story_values(app, view, member=True, now=now, preview=True)
    )
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    response.headers["Cache-Control"] = "no-store"
    return response
