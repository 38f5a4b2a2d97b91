"""The newsroom's articles (``/admin/articles``, for editors): the list with search and
filters, newest first, a page at a time, each story with its state. The form to write or
edit one is ``article_form``, a story's life ``article_life`` and its revisions
``article_revisions``, whose routes this router carries too."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from publisher import store
from publisher.articles import publish
from publisher.languages import normalize_tag
from publisher.newsroom.staff import Staff
from publisher.web.admin import article_form, article_life, article_preview, article_revisions
from publisher.web.admin.pages import render
from publisher.web.admin.session import editor
from publisher.web.application import Application, application

__all__ = ["router"]

PAGE = 50
YES_NO = {"": None, "yes": True, "no": False}

router = APIRouter()


def _filter(request: Request, site_language: str) -> tuple[store.ArticleFilter, int, str]:
    """The list's filters from the query string, the page number, and what was wrong."""
    q = request.query_params
    problem = ""
    status = q.get("status", "")
    if status not in ("", *store.ARTICLE_STATUSES):
        status, problem = "", f"There is no status {status!r}: showing every status."
    flags = {}
    for name in ("sponsored", "ai_assisted"):
        given = q.get(name, "")
        if given not in YES_NO:
            given, problem = "", f"{name} is yes, no or empty: showing both."
        flags[name] = YES_NO[given]
    language = q.get("language", "").strip()
    if language:
        try:
            language = normalize_tag(language[:35])
        except ValueError as exc:
            language, problem = "", f"{exc}: showing every language."
    page = q.get("page", "1")
    number = int(page) if page.isdigit() and 0 < len(page) < 7 and int(page) > 0 else 0
    if not number:
        number, problem = 1, f"There is no page {page!r}: showing the first."
    wanted = store.ArticleFilter(
        text=q.get("q", "").strip()[:200],
        status=status,
        category=q.get("category", "")[:200],
        sponsored=flags["sponsored"],
        ai_assisted=flags["ai_assisted"],
        author=q.get("author", "")[:200],
        language=language,
        site_language=site_language,
    )
    return wanted, number, problem


def _query(wanted: store.ArticleFilter, page: int) -> str:
    values = {
        "q": wanted.text,
        "status": wanted.status,
        "category": wanted.category,
        "sponsored": {None: "", True: "yes", False: "no"}[wanted.sponsored],
        "ai_assisted": {None: "", True: "yes", False: "no"}[wanted.ai_assisted],
        "author": wanted.author,
        "language": wanted.language,
        "page": str(page) if page > 1 else "",
    }
    return urlencode({k: v for k, v in values.items() if v})


def _address(query: str) -> str:
    return f"/admin/articles?{query}" if query else "/admin/articles"


@router.get("/articles", response_class=HTMLResponse)
def article_list(
    request: Request, who: Staff = Depends(editor), app: Application = Depends(application)
) -> HTMLResponse:
    """The articles, filtered, newest first, a page at a time, with a count per status."""
    wanted, page, problem = _filter(request, app.settings.site_language)
    now = app.clock()
    views, counts = publish.find_articles(
        app.engine, wanted, now=now, offset=(page - 1) * PAGE, limit=PAGE
    )
    total = counts[wanted.status] if wanted.status else counts["all"]
    status_links = {
        name: _query(store.ArticleFilter(**{**wanted.__dict__, "status": name}), 1)
        for name in ("", *store.ARTICLE_STATUSES)
    }
    with store.reading(app.engine) as db:
        categories, authors = store.category_list(db), store.authors(db)
        languages = store.story_languages(db, now=None, site_language=app.settings.site_language)
    return render(
        request,
        app,
        "articles.html",
        staff=who,
        http_status=400 if problem else 200,
        views=views,
        now=now,
        wanted=wanted,
        counts=counts,
        total=total,
        first=(page - 1) * PAGE + 1,
        page=page,
        newer=_address(_query(wanted, page - 1)) if page > 1 else "",
        older=_address(_query(wanted, page + 1)) if page * PAGE < total else "",
        position="",
        status_links=status_links,
        problem=problem,
        categories=categories,
        authors=authors,
        languages=languages,
        site_language=app.settings.site_language,
    )


router.include_router(article_preview.router)  # before /articles/{article_id}
router.include_router(article_form.router)
router.include_router(article_life.router)
router.include_router(article_revisions.router)
