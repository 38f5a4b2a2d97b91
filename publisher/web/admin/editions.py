"""The newsroom's editions (``/admin/editions``): every edition's state at a glance, those
awaiting review on top; one edition as a reader sees it (whole or per category, phone or
desktop width), its review form, test sends, pause, resume and cancel, its live progress
and, once done, its figures. Every action goes through ``sends``, as the CLI and API do."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from publisher import store
from publisher.errors import PublisherError
from publisher.staff import Staff
from publisher.web.admin import session
from publisher.web.admin.context import Newsroom
from publisher.web.admin.dashboard import STOP_POLLING
from publisher.web.admin.edition_pages import (
    FINISHED,
    STATUSES,
    EditionPage,
    ListQuery,
    edition_id_of,
    edition_page,
    editions_page,
    preview_html,
)

# The email, inlined styles and all, framed on the edition's page: nothing but its own
# styles and images, no script, no form, a sandbox even when opened on its own.
PREVIEW_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; "
    "frame-ancestors 'self'; base-uri 'none'; form-action 'none'; sandbox"
)
DONE = {
    "approved": "Approved: sending has started.",
    "saved": "Saved: the preview shows the edition as it stands.",
    "paused": "Paused: each sending process finishes the message in hand and takes no more.",
    "resumed": "Resumed: what is still owed goes out; nobody gets a second copy.",
    "cancelled": "Cancelled: nothing more of this edition goes out.",
    "tested": "Test sent.",
}


def sentence(message: str) -> str:
    """A use case's message (``no edition 9``) as the page says it (``No edition 9.``)."""
    message = message.strip()
    end = "" if message.endswith((".", "!", "?")) else "."
    return f"{message[:1].upper()}{message[1:]}{end}"


class Problem(Exception):
    """A request this area answers with its own page (an edition that is not there, a form
    from an old page) rather than the reader's error page or a JSON 422."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def router(room: Newsroom) -> APIRouter:
    routes = APIRouter()
    editor = session.requires("editor", room.engine, room.settings, room.clock)

    def problem(
        request: Request, who: Staff | None, exc: Problem, *, back: str = ""
    ) -> HTMLResponse:
        return room.page(
            request,
            "editions_problem.html",
            staff=who,
            http_status=exc.status,
            message=exc.message,
            back=back,
        )

    def found(raw: str) -> int:
        edition_id = edition_id_of(raw)
        if edition_id is None:
            raise Problem(
                404, f"There is no edition {raw[:30]!r}: edition numbers are whole numbers."
            )
        return edition_id

    def shown(
        request: Request,
        who: Staff,
        edition_id: int,
        *,
        http_status: int = 200,
        **values: Any,
    ) -> HTMLResponse:
        params = request.query_params
        try:
            view = edition_page(
                room,
                edition_id,
                variant=params.get("variant", ""),
                width=params.get("width", ""),
                now=room.clock(),
            )
        except PublisherError as exc:
            raise Problem(exc.http_status, sentence(exc.message)) from exc
        values.setdefault("done", DONE.get(params.get("done", ""), ""))
        values.setdefault("error", "")
        values.setdefault("form", None)
        values.setdefault("to", "")
        return room.page(
            request,
            "editions_edition.html",
            staff=who,
            http_status=http_status,
            view=view,
            **values,
        )

    @routes.get("/editions", response_class=HTMLResponse)
    def editions(request: Request, who: Staff = Depends(editor)) -> HTMLResponse:
        query, problems = ListQuery.parse(request.query_params, room.timetable)
        listing = editions_page(room, query, now=room.clock())
        return room.page(
            request,
            "editions.html",
            staff=who,
            http_status=400 if problems else 200,
            listing=listing,
            query=query,
            problems=problems,
            statuses=STATUSES,
            digests=sorted(room.timetable.digests),
            link=lambda **extra: "?" + urlencode({**query.values, **extra}),
            fate=lambda edition: "skipped",
        )

    @routes.get("/editions/{raw_id}", response_class=HTMLResponse)
    def edition(request: Request, raw_id: str, who: Staff = Depends(editor)) -> HTMLResponse:
        try:
            return shown(request, who, found(raw_id))
        except Problem as exc:
            return problem(request, who, exc)

    @routes.get("/editions/{raw_id}/preview", response_class=HTMLResponse)
    def preview(request: Request, raw_id: str, who: Staff = Depends(editor)) -> HTMLResponse:
        try:
            html = preview_html(
                room, found(raw_id), variant=request.query_params.get("variant", "")
            )
        except Problem as exc:
            return problem(request, who, exc)
        except PublisherError as exc:
            return problem(request, who, Problem(exc.http_status, sentence(exc.message)))
        answer = HTMLResponse(html)
        answer.headers["content-security-policy"] = PREVIEW_POLICY
        answer.headers["x-frame-options"] = "SAMEORIGIN"
        return answer

    @routes.get("/editions/{raw_id}/live", response_class=HTMLResponse)
    def live(request: Request, raw_id: str) -> HTMLResponse:
        # Not the shared dependency: once the session has ended, a poll must not swap the
        # sign-in page into the edition's page, so it answers a note that stops the polling.
        who = session.current(request, room.engine, room.settings, now=room.clock())
        if who is None:
            if request.headers.get("hx-request") != "true":
                raise session.SignInNeeded()
            return room.page(request, "editions_live.html", staff=None, http_status=STOP_POLLING)
        try:
            view = edition_page(room, found(raw_id), now=room.clock(), preview=False)
        except Problem as exc:
            return problem(request, who, exc)
        except PublisherError as exc:
            return problem(request, who, Problem(exc.http_status, sentence(exc.message)))
        finished = view.edition.status in FINISHED
        return room.page(
            request,
            "editions_live.html",
            staff=who,
            view=view,
            http_status=STOP_POLLING if finished else 200,
        )

    return routes
