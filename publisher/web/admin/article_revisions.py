"""A story's revisions and its preview link in the newsroom: compare any two revisions
(``/admin/articles/ID/revisions?a=X&b=Y``), restore one as a new revision (editors; a story
readers saw needs a note, kept as a correction), and make a signed, expiring, read-only
link to the story as readers would see it, for a colleague without an account."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from publisher import store
from publisher.articles import editorial
from publisher.errors import InputError
from publisher.newsroom.staff import Staff
from publisher.web.admin.article_act import act, form_again
from publisher.web.admin.article_draft import Draft
from publisher.web.admin.article_form import MAX_ID, acting, form_page, load
from publisher.web.admin.pages import render
from publisher.web.admin.session import editor, writer
from publisher.web.application import Application, application

__all__ = ["router"]

router = APIRouter()


def _revision_id(given: str) -> int:
    if not given.isdigit() or not 0 < int(given) <= MAX_ID:
        raise InputError("choose two revisions to compare")
    return int(given)


@router.get("/articles/{article_id}/revisions", response_class=HTMLResponse)
def compare(
    request: Request,
    article_id: int,
    a: str = "",
    b: str = "",
    who: Staff = Depends(writer),
    app: Application = Depends(application),
) -> Response:
    """Two revisions side by side, line by line: what was removed and what was added."""
    view = load(app, article_id, who)
    older, newer = sorted((_revision_id(a), _revision_id(b)))
    first, second, lines = editorial.compare(app.engine, article_id, older, newer)
    return render(
        request,
        app,
        "article_revisions.html",
        staff=who,
        view=view,
        first=first,
        second=second,
        lines=lines,
        seen=view.status(app.clock()) in ("published", "withdrawn"),
    )


@router.post("/articles/{article_id}/revisions/{revision_id}/restore", response_class=HTMLResponse)
async def restore(
    request: Request,
    article_id: int,
    revision_id: int,
    who: Staff = Depends(editor),
    app: Application = Depends(application),
) -> Response:
    """The revision's text saved again as a new revision; with a correction note when
    readers saw the story."""

    def change(view: store.ArticleView, note: str) -> str:
        revision = _revision_id(str(revision_id))
        changed = editorial.restore(
            app.engine, app.settings, view, revision, acting(who), now=app.clock(), note=note
        )
        return "restored" if changed else "unchanged"

    again = form_again(
        request, app, who, article_id, "restore_note", "restore_error", restore_id=revision_id
    )
    return await act(request, app, who, article_id, change, again, most=5000)


@router.post("/articles/{article_id}/preview-link", response_class=HTMLResponse)
def preview_link(
    request: Request,
    article_id: int,
    who: Staff = Depends(writer),
    app: Application = Depends(application),
) -> Response:
    """A signed link, valid PREVIEW_DAYS, to the story as readers would see it."""
    view = load(app, article_id, who)
    path, expires = editorial.preview_link(app.signer, view, now=app.clock())
    draft = Draft.of(view, app.settings.zone, now=app.clock())
    return form_page(
        request,
        app,
        who,
        draft,
        view=view,
        preview_url=app.settings.site_url + path,
        preview_expires=expires,
    )
