"""How the editions area answers: one way to render an edition's page, and a newsroom
page of its own for what cannot be shown or done (an edition that is not there, a form from
an old page), never the reader's error page or a JSON 422. The area's routes are
:class:`EditionRoute`s, which turn a :class:`Problem` raised anywhere in them into that page."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from publisher.errors import PublisherError
from publisher.newsroom.staff import Staff
from publisher.web.admin import session
from publisher.web.admin.edition_view import Draft, edition_id_of, edition_page
from publisher.web.admin.pages import render
from publisher.web.application import Application, application

__all__ = [
    "DONE",
    "EditionRoute",
    "Problem",
    "edition_id",
    "edition_screen",
    "problem_page",
    "sentence",
]

DONE = {
    "approved": "Approved: sending has started.",
    "paused": "Paused: each sending process finishes the message in hand and takes no more.",
    "resumed": "Resumed: what is still owed goes out; nobody gets a second copy.",
    "cancelled": "Cancelled: nothing more of this edition goes out.",
    "tested": "The test is on its way.",
    "made": "Made now, by hand: review it, send yourself a test, then approve and send it.",
    "sent": "Sending now: its progress and figures are below.",
    "held": "Held for review (its audience is large): another look, then approve and send it.",
    "already": "Already sent: this is the edition someone made of it before you; nothing more"
    " was sent.",
}


def sentence(message: str) -> str:
    """A use case's message (``no edition 9``) as a page says it (``No edition 9.``)."""
    message = message.strip()
    end = "" if message.endswith((".", "!", "?")) else "."
    return f"{message[:1].upper()}{message[1:]}{end}"


class Problem(Exception):
    """A request the editions area answers with a newsroom page of its own (an edition that
    is not there, a form from an old page) rather than the reader's error page or JSON;
    ``back``: the page to offer going back to, if any."""

    def __init__(self, status: int, message: str, *, back: str = "") -> None:
        super().__init__(message)
        self.status, self.message, self.back = status, message, back

    @classmethod
    def of(cls, exc: PublisherError, *, back: str = "") -> Problem:
        """A use case's refusal, said as the area's page says it."""
        return cls(exc.http_status, sentence(exc.message), back=back)


def edition_id(raw: str) -> int:
    """The edition id in an address; Problem (404) when it cannot be one."""
    found = edition_id_of(raw)
    if found is None:
        raise Problem(404, f"There is no edition {raw[:30]!r}: editions have numbers.")
    return found


def problem_page(
    request: Request, app: Application, who: Staff | None, problem: Problem
) -> HTMLResponse:
    """The area's own page saying why something cannot be shown or done."""
    return render(
        request,
        app,
        "editions_problem.html",
        staff=who,
        http_status=problem.status,
        message=problem.message,
        back=problem.back,
    )


def edition_screen(
    request: Request,
    app: Application,
    who: Staff,
    edition_id: int,
    *,
    http_status: int = 200,
    error: str = "",
    draft: Draft | None = None,
    to: str = "",
    confirm: bool = False,
) -> HTMLResponse:
    """The edition's page, as the address asks (the reader previewed: category, language and
    story languages; width; what was done); Problem when
    the edition is not there. ``confirm``: asking to confirm sending ``draft``, saying to
    how many readers."""
    params = request.query_params
    try:
        view = edition_page(
            app,
            edition_id,
            variant=params.get("variant", ""),
            width=params.get("width", ""),
            language=params.get("language", ""),
            stories=params.get("stories_in", ""),
            now=app.clock(),
            draft=draft,
            confirm=confirm,
        )
    except PublisherError as exc:
        raise Problem.of(exc) from exc
    said = DONE.get(params.get("done", ""), "")
    count = params.get("n", "")
    if said and count.isascii() and count.isdigit() and len(count) < 10:
        said += f" ({int(count):,} message{'' if int(count) == 1 else 's'})"
    return render(
        request,
        app,
        "editions_edition.html",
        staff=who,
        http_status=http_status,
        view=view,
        done=said,
        error=error,
        draft=draft,
        to=to,
    )


Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class EditionRoute(APIRoute):
    """A route of the editions area: a Problem raised in it, and a form refused for its form
    token (from an older session, or forged), are answered with the area's problem page,
    the latter with a way back to the page the form was on."""

    def get_route_handler(self) -> Handler:
        """FastAPI's handler for this route, with the area's problems turned into pages."""
        handle = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handle(request)
            except session.NotAllowed as exc:
                # Raised by the sign-in dependency before it names the person: found again
                # here, so the page still shows who is signed in.
                app = application(request)
                who = await run_in_threadpool(
                    session.current,
                    request,
                    app.engine,
                    app.settings,
                    now=app.clock(),
                    active=False,
                )
                back = request.url.path.rsplit("/", 1)[0]
                return problem_page(request, app, who, Problem(403, str(exc.detail), back=back))
            except Problem as exc:
                who = getattr(request.state, "staff", None)
                return problem_page(request, application(request), who, exc)

        return answer
