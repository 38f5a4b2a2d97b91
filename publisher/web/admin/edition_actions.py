"""The editions area's routes that act: what an editor does to an edition from its page
(review it: take stories out, reorder them, change the subject and intro line; preview that,
then approve, confirming how many readers get it; make a missed edition now; send a test,
pause, resume and cancel; a test as the reader the page previews gets it) and a test of a
digest's next edition from the list. Each a POST with the form token, through ``sends``
(which audits it); one that cannot be done now (a page left open while someone else acted)
shows the edition as it is now and says why."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from publisher import store
from publisher.editions import sends
from publisher.errors import InputError, PublisherError
from publisher.newsroom.staff import Staff
from publisher.web.admin.edition_render import (
    EditionRoute,
    Problem,
    edition_id,
    edition_screen,
    sentence,
)
from publisher.web.admin.edition_view import Draft
from publisher.web.admin.session import editor
from publisher.web.application import Application, application

__all__ = ["review_form", "router"]

MAX_TO = 8000  # the test form's addresses: 20 of the longest, and room to spare
MAX_POSITION = 5  # digits of a story's position
MAX_CHOICE = 400  # a category's slug, a language, story languages: the preview's choice

# What a button does to an edition, given the form it came with; a count it returns (of
# messages) is said on the page.
Action = Callable[[Application, Staff, int, Mapping[str, str]], "int | None"]

router = APIRouter(route_class=EditionRoute)


def review_form(form: Mapping[str, str], stories: list[int]) -> Draft:
    """The stories kept (``keep-ID`` ticked), in the order their ``position-ID`` fields say,
    with the subject and intro line. On a tie the story given a new number goes first (type
    1 for the third story and it leads), then the edition's order. InputError for a
    position that is not a whole number."""
    placed = []
    for index, article_id in enumerate(stories):
        if form.get(f"keep-{article_id}") != "on":
            continue
        raw = form.get(f"position-{article_id}", "").strip() or str(index + 1)
        if not (raw.isascii() and raw.isdigit() and len(raw) <= MAX_POSITION):
            raise InputError(f"the position {raw[:20]!r} is not a whole number")
        moved = int(raw) != index + 1
        placed.append((int(raw), not moved, index, article_id))
    return Draft(
        form.get("subject", "").strip(),
        form.get("intro", "").strip(),
        [article_id for *_, article_id in sorted(placed)],
    )


def carried(app: Application, edition_id: int) -> list[int]:
    """The ids of the stories the edition carries, in its order."""
    with store.reading(app.engine) as db:
        return [v.article.id or 0 for v in store.edition_articles(db, edition_id)]


def draft_of(app: Application, edition_id: int, form: Mapping[str, str]) -> Draft | None:
    """The review typed, to show again (None when the form is not the review)."""
    if "do" not in form:
        return None
    try:
        return review_form(form, carried(app, edition_id))
    except InputError:
        return None


async def act(
    request: Request, app: Application, who: Staff, raw_id: str, action: Action, done: str
) -> Response:
    """Do ``action`` and go to the edition's page saying it was ``done``; when it cannot be
    done, the edition as it is now with why, and what was typed."""
    form = {k: str(v) for k, v in (await request.form()).items()}
    number = edition_id(raw_id)
    try:
        count = await run_in_threadpool(action, app, who, number, form)
    except PublisherError as exc:
        if exc.http_status >= 500:
            raise
        return edition_screen(
            request,
            app,
            who,
            number,
            http_status=exc.http_status,
            error=sentence(exc.message),
            draft=draft_of(app, number, form),
            to="" if form.get("mine") == "1" else form.get("to", "")[:MAX_TO],
        )
    shown = {"done": done, **({"n": str(count)} if count is not None else {})}
    # Back to the preview the editor was looking at (a test sent as a Thai reader of Culture).
    shown.update(
        {k: form[k][:MAX_CHOICE] for k in ("variant", "language", "stories_in") if form.get(k)}
    )
    return RedirectResponse(f"/admin/editions/{number}?{urlencode(shown)}", status_code=303)


def pausing(app: Application, who: Staff, edition_id: int, form: Mapping[str, str]) -> None:
    """Pauses the edition's sending."""
    sends.pause(app.engine, edition_id, actor=who.email, now=app.clock())


def resuming(app: Application, who: Staff, edition_id: int, form: Mapping[str, str]) -> None:
    """Resumes a paused edition's sending."""
    sends.resume(app.engine, edition_id, actor=who.email, now=app.clock())


def cancelling(app: Application, who: Staff, edition_id: int, form: Mapping[str, str]) -> int:
    """Cancels what is still owed of the edition; how many messages that was."""
    return sends.cancel(app.engine, edition_id, actor=who.email, now=app.clock())


def as_shown(form: Mapping[str, str]) -> sends.AsReader:
    """The reader the page previewed, as the test form carries it (category, language and
    story languages; none: the edition whole)."""
    variant = form.get("variant", "")[:MAX_CHOICE]
    return sends.AsReader(
        categories=(variant,) if variant else (),
        language=form.get("language", "")[:MAX_CHOICE],
        languages=tuple(form.get("stories_in", "")[:MAX_CHOICE].split()),
    )


