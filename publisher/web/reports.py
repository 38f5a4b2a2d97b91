"""The readers' error reports ("Spot an error? Report it here") on a story: ``/report``."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from publisher.articles import publish
from publisher.community import subscriptions
from publisher.errors import InputError
from publisher.languages import N_
from publisher.web.application import Application, application
from publisher.web.pages import FORM_LIMITS, client_host, reader_message, render

__all__ = ["report", "report_form", "router"]

router = APIRouter()


@router.get("/report", response_class=HTMLResponse)
def report_form(article: str = "", app: Application = Depends(application)) -> HTMLResponse:
    """The report form for the story ``article`` (its slug)."""
    view = publish.article(app.engine, article, now=app.clock())
    return render(
        app, "report.html", article=view.article, done=False, error="", message="", email=""
    )


@router.post("/report", response_class=HTMLResponse)
async def report(request: Request, app: Application = Depends(application)) -> HTMLResponse:
    """Send a report: stored, so ten a client in ten minutes."""
    form = await request.form(**FORM_LIMITS)
    slug, message, email = (str(form.get(k, "")) for k in ("article", "message", "email"))
    view = await run_in_threadpool(publish.article, app.engine, slug, now=app.clock())
    again: dict[str, Any] = {
        "article": view.article,
        "done": False,
        "message": message,
        "email": email,
    }
    if not app.limits.reports.allow(client_host(request), time.monotonic()):
        error = reader_message(app, N_("Too many reports from here; please try again later."))
        return render(app, "report.html", http_status=429, error=error, **again)
    if form.get("website"):  # the honeypot: a person never sees this field
        return render(app, "report.html", article=view.article, done=True)
    try:
        await run_in_threadpool(
            subscriptions.report_error, app.engine, slug, message, email, now=app.clock()
        )
    except InputError as exc:
        error = reader_message(app, exc.message)
        return render(app, "report.html", http_status=400, error=error, **again)
    return render(app, "report.html", article=view.article, done=True)
