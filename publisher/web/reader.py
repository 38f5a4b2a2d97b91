"""The reader pages: the front page and a story's page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from publisher.articles import publish
from publisher.content import slugify
from publisher.web.pages import Context, is_member


def router(ctx: Context) -> APIRouter:
    """``/`` and ``/articles/{slug}``."""
    pages = APIRouter()

    @pages.get("/", response_class=HTMLResponse)
    def index() -> HTMLResponse:
        articles = publish.latest(ctx.engine, ctx.settings, now=ctx.clock())
        return ctx.page("index.html", articles=articles, **ctx.join_form())

    @pages.get("/articles/{slug}", response_class=HTMLResponse)
    def article(slug: str, request: Request) -> HTMLResponse:
        view = publish.article(ctx.engine, slug, now=ctx.clock())
        member = is_member(request)
        response = ctx.page(
            "article.html",
            view=view,
            article=view.article,
            categories=[(slugify(name), name) for name in view.categories],
            studio=ctx.timetable.brand_studio,
            member=member,
            **({} if member else ctx.join_form()),
        )
        response.headers["Vary"] = "Cookie"  # a member's page has no join form
        return response

    return pages
