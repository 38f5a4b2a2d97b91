"""The newsroom's article form (``/admin/articles/new``, ``/admin/articles/ID``): write an
article or edit one, opened from an inbox item or not, with the body's preview beside it
and the whole story page as readers will see it (``article_preview``); "Save draft" by
default, "Send for review", and for editors "Publish" (now or at the form's time). A
contributor reaches only their own stories, edits only their drafts and never opens the
inbox. The story's life (review, withdrawal, corrections) is ``article_life``; its
revisions and preview link ``article_revisions``. Every change goes through the same use
cases as ``articles add`` and the API."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from publisher import store
from publisher.articles import editorial, publish
from publisher.articles.cleaning import ArticleInput
from publisher.errors import ConflictError, InputError, NotFoundError
from publisher.languages import CATALOGS
from publisher.newsroom.staff import Staff
from publisher.sources import inbox
from publisher.web.admin import inbox as inbox_area
from publisher.web.admin.article_draft import Draft, problems_of
from publisher.web.admin.pages import render
from publisher.web.admin.picture_form import PictureChoice, from_library, take
from publisher.web.admin.session import CONTRIBUTORS, NotAllowed, writer
from publisher.web.admin.trail import rows
from publisher.web.application import Application, application

__all__ = ["MAX_ID", "acting", "form_page", "load", "router", "words"]

INTENTS = {"save": "draft", "draft": "draft", "review": "review", "publish": "publish"}

MAX_ID = 2**31 - 1  # ids are 32-bit in both databases: a larger one is simply not there

router = APIRouter()


def acting(who: Staff) -> editorial.Writer:
    """The signed-in person as the use cases know a writer."""
    return editorial.Writer(who.email, who.role, who.id)


def load(app: Application, article_id: int, who: Staff) -> store.ArticleView:
    """The article with this id, if ``who`` may see it (NotFoundError otherwise: a
    contributor learns nothing of others' stories)."""
    if not 0 < article_id <= MAX_ID:
        raise NotFoundError(f"no article {article_id}")
    view = publish.article_by_id(app.engine, article_id)
    if not editorial.may_see(acting(who), view):
        raise NotFoundError(f"no article {article_id}")
    return view


def words(text: str) -> int:
    """The body's word count as the form shows it (the same rule as its script)."""
    return len(text.split())


def beside(app: Application, view: store.ArticleView | None) -> dict[str, Any]:
    """What the form shows beside a saved article: where it came from, its trail, its
    reports and corrections (each with the report it came from), and its status."""
    if view is None:
        return {
            "origin": None,
            "trail": [],
            "reports": [],
            "corrections": [],
            "status": "",
            "revisions": [],
        }
    article_id = view.article.id or 0
    with store.reading(app.engine) as db:
        entries = store.audit_entries(db, kind="article", subject_id=article_id)
        reports, _ = store.report_queue(db, article_id=article_id, offset=0, limit=50)
        corrections = store.correction_ids(db, article_id)
        revisions = store.revision_list(db, article_id)
    linked = {r.correction_id: r.id for r, _ in reports if r.correction_id}
    return {
        "origin": inbox.article_origin(app.engine, article_id),
        "trail": rows(entries),
        "reports": [r for r, _ in reports],
        "corrections": [(cid, when, note, linked.get(cid)) for cid, when, note in corrections],
        "status": view.status(app.clock()),
        "revisions": revisions,
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
    writing = acting(who)
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
        may_edit=view is None or editorial.may_edit(writing, view),
        may_publish=writing.is_editor,
        word_count=words(draft.values["body"]),
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
    who: Staff = Depends(writer),
    app: Application = Depends(application),
) -> HTMLResponse:
    """The empty form (with a library ``picture``, if given), or (``from_item``) one filled
    with an inbox item's material."""
    if not from_item:
        chosen = from_library(app, picture)
        return form_page(request, app, who, Draft.empty(), picture=chosen)
    if not who.is_editor:  # the inbox is the editors'
        raise NotAllowed(CONTRIBUTORS)
    # Opened from the inbox: the item's material, to adapt (issue 14).
    try:
        item = inbox_area.openable(app, from_item)
    except inbox_area.ItemProblem as exc:
        return inbox_area.problem_page(request, app, who, exc)
    draft = Draft.prefilled(inbox.draft(app.engine, item.item.id or 0))
    return form_page(request, app, who, draft, from_item=item)


@router.post("/articles/preview", response_class=HTMLResponse)
async def preview(
    request: Request, who: Staff = Depends(writer), app: Application = Depends(application)
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
        if not who.is_editor:  # the inbox is the editors'
            raise NotAllowed(CONTRIBUTORS)
        try:
            item = inbox_area.openable(app, str(form.get("from_item")))
        except inbox_area.ItemProblem as exc:
            return inbox_area.problem_page(request, app, who, exc)
    action = str(form.get("action", "save"))
    if action == "preview":
        return form_page(
            request, app, who, draft, view=view, preview=draft.preview(), from_item=item
        )
    if action not in INTENTS:
        raise InputError(f"unknown action {action!r}")
    picture = await take(app, who, form, draft, view)
    problems = {**draft.insecure_images(), **picture.problems}
    if item is not None and not draft.values["editor"].strip():
        problems["editor"] = "Give your name: it is shown to readers as the editor."
    if problems:  # nothing saved, everything typed kept
        return form_page(
            request, app, who, draft, view=view, problems=problems, http_status=400,
            from_item=item, picture=picture,
        )  # fmt: skip
    return stored(request, app, who, draft, view, item, INTENTS[action], picture)


def stored(
    request: Request,
    app: Application,
    who: Staff,
    draft: Draft,
    view: store.ArticleView | None,
    item: inbox.ItemView | None,
    intent: str,
    picture: PictureChoice | None = None,
) -> Response:
    """``draft`` saved (over ``view``, unless someone changed it meanwhile; made from
    ``item``, in the same transaction), and the article shown; or the form again, saying
    what was wrong."""
    then = None if item is None else inbox_area.linker(item, actor=who.email, now=app.clock())
    then = then if picture is None else picture.then(app, then)
    fields = draft.article_fields()
    shown = Draft.of(view, app.settings.zone, now=app.clock()) if view is not None else None
    if (
        view is not None
        and shown is not None
        and draft.values["published_at"]
        and draft.values["published_at"] == shown.values["published_at"]
    ):
        # The time as the form showed it (to the second): the stored one, to the microsecond.
        fields["published_at"] = view.article.published_at.isoformat()
    try:
        saved, changed = editorial.save(
            app.engine,
            app.settings,
            fields,
            acting(who),
            view=view,
            base_hash=(draft.base or None) if view is not None else None,
            intent=intent,
            now=app.clock(),
            then=then,
        )
    except ConflictError as exc:  # both versions shown: nothing typed is lost
        assert view is not None
        return _conflict(request, app, who, draft, view, exc, from_item=item, picture=picture)
    except InputError as exc:
        problems = problems_of(exc)
        return form_page(
            request, app, who, draft, view=view, problems=problems, http_status=400,
            from_item=item, picture=picture,
        )  # fmt: skip
    changed = changed or (picture is not None and picture.changed)
    done = {"review": "review", "publish": "published"}.get(
        intent, "saved" if changed else "unchanged"
    )
    return RedirectResponse(f"/admin/articles/{saved}?done={done}", status_code=303)


def _conflict(
    request: Request,
    app: Application,
    who: Staff,
    draft: Draft,
    view: store.ArticleView,
    exc: ConflictError,
    **more: Any,
) -> HTMLResponse:
    """The form again after a save over a newer one: their version above it, yours in it."""
    current = publish.article_by_id(app.engine, view.article.id or 0)
    theirs = Draft.of(current, app.settings.zone)
    draft.base = theirs.base  # saving again now takes the merged text over theirs
    return form_page(
        request,
        app,
        who,
        draft,
        view=current,
        problems={"": exc.message},
        http_status=409,
        theirs=theirs,
        **more,
    )


@router.post("/articles/new", response_class=HTMLResponse)
async def create(
    request: Request, who: Staff = Depends(writer), app: Application = Depends(application)
) -> Response:
    """A new article from the form."""
    return await save(request, app, who, None)


@router.get("/articles/{article_id}", response_class=HTMLResponse)
def article_page(
    request: Request,
    article_id: int,
    done: str = "",
    who: Staff = Depends(writer),
    app: Application = Depends(application),
) -> Response:
    """A saved article in the form, with its trail, reports and corrections."""
    view = load(app, article_id, who)
    draft = Draft.of(view, app.settings.zone, now=app.clock())
    return form_page(request, app, who, draft, view=view, done=done[:20])


@router.post("/articles/{article_id}", response_class=HTMLResponse)
async def edit(
    request: Request,
    article_id: int,
    who: Staff = Depends(writer),
    app: Application = Depends(application),
) -> Response:
    """The article as edited in the form."""
    return await save(request, app, who, load(app, article_id, who))
