"""The reader pages: the front page (``/``) and a story's page (``/articles/{slug}``)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse

from publisher.articles import publish
from publisher.content import slugify
from publisher.web.application import Application, application
from publisher.web.pages import is_member, join_form, render

__all__ = ["article", "index", "router"]

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
def index(app: Application = Depends(application)) -> HTMLResponse:
    """The front page: the latest stories and the join form."""
    articles = publish.latest(app.engine, app.settings, now=app.clock())
    return render(app, "index.html", articles=articles, **join_form(app))


@router.get("/articles/{slug}", response_class=HTMLResponse)
def article(
    slug: str,
    app: Application = Depends(application),
    member: bool = Depends(is_member),
) -> HTMLResponse:
    """A story's page; the join form only for a browser without the member cookie."""
    view = publish.article(app.engine, slug, now=app.clock())
    response = render(
        app,
        "article.html",
        view=view,
        article=view.article,
        categories=[(slugify(name), name) for name in view.categories],
        studio=app.timetable.brand_studio,
        member=member,
        **({} if member else join_form(app)),
    )
    response.headers["Vary"] = "Cookie"  # a member's page has no join form
    return response
