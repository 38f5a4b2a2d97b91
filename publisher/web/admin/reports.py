"""The newsroom's reports (``/admin/reports``): readers' "Spot an error?" messages, open
ones first, each with its article; resolve one, or resolve it with a correction to that
article in one step (the correction and the report are linked)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from publisher import store
from publisher.articles import publish
from publisher.errors import InputError, NotFoundError
from publisher.newsroom.staff import Staff
from publisher.web.admin.pages import render
from publisher.web.admin.paging import Page
from publisher.web.admin.session import editor
from publisher.web.admin.trail import rows
from publisher.web.application import Application, application

__all__ = ["router"]

PAGE = 50
MAX_ID = 2**31 - 1  # ids are 32-bit in both databases: a larger one is simply not there
SHOWN = {"open": "open", "resolved": "resolved", "all": ""}

router = APIRouter()


def page_link(status: str, page: int) -> str:
    """The address of the queue's page ``page`` showing ``status``."""
    return f"/admin/reports?status={status}&page={page}"


@router.get("/reports", response_class=HTMLResponse)
def queue(
    request: Request,
    status: str = "all",
    page: str = "1",
    who: Staff = Depends(editor),
    app: Application = Depends(application),
) -> HTMLResponse:
    """The reports, open ones first, a page at a time."""
    problem = ""
    if status not in SHOWN:
        status, problem = "all", f"There is no status {status[:50]!r}: showing every report."
    shown = Page.read(page, PAGE, most=999_999)
    if shown is None:
        shown, problem = Page(1, PAGE), f"There is no page {page[:20]!r}: showing the first."
    with store.reading(app.engine) as db:
        found, counts = store.report_queue(
            db, status=SHOWN[status], offset=shown.offset, limit=PAGE
        )
    total = counts.get(SHOWN[status], 0) if SHOWN[status] else sum(counts.values())
    return render(
        request,
        app,
        "reports.html",
        staff=who,
        http_status=400 if problem else 200,
        found=found,
        counts=counts,
        status=status,
        first=shown.offset + 1,
        total=total,
        **shown.links(total, lambda n: page_link(status, n)),
        position="",
        problem=problem,
    )


def report_page(
    request: Request,
    app: Application,
    who: Staff,
    report_id: int,
    *,
    http_status: int = 200,
    **values: Any,
) -> HTMLResponse:
    """One report with its article, its correction if any, and its trail; ``values``: the
    correction typed and what was wrong with it, or what was just done."""
    if not 0 < report_id <= MAX_ID:
        raise NotFoundError(f"no report {report_id}")
    with store.reading(app.engine) as db:
        report = store.report_by_id(db, report_id)
        ids = [report.article_id] if report.article_id is not None else []
        view = store.views_by_id(db, ids).get(report.article_id or 0)
        trail = rows(store.audit_entries(db, kind="report", subject_id=report_id))
        correction = None
        if report.correction_id is not None and view is not None:
            found = store.correction_ids(db, view.article.id or 0)
            correction = next((c for c in found if c[0] == report.correction_id), None)
    values.setdefault("note", "")
    values.setdefault("note_error", "")
    values.setdefault("done", "")
    return render(
        request,
        app,
        "report.html",
        staff=who,
        http_status=http_status,
        report=report,
        view=view,
        trail=trail,
        correction=correction,
        **values,
    )


@router.get("/reports/{report_id}", response_class=HTMLResponse)
def report(
    request: Request,
    report_id: int,
    done: str = "",
    who: Staff = Depends(editor),
    app: Application = Depends(application),
) -> HTMLResponse:
    """One report, to resolve."""
    return report_page(request, app, who, report_id, done=done[:20])


@router.post("/reports/{report_id}/resolve", response_class=HTMLResponse)
async def resolve(
    request: Request,
    report_id: int,
    who: Staff = Depends(editor),
    app: Application = Depends(application),
) -> Response:
    """Resolves the report, with a correction to its article when ``with=correction``."""
    if not 0 < report_id <= MAX_ID:
        raise NotFoundError(f"no report {report_id}")
    form = await request.form()
    with_correction = form.get("with") == "correction"
    note = str(form.get("note", "")) if with_correction else None
    try:
        changed = publish.resolve_report(
            app.engine, report_id, now=app.clock(), actor=who.email, correction=note
        )
    except InputError as exc:
        return report_page(
            request, app, who, report_id, http_status=400, note=note or "", note_error=exc.message
        )
    done = ("corrected" if with_correction else "resolved") if changed else "already"
    return RedirectResponse(f"/admin/reports/{report_id}?done={done}", status_code=303)
