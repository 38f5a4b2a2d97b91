"""A story's life in the newsroom, beside its form: an editor sends a story in review back
with a note (``/send-back``), publishes one again (``/status``), withdraws a published one
with a reason readers see (``/withdraw``, asked first with the number of editions that
carried it), unpublishes one nobody has seen (``/unpublish``), and adds corrections. A
contributor is refused all of it (403); the use cases say so for the API and the CLI too."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from publisher import store
from publisher.articles import editorial, publish
from publisher.errors import ConflictError, InputError
from publisher.newsroom.staff import Staff
from publisher.web.admin.article_act import act, back, form_again, step
from publisher.web.admin.article_form import acting, load
from publisher.web.admin.pages import render
from publisher.web.admin.session import editor
from publisher.web.application import Application, application

__all__ = ["router"]

router = APIRouter()


@router.post("/articles/{article_id}/send-back", response_class=HTMLResponse)
async def send_back(
    request: Request,
    article_id: int,
    who: Staff = Depends(editor),
    app: Application = Depends(application),
) -> Response:
    """The story in review goes back to its writer as a draft, with the editor's note."""
    again = form_again(request, app, who, article_id, "review_note", "review_error")
    return await act(request, app, who, article_id, step(app, who, "send-back", "sent-back"), again)


@router.get("/articles/{article_id}/unpublish", response_class=HTMLResponse)
def unpublish_question(
    request: Request,
    article_id: int,
    who: Staff = Depends(editor),
    app: Application = Depends(application),
) -> Response:
    """Unpublish? What it does, asked before it is done (the form posts to ``/status``). A
    story readers have seen is withdrawn instead, with a reason its page keeps."""
    view = load(app, article_id, who)
    status = view.status(app.clock())
    if status == "published":
        return RedirectResponse(f"/admin/articles/{article_id}/withdraw", status_code=303)
    if status in ("unpublished", "withdrawn"):  # nothing to ask: it is off the site already
        return RedirectResponse(f"/admin/articles/{article_id}", status_code=303)
    return render(request, app, "article_unpublish.html", staff=who, view=view, status=status)


@router.post("/articles/{article_id}/status", response_class=HTMLResponse)
async def set_status(
    request: Request,
    article_id: int,
    who: Staff = Depends(editor),
    app: Application = Depends(application),
) -> Response:
    """Publishes the article (again), or unpublishes one that readers have not seen."""
    view = load(app, article_id, who)
    wanted = str((await request.form()).get("status", ""))
    if wanted not in ("published", "unpublished"):
        raise InputError("choose publish or unpublish")
    now = app.clock()
    if wanted == "unpublished" and view.status(now) == "published":
        raise ConflictError("readers have seen this story: withdraw it, with a reason, instead")
    action = "publish" if wanted == "published" else "unpublish"
    try:
        editorial.change(app.engine, view, action, acting(who), now=now)
    except ConflictError:
        return back(article_id, "unchanged")
    return back(article_id, wanted)


@router.get("/articles/{article_id}/withdraw", response_class=HTMLResponse)
def withdraw_question(
    request: Request,
    article_id: int,
    who: Staff = Depends(editor),
    app: Application = Depends(application),
) -> Response:
    """Withdraw? What readers will see, how many editions carried it, and the reason."""
    view = load(app, article_id, who)
    if view.status(app.clock()) != "published":
        return RedirectResponse(f"/admin/articles/{article_id}", status_code=303)
    return _withdraw_page(request, app, who, view.article.id or 0)


def _withdraw_page(
    request: Request,
    app: Application,
    who: Staff,
    article_id: int,
    *,
    reason: str = "",
    error: str = "",
) -> HTMLResponse:
    view = load(app, article_id, who)
    return render(
        request,
        app,
        "article_withdraw.html",
        staff=who,
        http_status=400 if error else 200,
        view=view,
        editions=editorial.editions_carrying(app.engine, article_id),
        reason=reason,
        error=error,
    )


@router.post("/articles/{article_id}/withdraw", response_class=HTMLResponse)
async def withdraw(
    request: Request,
    article_id: int,
    who: Staff = Depends(editor),
    app: Application = Depends(application),
) -> Response:
    """The story is withdrawn: its page keeps its address and says why; it leaves the
    feeds, the index, search, the sitemaps and the digest archive."""

    def again(reason: str, error: str) -> HTMLResponse:
        return _withdraw_page(request, app, who, article_id, reason=reason, error=error)

    withdrawn = step(app, who, "withdraw", "withdrawn")
    return await act(request, app, who, article_id, withdrawn, again, field="reason", most=2000)


@router.post("/articles/{article_id}/corrections", response_class=HTMLResponse)
async def correct(
    request: Request,
    article_id: int,
    who: Staff = Depends(editor),
    app: Application = Depends(application),
) -> Response:
    """Adds a correction to the article (readers see it under the story and in feeds)."""

    def change(view: store.ArticleView, note: str) -> str:
        publish.correct_article(
            app.engine, view.article.slug, note, now=app.clock(), actor=who.email
        )
        return "corrected"

    again = form_again(request, app, who, article_id, "note", "note_error")
    return await act(request, app, who, article_id, change, again)
