"""Acting on a story from a form beside it, and answering: the story loaded (if the person
may see it), the form's one field read, a use case called; then the story's page saying
what was done, or the page the form came from again with what was typed and what was wrong
with it. ``article_life`` (review, withdrawal, corrections) and ``article_revisions``
(restore) answer this way."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from publisher import store
from publisher.articles import editorial
from publisher.errors import InputError
from publisher.newsroom.staff import Staff
from publisher.web.admin.article_draft import Draft
from publisher.web.admin.article_form import acting, form_page, load
from publisher.web.application import Application

__all__ = ["Again", "Change", "act", "back", "form_again", "step"]

Change = Callable[[store.ArticleView, str], str]
"""A use case applied to the story with what was typed; the word for what was done."""

Again = Callable[[str, str], HTMLResponse]
"""The page the form came from, again, with what was typed and what was wrong with it."""


def back(article_id: int, done: str) -> RedirectResponse:
    """To the story's page, which says what was ``done``."""
    return RedirectResponse(f"/admin/articles/{article_id}?done={done}", status_code=303)


def step(app: Application, who: Staff, action: str, done: str) -> Change:
    """``change`` for an editorial step (``editorial.change``) with what was typed as its
    note, done by ``who``; ``done`` is what the story's page then says."""

    def change(view: store.ArticleView, note: str) -> str:
        editorial.change(app.engine, view, action, acting(who), now=app.clock(), note=note)
        return done

    return change


async def act(
    request: Request,
    app: Application,
    who: Staff,
    article_id: int,
    change: Change,
    again: Again,
    *,
    field: str = "note",
    most: int | None = None,
) -> Response:
    """``change`` made to the story ``article_id`` with the form's ``field`` (its first
    ``most`` characters), then back to the story's page; ``again`` when the use case refuses
    what was typed (InputError). A story ``who`` may not see is not found."""
    view = load(app, article_id, who)
    typed = str((await request.form()).get(field, ""))[:most]
    try:
        done = change(view, typed)
    except InputError as exc:
        return again(typed, exc.message)
    return back(article_id, done)


def form_again(
    request: Request,
    app: Application,
    who: Staff,
    article_id: int,
    typed: str,
    problem: str,
    **more: Any,
) -> Again:
    """``again`` for a form on the story's own page: the page (400) with what was typed as
    the template's ``typed`` and what was wrong as its ``problem``, and ``more``."""

    def page(text: str, message: str) -> HTMLResponse:
        view = load(app, article_id, who)
        draft = Draft.of(view, app.settings.zone, now=app.clock())
        values = {typed: text, problem: message, **more}
        return form_page(request, app, who, draft, view=view, http_status=400, **values)

    return page