def testing(app: Application, who: Staff, edition_id: int, form: Mapping[str, str]) -> int:
    """Sends a test of the edition to the form's addresses, as the reader the page
    previewed gets it; how many messages went."""
    addresses = form.get("to", "")[:MAX_TO].replace(";", ",").split()
    return sends.test_send(
        app.engine,
        app.settings,
        app.timetable,
        app.env,
        str(edition_id),
        addresses,
        actor=who.email,
        now=app.clock(),
        reader=as_shown(form),
    )


def making_missed(app: Application, who: Staff, edition_id: int, form: Mapping[str, str]) -> None:
    """Makes a missed edition now, held for review like any edition (issue 25)."""
    sends.send_missed(
        app.engine,
        app.settings,
        app.timetable,
        app.env,
        edition_id,
        actor=who.email,
        now=app.clock(),
        review=True,
    )


def approving(app: Application, who: Staff, edition_id: int, form: Mapping[str, str]) -> None:
    """Approves the edition as the review form has it, and so starts sending it."""
    draft = review_form(form, carried(app, edition_id))
    message = sends.find(app.engine, edition_id).kind == "message"
    sends.approve(
        app.engine,
        app.settings,
        app.timetable,
        app.env,
        edition_id,
        actor=who.email,
        now=app.clock(),
        subject=draft.subject,
        intro=draft.intro,
        article_ids=None if message else draft.article_ids,  # a message carries no story
    )


@router.post("/editions/{raw_id}/pause", response_class=HTMLResponse, name="edition-pause")
async def pause(
    request: Request,
    raw_id: str,
    who: Staff = Depends(editor),
    app: Application = Depends(application),
) -> Response:
    """The pause button: each sending process finishes the message in hand and stops."""
    return await act(request, app, who, raw_id, pausing, "paused")


@router.post("/editions/{raw_id}/resume", response_class=HTMLResponse, name="edition-resume")
async def resume(
    request: Request,
    raw_id: str,
    who: Staff = Depends(editor),
    app: Application = Depends(application),
) -> Response:
    """The resume button: what is still owed goes out."""
    return await act(request, app, who, raw_id, resuming, "resumed")


@router.post("/editions/{raw_id}/cancel", response_class=HTMLResponse, name="edition-cancel")
async def cancel(
    request: Request,
    raw_id: str,
    who: Staff = Depends(editor),
    app: Application = Depends(application),
) -> Response:
    """The cancel question's answer: nothing more of the edition goes out."""
    return await act(request, app, who, raw_id, cancelling, "cancelled")


@router.post("/editions/{raw_id}/make", response_class=HTMLResponse, name="edition-make")
async def make(
    request: Request,
    raw_id: str,
    who: Staff = Depends(editor),
    app: Application = Depends(application),
) -> Response:
    """A missed edition's button: made now with the stories since the last edition, and
    held for review (then test and approve, as any edition)."""
    return await act(request, app, who, raw_id, making_missed, "made")


@router.post("/editions/{raw_id}/test", response_class=HTMLResponse, name="edition-test")
async def test(
    request: Request,
    raw_id: str,
    who: Staff = Depends(editor),
    app: Application = Depends(application),
) -> Response:
    """The test form: the edition to the addresses given (or to the signed-in person)."""
    return await act(request, app, who, raw_id, testing, "tested")


@router.post("/editions/test-next", response_class=HTMLResponse)
async def test_next(
    request: Request, who: Staff = Depends(editor), app: Application = Depends(application)
) -> Response:
    """A test of a digest's next edition (the one awaiting review, or a preview of what
    it would carry now) to the signed-in person."""
    digest = str((await request.form()).get("digest", ""))[:60]
    if digest not in app.timetable.digests:
        raise Problem(400, f"There is no digest {digest!r} to test.", back="/admin/editions")
    try:
        count = await run_in_threadpool(
            sends.test_send,
            app.engine,
            app.settings,
            app.timetable,
            app.env,
            digest,
            [who.email],
            actor=who.email,
            now=app.clock(),
        )
    except PublisherError as exc:
        if exc.http_status >= 500:
            raise
        raise Problem.of(exc, back="/admin/editions") from exc
    return RedirectResponse(f"/admin/editions?tested={digest}&n={count}", status_code=303)


@router.post("/editions/{raw_id}/review", response_class=HTMLResponse)
async def review(
    request: Request,
    raw_id: str,
    who: Staff = Depends(editor),
    app: Application = Depends(application),
) -> Response:
    """``do=approve`` asks to confirm, saying how many readers get the edition;
    ``do=send`` (the confirmation's button) approves it as reviewed and starts sending;
    anything else shows it as reviewed. Only ``do=send`` saves anything."""
    form = {k: str(v) for k, v in (await request.form()).items()}
    if form.get("do") == "send":
        return await act(request, app, who, raw_id, approving, "approved")
    number = edition_id(raw_id)
    try:
        draft = review_form(form, carried(app, number))
    except InputError as exc:
        return edition_screen(
            request, app, who, number, http_status=400, error=sentence(exc.message)
        )
    confirm = form.get("do") == "approve"
    message = sends.find(app.engine, number).kind == "message"
    if confirm and not draft.article_ids and not message:
        error = "Keep at least one story (to send nothing, cancel the edition)."
        return edition_screen(request, app, who, number, http_status=400, error=error, draft=draft)
    return edition_screen(request, app, who, number, draft=draft, confirm=confirm)
