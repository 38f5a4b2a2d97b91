"""What an editor does to an edition from its page: review it (take stories out, reorder
them, change the subject and intro line; preview that, then approve), send a test, pause,
resume and cancel. Each a POST with the form token, through ``sends`` (which audits it);
one that cannot be done now (a page left open while someone else acted) shows the edition
as it is now and says why."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from publisher import store
from publisher.editions import sends
from publisher.errors import InputError, PublisherError
from publisher.newsroom.staff import Staff
from publisher.web.admin import session
from publisher.web.admin.context import Newsroom
from publisher.web.admin.edition_pages import Draft
from publisher.web.admin.edition_screens import Problem, Screens, sentence

MAX_TO = 8000  # the test form's addresses: 20 of the longest, and room to spare
MAX_POSITION = 5  # digits of a story's position


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


def router(
    room: Newsroom, screens: Screens, editor: Callable[[Request], Awaitable[Staff]]
) -> APIRouter:
    routes = APIRouter()

    async def signed_in(request: Request) -> Staff | HTMLResponse:
        """The signed-in editor, or a newsroom page saying this form cannot be taken (its
        form token is from an older session, or forged), with a way back."""
        try:
            return await editor(request)
        except session.NotAllowed as exc:
            who = await run_in_threadpool(
                session.current, request, room.engine, room.settings, now=room.clock()
            )
            back = request.url.path.rsplit("/", 1)[0]
            return screens.problem(request, who, Problem(403, str(exc.detail)), back=back)

    def carried(edition_id: int) -> list[int]:
        with store.reading(room.engine) as db:
            return [v.article.id or 0 for v in store.edition_articles(db, edition_id)]

    def draft_of(edition_id: int, form: Mapping[str, str]) -> Draft | None:
        """The review typed, to show again (None when the form is not the review)."""
        if "do" not in form:
            return None
        try:
            return review_form(form, carried(edition_id))
        except InputError:
            return None

    async def act(request: Request, raw_id: str, action: Action, done: str) -> Response:
        """Do ``action`` (a count it returns is said on the page) and show the edition;
        when it cannot be done, the edition as it is now with why, and what was typed."""
        who = await signed_in(request)
        if isinstance(who, HTMLResponse):
            return who
        form = {k: str(v) for k, v in (await request.form()).items()}
        try:
            edition_id = screens.edition_id(raw_id)
            try:
                count = await run_in_threadpool(action, who, edition_id, form)
            except PublisherError as exc:
                if exc.http_status >= 500:
                    raise
                return screens.edition(
                    request,
                    who,
                    edition_id,
                    http_status=exc.http_status,
                    error=sentence(exc.message),
                    draft=draft_of(edition_id, form),
                    to="" if form.get("mine") == "1" else form.get("to", "")[:MAX_TO],
                )
        except Problem as exc:
            return screens.problem(request, who, exc)
        counted = f"&n={count}" if count is not None else ""
        return RedirectResponse(
            f"/admin/editions/{edition_id}?done={done}{counted}", status_code=303
        )

    def pause(who: Staff, edition_id: int, form: Mapping[str, str]) -> None:
        sends.pause(room.engine, edition_id, actor=who.email, now=room.clock())

    def resume(who: Staff, edition_id: int, form: Mapping[str, str]) -> None:
        sends.resume(room.engine, edition_id, actor=who.email, now=room.clock())

    def cancel(who: Staff, edition_id: int, form: Mapping[str, str]) -> int:
        return sends.cancel(room.engine, edition_id, actor=who.email, now=room.clock())

    def test(who: Staff, edition_id: int, form: Mapping[str, str]) -> int:
        addresses = form.get("to", "")[:MAX_TO].replace(";", ",").split()
        return sends.test_send(
            room.engine,
            room.settings,
            room.timetable,
            room.env,
            str(edition_id),
            addresses,
            actor=who.email,
            now=room.clock(),
        )

    def approve(who: Staff, edition_id: int, form: Mapping[str, str]) -> None:
        draft = review_form(form, carried(edition_id))
        sends.approve(
            room.engine,
            room.settings,
            room.timetable,
            room.env,
            edition_id,
            actor=who.email,
            now=room.clock(),
            subject=draft.subject,
            intro=draft.intro,
            article_ids=draft.article_ids,
        )

    for name, action, done in (
        ("pause", pause, "paused"),
        ("resume", resume, "resumed"),
        ("cancel", cancel, "cancelled"),
        ("test", test, "tested"),
    ):
        routes.add_api_route(
            f"/editions/{{raw_id}}/{name}",
            _route(act, action, done),
            methods=["POST"],
            response_class=HTMLResponse,
            name=f"edition-{name}",
        )

    @routes.post("/editions/test-next", response_class=HTMLResponse)
    async def test_next(request: Request) -> Response:
        """A test of a digest's next edition (the one awaiting review, or a preview of what
        it would carry now) to the signed-in person."""
        who = await signed_in(request)
        if isinstance(who, HTMLResponse):
            return who
        digest = str((await request.form()).get("digest", ""))[:60]
        if digest not in room.timetable.digests:
            problem = Problem(400, f"There is no digest {digest!r} to test.")
            return screens.problem(request, who, problem, back="/admin/editions")
        try:
            count = await run_in_threadpool(
                lambda: sends.test_send(
                    room.engine,
                    room.settings,
                    room.timetable,
                    room.env,
                    digest,
                    [who.email],
                    actor=who.email,
                    now=room.clock(),
                )
            )
        except PublisherError as exc:
            if exc.http_status >= 500:
                raise
            return screens.problem(request, who, exc, back="/admin/editions")
        return RedirectResponse(f"/admin/editions?tested={digest}&n={count}", status_code=303)

    @routes.post("/editions/{raw_id}/review", response_class=HTMLResponse)
    async def review(request: Request, raw_id: str) -> Response:
        """``do=approve`` approves the edition as reviewed and starts sending; anything
        else shows it as reviewed, saving nothing."""
        form = await request.form()
        if form.get("do") == "approve":
            return await act(request, raw_id, approve, "approved")
        who = await signed_in(request)
        if isinstance(who, HTMLResponse):
            return who
        typed = {k: str(v) for k, v in form.items()}
        try:
            edition_id = screens.edition_id(raw_id)
            try:
                draft = review_form(typed, carried(edition_id))
            except InputError as exc:
                return screens.edition(
                    request, who, edition_id, http_status=400, error=sentence(exc.message)
                )
            return screens.edition(request, who, edition_id, draft=draft)
        except Problem as exc:
            return screens.problem(request, who, exc)

    return routes


Action = Callable[[Staff, int, Mapping[str, str]], "int | None"]


def _route(
    act: Callable[[Request, str, Action, str], Awaitable[Response]], action: Action, done: str
) -> Callable[[Request, str], Awaitable[Response]]:
    async def route(request: Request, raw_id: str) -> Response:
        return await act(request, raw_id, action, done)

    return route
