"""The newsroom's one-off sends (issue 27): "Send this story now" from a published story's
page, and "Write a message"; each chooses an audience (its count live, htmx), shows the mail
as readers get it, sends a test to the editor, and sends on confirming the count. The count is
taken again at sending (``one_off.CountMoved`` asks again); the edition's own page then shows
its progress, pause, resume, cancel and figures."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from publisher import store
from publisher.community import audiences
from publisher.editions import one_off
from publisher.errors import InputError, NotFoundError, PublisherError
from publisher.newsroom.staff import Staff
from publisher.web.admin.edition_render import sentence
from publisher.web.admin.editions import preview_policy
from publisher.web.admin.pages import render
from publisher.web.admin.session import editor
from publisher.web.application import Application, application

__all__ = ["Choice", "router"]

MAX_ID = 2**31 - 1
router = APIRouter()


class Choice:
    """What the send page shows: the kind, the story or the message typed, the audiences
    and the one chosen, counted now."""

    def __init__(self, app: Application, form: Mapping[str, str]) -> None:
        self.kind = form.get("kind", "story") if form.get("kind") in one_off.KINDS else "story"
        self.article = _article_id(form.get("article", ""))
        self.subject = form.get("subject", "")[:400]
        self.body = form.get("body", "")[: one_off.MAX_BODY + 1]
        self.in_archive = form.get("in_archive", "on" if "do" not in form else "") == "on"
        self.audiences = [c.audience.name for c in audiences.listing(app.engine)]
        wanted = form.get("audience", "")
        self.audience = wanted if wanted in self.audiences else next(iter(self.audiences), "")
        self.count = (
            one_off.audience_count(app.engine, self.audience, self.kind) if self.audience else 0
        )
        self.view: store.ArticleView | None = None
        if self.kind == "story":
            with store.reading(app.engine) as db:
                found = store.views_by_id(db, [self.article]) if self.article else {}
            self.view = found.get(self.article)
            if self.view is None:
                raise NotFoundError(f"no story {self.article}")
        self.public = self.view is None or store.is_public(self.view, app.clock())

    @property
    def slug(self) -> str:
        return self.view.article.slug if self.view else ""

    @property
    def preview_src(self) -> str:
        return f"/admin/articles/{self.article}/send/preview" if self.view else ""


def _article_id(raw: str) -> int:
    return int(raw) if raw.isascii() and raw.isdigit() and 0 < int(raw) <= MAX_ID else 0


def _page(
    request: Request,
    app: Application,
    who: Staff,
    form: Mapping[str, str],
    *,
    http_status: int = 200,
    **values: Any,
) -> HTMLResponse:
    choice = Choice(app, form)
    values.setdefault("error", "")
    values.setdefault("notice", "")
    return render(
        request, app, "send.html", staff=who, http_status=http_status, choice=choice, **values
    )


@router.get("/articles/{article_id}/send", response_class=HTMLResponse)
def story_page(
    request: Request,
    article_id: int,
    who: Staff = Depends(editor),
    app: Application = Depends(application),
) -> HTMLResponse:
    """ "Send this story now": the audience, the mail as readers get it, a test, and send."""
    form = {"kind": "story", "article": str(article_id), **request.query_params}
    return _page(request, app, who, form)


@router.get("/messages/new", response_class=HTMLResponse)
def message_page(
    request: Request, who: Staff = Depends(editor), app: Application = Depends(application)
) -> HTMLResponse:
    """ "Write a message": an announcement in the digest's layout, to an audience."""
    return _page(request, app, who, {"kind": "message", **request.query_params})


def _framed(app: Application, html: str) -> HTMLResponse:
    answer = HTMLResponse(html)
    answer.headers["content-security-policy"] = preview_policy(app.settings.site_url)
    answer.headers["x-frame-options"] = "SAMEORIGIN"
    return answer


