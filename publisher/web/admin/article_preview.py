"""The whole story page as readers will see it, from the article form as it stands, unsaved
(``/admin/articles/preview-page``): the reader's own page template, rendered from the
sanitised story, in frames of a phone's (390 px) and a desktop's (1280 px) width."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from publisher import store
from publisher.articles.cleaning import ArticleInput, ArticleProblems, validate_form
from publisher.languages import catalog_for
from publisher.models import Article
from publisher.newsroom.staff import Staff
from publisher.web.admin.article_draft import Draft, problems_of
from publisher.web.admin.article_form import load
from publisher.web.admin.pages import render
from publisher.web.admin.session import writer
from publisher.web.application import Application, application
from publisher.web.reader import story_values

__all__ = ["router"]

router = APIRouter()


@router.post("/articles/preview-page", response_class=HTMLResponse)
async def preview_page(
    request: Request, who: Staff = Depends(writer), app: Application = Depends(application)
) -> HTMLResponse:
    """The whole story page as readers will see it (headline, picture, byline, provenance,
    disclosures, corrections), from the form as it stands, unsaved, at phone and desktop
    width side by side; or what stops it being shown."""
    form = await request.form()
    draft = Draft.posted(form)
    saved_id = str(form.get("article_id", ""))
    view = load(app, int(saved_id), who) if saved_id.isdigit() else None
    try:
        item = validate_form(draft.article_fields(), app.settings.zone)
    except ArticleProblems as exc:
        return render(
            request,
            app,
            "article_preview_page.html",
            staff=who,
            http_status=400,
            page="",
            problems=problems_of(exc),
            title=draft.values["title"],
        )
    now = app.clock()
    shown = _unsaved(item, view, now)
    values = story_values(app, shown, member=True, now=now, preview=True)
    # Rendered here, not by the reader side's render(): a story in a language without a
    # catalog is framed in the site's.
    values["locale"] = values["locale"] or catalog_for(app.settings.site_language)
    values["page_language"] = values["page_language"] or values["locale"]
    page = app.env.get_template("pages/article.html").render(
        settings=app.settings, feed_links=[], **values
    )
    return render(
        request,
        app,
        "article_preview_page.html",
        staff=who,
        page=page,
        problems={},
        title=item.title,
    )


def _unsaved(
    item: ArticleInput, view: store.ArticleView | None, now: datetime
) -> store.ArticleView:
    """The story the form stands for, unsaved, as the reader's page template takes it (with
    the saved story's id, feed id and corrections, if any)."""
    base = view.article if view is not None else None
    article = Article(
        id=base.id if base else None,
        uid=base.uid if base else "preview",
        slug=item.slug,
        title=item.title,
        summary=item.summary,
        body_html=item.body_html,
        author=item.author,
        editor=item.editor,
        source_name=item.source_name,
        source_url=item.source_url,
        image=item.image,
        ai_assisted=item.ai_assisted,
        sponsored=item.sponsored,
        status="draft",
        content_hash=item.content_hash,
        published_at=item.published_at or (base.published_at if base else now),
        created_at=now,
        updated_at=now,
        published_by="preview" if item.editor else "",
    )
    return store.ArticleView(
        article, tuple(item.categories), view.corrections if view is not None else ()
    )
