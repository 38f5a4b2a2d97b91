"""The newsroom's article form (``/admin/articles/new``, ``/admin/articles/ID``): write an
article or edit one (with a server-rendered preview), opened from an inbox item or not; an
article's trail, reports and corrections beside it; publishing, unpublishing and
corrections. Every change goes through the same use cases as ``articles add`` and the API."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from publisher import store
from publisher.articles import publish
from publisher.articles.cleaning import ArticleInput
from publisher.errors import InputError, NotFoundError
from publisher.languages import CATALOGS
from publisher.newsroom.staff import Staff
from publisher.sources import inbox
from publisher.web.admin import inbox as inbox_area
from publisher.web.admin.article_draft import Draft, problems_of
from publisher.web.admin.pages import render
from publisher.web.admin.picture_form import PictureChoice, from_library, take
from publisher.web.admin.session import editor
from publisher.web.admin.trail import rows
from publisher.web.application import Application, application

__all__ = ["router"]

MAX_ID = 2**31 - 1  # ids are 32-bit in both databases: a larger one is simply not there

router = APIRouter()


def load(app: Application, article_id: int) -> store.ArticleView:
    """The article with this id (NotFoundError when there is none)."""
    if not 0 < article_id <= MAX_ID:
        raise NotFoundError(f"no article {article_id}")
    return publish.article_by_id(app.engine, article_id)


def beside(app: Application, view: store.ArticleView | None) -> dict[str, Any]:
    """What the form shows beside a saved article: where it came from, its trail, its
    reports and corrections (each with the report it came from), and its status."""
    if view is None:
        return {"origin": None, "trail": [], "reports": [], "corrections": [], "status": ""}
    article_id = view.article.id or 0
    with store.reading(app.engine) as db:
        entries = store.audit_entries(db, kind="article", subject_id=article_id)
        reports, _ = store.report_queue(db, article_id=article_id, offset=0, limit=50)
        corrections = store.correction_ids(db, article_id)
    linked = {r.correction_id: r.id for r, _ in reports if r.correction_id}
    return {
        "origin": inbox.article_origin(app.engine, article_id),
        "trail": rows(entries),
        "reports": [r for r, _ in reports],
        "corrections": [(cid, when, note, linked.get(cid)) for cid, when, note in corrections],
        "status": view.status(app.clock()),
    }


def form_page(
    request: Request,
    app: Application,
    who: Staff,
    draft: Draft,
    *,
    view: store.ArticleView | None = None,
    problems: dict[str, str] | None = None,
    preview: str | None = None,
    http_status: int = 200,
    **more: Any,
) -> HTMLResponse:
    """The form holding ``draft`` (for the saved article ``view``, if any), with what was
    wrong; ``more``: the inbox item it is made from, what was just done, a correction."""
    values: dict[str, Any] = {"from_item": None, "done": "", **beside(app, view), **more}
    return render(
        request,
        app,
        "article_form.html",
        staff=who,
        http_status=http_status,
        draft=draft,
        view=view,
        problems=problems or {},
        preview=draft.preview() if preview is None else preview,
        zone=app.settings.zone.key,
        site_language=app.settings.site_language,
        languages=list(CATALOGS),
        suggested_language=_suggested(app, draft),
        **values,
    )


def _suggested(app: Application, draft: Draft) -> str:
    """The language an article left without one reads as, when not the site's: shown as a
    hint beside the field, never filled in."""
    if draft.values["language"].strip() or not draft.values["title"].strip():
        return ""
    item = ArticleInput(
        slug="-", title=draft.values["title"], summary=draft.values["summary"],
        body_markdown=draft.values["body"],
    )  # fmt: skip
    return publish.suggested_language(item, app.settings.site_language) or ""


@router.get("/articles/new", response_class=HTMLResponse)
def new_article(
    request: Request,
    from_item: str = "",
    picture: str = "",
    who: Staff = Depends(editor),
    app: Application = Depends(application),
) -> HTMLResponse:
    """The empty form (with a library ``picture``, if given), or (``from_item``) one filled
    with an inbox item's material."""
    if not from_item:
        chosen = from_library(app, picture)
        return form_page(request, app, who, Draft.empty(), picture=chosen)
    # Opened from the inbox: the item's material, to adapt (issue 14).
    try:
        item = inbox_area.openable(app, from_item)
    except inbox_area.ItemProblem as exc:
        return inbox_area.problem_page(request, app, who, exc)
    draft = Draft.prefilled(inbox.draft(app.engine, item.item.id or 0))
    return form_page(request, app, who, draft, from_item=item)


@router.post("/articles/preview", response_class=HTMLResponse)
async def preview(
    request: Request, who: Staff = Depends(editor), app: Application = Depends(application)
) -> HTMLResponse:
    """The body rendered as readers will see it (htmx swaps it into the form)."""
    draft = Draft.posted(await request.form())
    html = app.env.get_template("admin/_article_preview.html").render(preview=draft.preview())
    return HTMLResponse(html)