@router.get("/articles/{article_id}/send/preview", response_class=HTMLResponse)
def story_preview(
    article_id: int, who: Staff = Depends(editor), app: Application = Depends(application)
) -> HTMLResponse:
    """The breaking-news mail of the story, as readers get it (framed on the send page)."""
    with store.reading(app.engine) as db:
        view = store.views_by_id(db, [article_id]).get(article_id) if article_id <= MAX_ID else None
    if view is None:
        raise NotFoundError(f"no story {article_id}")
    rendered = one_off.preview(
        app.engine,
        app.settings,
        app.timetable,
        app.env,
        "story",
        now=app.clock(),
        slug=view.article.slug,
    )
    return _framed(app, rendered.html)


@router.post("/sends/preview", response_class=HTMLResponse)
async def message_preview(
    request: Request, who: Staff = Depends(editor), app: Application = Depends(application)
) -> HTMLResponse:
    """A message as readers would get it (the send page's form, aimed at its frame)."""
    form = {k: str(v) for k, v in (await request.form()).items()}
    try:
        rendered = one_off.preview(
            app.engine,
            app.settings,
            app.timetable,
            app.env,
            "message",
            now=app.clock(),
            subject=form.get("subject", ""),
            body=form.get("body", ""),
        )
    except InputError as exc:
        return _framed(app, f"<!doctype html><title>Not yet</title><p>{sentence(exc.message)}</p>")
    return _framed(app, rendered.html)


@router.get("/sends/count", response_class=HTMLResponse)
def count(
    request: Request, who: Staff = Depends(editor), app: Application = Depends(application)
) -> HTMLResponse:
    """The chosen audience counted now, with the send button that confirms that count
    (htmx swaps it in when the audience changes)."""
    choice = Choice(app, {k: v for k, v in request.query_params.items()})
    return render(request, app, "_send_count.html", staff=who, choice=choice)


def _sending(app: Application, who: Staff, form: Mapping[str, str], choice: Choice) -> Any:
    """A test to the editor (how many went), or the send (``one_off.Sent``)."""
    subject = form.get("subject", "")
    if form.get("do") == "test":
        return one_off.test(
            app.engine,
            app.settings,
            app.timetable,
            app.env,
            choice.kind,
            [who.email],
            actor=who.email,
            now=app.clock(),
            slug=choice.slug,
            subject=subject,
            body=choice.body,
        )
    raw = form.get("expected", "")
    if not (raw.isascii() and raw.isdigit() and len(raw) < 10):
        raise InputError("the count to confirm is missing: choose the audience again")
    return one_off.send(
        app.engine,
        app.settings,
        app.timetable,
        app.env,
        choice.kind,
        audience=form.get("audience", ""),
        actor=who.email,
        now=app.clock(),
        expected=int(raw),
        in_archive=choice.in_archive,
        slug=choice.slug,
        subject=subject,
        body=choice.body,
    )


@router.post("/sends", response_class=HTMLResponse)
async def send(
    request: Request, who: Staff = Depends(editor), app: Application = Depends(application)
) -> Response:
    """``do=test``: a [Test] copy to the editor; ``do=send``: send now, if the audience's
    count is still the one confirmed (else the page asks again with the new count)."""
    form = {k: str(v) for k, v in (await request.form()).items()}
    choice = await run_in_threadpool(Choice, app, form)
    try:
        done = await run_in_threadpool(_sending, app, who, form, choice)
    except one_off.CountMoved as exc:
        notice = (
            f"The audience changed since you confirmed it: it now counts {exc.count:,} "
            "member(s). Nothing was sent. Check the new count, then send again."
        )
        return _page(request, app, who, form, http_status=409, error=notice)
    except PublisherError as exc:
        if exc.http_status >= 500:
            raise
        error = f"Nothing was sent: {sentence(exc.message)}"
        return _page(request, app, who, form, http_status=exc.http_status, error=error)
    if isinstance(done, int):
        return _page(request, app, who, form, notice=f"A test went to {who.email}.")
    said = "sent" if done.created else "already"
    if done.edition.status == "awaiting_review":
        said = "held" if done.created else "already"
    return RedirectResponse(f"/admin/editions/{done.edition.id}?done={said}", status_code=303)
