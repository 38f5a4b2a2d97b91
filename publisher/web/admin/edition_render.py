"""How the editions area answers: one way to render an edition's page, and a newsroom
page of its own for what cannot be shown or done (an edition that is not there, a form from
an old page), never the reader's error page or a JSON 422."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import HTMLResponse

from publisher.errors import PublisherError
from publisher.newsroom.staff import Staff
from publisher.web.admin.context import Newsroom
from publisher.web.admin.edition_pages import Draft, edition_id_of, edition_page


def sentence(message: str) -> str:
    """A use case's message (``no edition 9``) as a page says it (``No edition 9.``)."""
    message = message.strip()
    end = "" if message.endswith((".", "!", "?")) else "."
    return f"{message[:1].upper()}{message[1:]}{end}"


class Problem(Exception):
    """A request the editions area answers with a newsroom page of its own (an edition that
    is not there, a form from an old page) rather than the reader's error page or JSON."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message

    @classmethod
    def of(cls, exc: PublisherError) -> Problem:
        return cls(exc.http_status, sentence(exc.message))


DONE = {
    "approved": "Approved: sending has started.",
    "paused": "Paused: each sending process finishes the message in hand and takes no more.",
    "resumed": "Resumed: what is still owed goes out; nobody gets a second copy.",
    "cancelled": "Cancelled: nothing more of this edition goes out.",
    "tested": "The test is on its way.",
}


@dataclass(frozen=True)
class Screens:
    """The editions area's pages, rendered one way for every route."""

    room: Newsroom

    def edition_id(self, raw: str) -> int:
        """The id in an address; Problem (404) when it cannot be one."""
        edition_id = edition_id_of(raw)
        if edition_id is None:
            raise Problem(404, f"There is no edition {raw[:30]!r}: editions have numbers.")
        return edition_id

    def problem(
        self,
        request: Request,
        who: Staff | None,
        exc: Problem | PublisherError,
        *,
        back: str = "",
    ) -> HTMLResponse:
        if isinstance(exc, PublisherError):
            exc = Problem.of(exc)
        return self.room.page(
            request,
            "editions_problem.html",
            staff=who,
            http_status=exc.status,
            message=exc.message,
            back=back,
        )

    def edition(
        self,
        request: Request,
        who: Staff,
        edition_id: int,
        *,
        http_status: int = 200,
        done: str = "",
        error: str = "",
        draft: Draft | None = None,
        to: str = "",
    ) -> HTMLResponse:
        """The edition's page (Problem when it is not there)."""
        params = request.query_params
        try:
            view = edition_page(
                self.room,
                edition_id,
                variant=params.get("variant", ""),
                width=params.get("width", ""),
                now=self.room.clock(),
                draft=draft,
            )
        except PublisherError as exc:
            raise Problem.of(exc) from exc
        said = done or DONE.get(params.get("done", ""), "")
        count = params.get("n", "")
        if said and count.isascii() and count.isdigit() and len(count) < 10:
            said += f" ({int(count):,} message{'' if int(count) == 1 else 's'})"
        return self.room.page(
            request,
            "editions_edition.html",
            staff=who,
            http_status=http_status,
            view=view,
            done=said,
            error=error,
            draft=draft,
            to=to,
        )