async def save(
    request: Request, app: Application, who: Staff, view: store.ArticleView | None
) -> Response:
    """The form sent: previewed, or saved (a new article when ``view`` is None, linked to
    the inbox item it was made from, if any) and then shown saved."""
    form = await request.form()
    draft = Draft.posted(form)
    item = None
    if view is None and form.get("from_item"):
        try:
            item = inbox_area.openable(app, str(form.get("from_item")))
        except inbox_area.ItemProblem as exc:
            return inbox_area.problem_page(request, app, who, exc)
    if form.get("action") == "preview":
        return form_page(
            request, app, who, draft, view=view, preview=draft.preview(), from_item=item
        )
    picture = await take(app, who, form, draft, view)
    problems = {**draft.insecure_images(), **picture.problems}
    if item is not None and not draft.values["editor"].strip():
        problems["editor"] = "Give your name: it is shown to readers as the editor."
    if problems:  # nothing saved, everything typed kept
        return form_page(
            request, app, who, draft, view=view, problems=problems, http_status=400,
            from_item=item, picture=picture,
        )  # fmt: skip
    return stored(request, app, who, draft, view, item, picture)


def stored(
    request: Request,
    app: Application,
    who: Staff,
    draft: Draft,
    view: store.ArticleView | None,
    item: inbox.ItemView | None,
    picture: PictureChoice | None = None,
) -> Response:
    """``draft`` saved (over ``view``, unless someone changed it meanwhile; made from
    ``item``, in the same transaction), and the article shown; or the form again, saying
    what was wrong."""
    then = None if item is None else inbox_area.linker(item, actor=who.email, now=app.clock())
    then = then if picture is None else picture.then(app, then)
    fields = draft.article_fields()
    if (
        view is not None
        and draft.values["published_at"] == Draft.of(view, app.settings.zone).values["published_at"]
    ):
        # The time as the form showed it (to the second): the stored one, to the microsecond.
        fields["published_at"] = view.article.published_at.isoformat()
    try:
        saved, changed = publish.save_article(
            app.engine,
            app.settings,
            fields,
            article_id=view.article.id if view is not None else None,
            base_hash=(draft.base or None) if view is not None else None,
            now=app.clock(),
            actor=who.email,
            then=then,
        )
    except InputError as exc:
        problems = problems_of(exc)
        return form_page(
            request, app, who, draft, view=view, problems=problems, http_status=400,
            from_item=item, picture=picture,
        )  # fmt: skip
    done = "saved" if changed or (picture is not None and picture.changed) else "unchanged"
    return RedirectResponse(f"/admin/articles/{saved}?done={done}", status_code=303)


@router.post("/articles/new", response_class=HTMLResponse)
async def create(
    request: Request, who: Staff = Depends(editor), app: Application = Depends(application)
) -> Response:
    """A new article from the form."""
    return await save(request, app, who, None)


@router.get("/articles/{article_id}", response_class=HTMLResponse)
def article_page(
    request: Request,
    article_id: int,
    done: str = "",
    who: Staff = Depends(editor),
    app: Application = Depends(application),
) -> Response:
    """A saved article in the form, with its trail, reports and corrections."""
    view = load(app, article_id)
    draft = Draft.of(view, app.settings.zone)
    return form_page(request, app, who, draft, view=view, done=done[:20])


@router.post("/articles/{article_id}", response_class=HTMLResponse)
async def edit(
    request: Request,
    article_id: int,
    who: Staff = Depends(editor),
    app: Application = Depends(application),
) -> Response:
    """The article as edited in the form."""
    return await save(request, app, who, load(app, article_id))


@router.get("/articles/{article_id}/unpublish", response_class=HTMLResponse)
def unpublish_question(
    request: Request,
    article_id: int,
    who: Staff = Depends(editor),
    app: Application = Depends(application),
) -> Response:
    """Unpublish? What it does, asked before it is done (the form posts to ``/status``)."""
    view = load(app, article_id)
    if view.article.status != "published":  # nothing to ask: it is off the site already
        return RedirectResponse(f"/admin/articles/{article_id}", status_code=303)
    return render(request, app, "article_unpublish.html", staff=who, view=view)


@router.post("/articles/{article_id}/status", response_class=HTMLResponse)
async def set_status(
    request: Request,
    article_id: int,
    who: Staff = Depends(editor),
    app: Application = Depends(application),
) -> Response:
    """Publishes or unpublishes the article."""
    view = load(app, article_id)
    wanted = str((await request.form()).get("status", ""))
    if wanted not in ("published", "unpublished"):
        raise InputError("choose publish or unpublish")
    changed = publish.set_article_status(
        app.engine, view.article.slug, wanted, now=app.clock(), actor=who.email
    )
    done = wanted if changed else "unchanged"
    return RedirectResponse(f"/admin/articles/{article_id}?done={done}", status_code=303)


@router.post("/articles/{article_id}/corrections", response_class=HTMLResponse)
async def correct(
    request: Request,
    article_id: int,
    who: Staff = Depends(editor),
    app: Application = Depends(application),
) -> Response:
    """Adds a correction to the article (readers see it under the story and in feeds)."""
    view = load(app, article_id)
    note = str((await request.form()).get("note", ""))
    try:
        publish.correct_article(
            app.engine, view.article.slug, note, now=app.clock(), actor=who.email
        )
    except InputError as exc:
        draft = Draft.of(view, app.settings.zone)
        return form_page(
            request,
            app,
            who,
            draft,
            view=view,
            http_status=400,
            note=note,
            note_error=exc.message,
        )
    return RedirectResponse(f"/admin/articles/{article_id}?done=corrected", status_code=303)
