"""The readers' error reports ("Spot an error? Report it here") on a story."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from publisher.articles import publish
from publisher.community import subscriptions
from publisher.errors import InputError
from publisher.web.guards import ClientLimit
from publisher.web.pages import FORM_LIMITS, Context, client_host


def router(ctx: Context) -> APIRouter:
    """``/report``: the form for a story, and sending it (stored, so bounded per client)."""
    reports = APIRouter()
    limiter = ClientLimit(per_window=10, window=600.0)

    @reports.get("/report", response_class=HTMLResponse)
    def report_form(article: str = "") -> HTMLResponse:
        view = publish.article(ctx.engine, article, now=ctx.clock())
        return ctx.page(
            "report.html", article=view.article, done=False, error="", message="", email=""
        )

    @reports.post("/report", response_class=HTMLResponse)
    async def report(request: Request) -> HTMLResponse:
        form = await request.form(**FORM_LIMITS)
        slug, message, email = (str(form.get(k, "")) for k in ("article", "message", "email"))
        view = await run_in_threadpool(publish.article, ctx.engine, slug, now=ctx.clock())
        again = {"article": view.article, "done": False, "message": message, "email": email}
        if not limiter.allow(client_host(request), time.monotonic()):
            error = "Too many reports from here; please try again later."
            return ctx.page("report.html", http_status=429, error=error, **again)
        if form.get("website"):  # the honeypot: a person never sees this field
            return ctx.page("report.html", article=view.article, done=True)
        try:
            await run_in_threadpool(
                subscriptions.report_error, ctx.engine, slug, message, email, now=ctx.clock()
            )
        except InputError as exc:
            return ctx.page("report.html", http_status=400, error=exc.message, **again)
        return ctx.page("report.html", article=view.article, done=True)

    return reports
