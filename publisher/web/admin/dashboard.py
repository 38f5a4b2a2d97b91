"""The newsroom's front page (``/admin/``): subscribers and their growth, the last editions,
the queue and the mail server, the next sends, the stories waiting for review, open reports
and scheduled articles (a contributor sees their own stories instead); and ``/admin/live``,
the queue and mail server figures the page polls every 10 seconds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from publisher import store
from publisher.articles import publish
from publisher.newsroom import dashboard as newsroom
from publisher.newsroom.staff import Staff
from publisher.web.admin.chart import growth_chart
from publisher.web.admin.pages import render
from publisher.web.admin.polling import STOP_POLLING, poller
from publisher.web.admin.session import writer
from publisher.web.application import Application, application

__all__ = ["router"]

DOWN = "unavailable since "

router = APIRouter()


@dataclass(frozen=True)
class MailHealth:
    """The mail server's state (ok, down, maildir, unknown) and since when it is down."""

    state: str  # ok, down, maildir, unknown
    since: datetime | None = None


def mail_health(app: Application) -> MailHealth:
    """The mail server as this process's delivery workers last found it."""
    if app.settings.smtp_url is None:
        return MailHealth("maildir")
    if app.daemon.mail_status is None:
        return MailHealth("unknown")
    status = app.daemon.mail_status()
    if status == "ok":
        return MailHealth("ok")
    try:
        since = datetime.fromisoformat(status.removeprefix(DOWN))
    except ValueError:
        since = None
    return MailHealth("down", since)


def finished_editions(request: Request) -> newsroom.Counted:
    """The dependency giving this app's finished editions' counts, kept between requests
    (a finished edition's deliveries no longer change, so they are counted once)."""
    state = request.app.state
    if not hasattr(state, "finished_editions"):
        state.finished_editions = {}
    found: newsroom.Counted = state.finished_editions
    return found


@router.get("/", response_class=HTMLResponse)
def dashboard(
    request: Request,
    who: Staff = Depends(writer),
    app: Application = Depends(application),
    finished: newsroom.Counted = Depends(finished_editions),
) -> HTMLResponse:
    """The newsroom's front page (a contributor's: their own stories and editors' notes)."""
    now = app.clock()
    if not who.is_editor:
        mine, counts = publish.find_articles(
            app.engine, store.ArticleFilter(owner_id=who.id), now=now, offset=0, limit=50
        )
        return render(
            request, app, "dashboard_writer.html", staff=who, views=mine, counts=counts, now=now
        )
    review, _ = publish.find_articles(
        app.engine, store.ArticleFilter(status="in_review"), now=now, offset=0, limit=50
    )
    board = newsroom.dashboard(app.engine, app.settings, app.timetable, now=now, known=finished)
    return render(
        request,
        app,
        "dashboard.html",
        staff=who,
        board=board,
        queue=board.queue,
        mail=mail_health(app),
        chart=growth_chart(board.growth),
        now=now,
        review=review,
        complaints_limit=newsroom.COMPLAINTS_LIMIT,
        complaints_aim=newsroom.COMPLAINTS_AIM,
        bounces_limit=newsroom.BOUNCES_LIMIT,
    )


@router.get("/live", response_class=HTMLResponse)
def live(
    request: Request, who: Staff | None = Depends(poller), app: Application = Depends(application)
) -> HTMLResponse:
    """The queue and mail server figures the front page polls every 10 seconds."""
    if who is None:
        return render(request, app, "_live.html", staff=None, http_status=STOP_POLLING)
    queue = newsroom.live(app.engine, app.settings, now=app.clock())
    return render(request, app, "_live.html", staff=who, queue=queue, mail=mail_health(app))
