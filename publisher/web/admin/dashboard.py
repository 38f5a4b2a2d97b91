"""The newsroom's front page (``/admin/``): subscribers and their growth, the last editions,
the queue and the mail server, the next sends, open reports and scheduled articles; and
``/admin/live``, the queue and mail server figures the page polls every 10 seconds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from publisher.newsroom import dashboard as newsroom
from publisher.newsroom.staff import Staff
from publisher.web.admin import session
from publisher.web.admin.chart import growth_chart
from publisher.web.admin.context import Newsroom

# htmx stops polling when an answer has this status (and swaps it in like a 200).
STOP_POLLING = 286
DOWN = "unavailable since "


@dataclass(frozen=True)
class MailHealth:
    state: str  # ok, down, maildir, unknown
    since: datetime | None = None


def mail_health(room: Newsroom) -> MailHealth:
    """The mail server as this process's delivery workers last found it."""
    if room.settings.smtp_url is None:
        return MailHealth("maildir")
    if room.mail_status is None:
        return MailHealth("unknown")
    status = room.mail_status()
    if status == "ok":
        return MailHealth("ok")
    try:
        since = datetime.fromisoformat(status.removeprefix(DOWN))
    except ValueError:
        since = None
    return MailHealth("down", since)


def router(room: Newsroom) -> APIRouter:
    routes = APIRouter()
    signed_in = session.requires("editor", room.engine, room.settings, room.clock)
    finished: newsroom.Counted = {}  # finished editions' counts, kept by this app

    @routes.get("/", response_class=HTMLResponse)
    def dashboard(request: Request, who: Staff = Depends(signed_in)) -> HTMLResponse:
        now = room.clock()
        board = newsroom.dashboard(
            room.engine, room.settings, room.timetable, now=now, known=finished
        )
        return room.page(
            request,
            "dashboard.html",
            staff=who,
            board=board,
            queue=board.queue,
            mail=mail_health(room),
            chart=growth_chart(board.growth),
            now=now,
        )

    @routes.get("/live", response_class=HTMLResponse)
    def live(request: Request) -> HTMLResponse:
        # Not the shared dependency: once the session has ended, a poll must not swap the
        # sign-in page into the dashboard, so it answers a note that stops the polling.
        who = session.current(request, room.engine, room.settings, now=room.clock())
        if who is None:
            if request.headers.get("hx-request") != "true":
                raise session.SignInNeeded()
            return room.page(request, "_live.html", staff=None, http_status=STOP_POLLING)
        queue = newsroom.live(room.engine, room.settings, now=room.clock())
        return room.page(request, "_live.html", staff=who, queue=queue, mail=mail_health(room))

    return routes
