"""The whole audit trail (``/admin/audit``): newest first, filtered by kind, actor, action
and dates, paged on id. Editors see article and report entries; admins see everything
(subscriber entries hold personal data)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from publisher.newsroom import dashboard
from publisher.newsroom.staff import Staff
from publisher.web.admin import session, trail
from publisher.web.admin.pages import render
from publisher.web.api import MAX_ID
from publisher.web.application import Application, application

__all__ = ["SUBJECT_PAGES", "Line", "router", "subject_href"]

# Where each kind of subject is looked at in the newsroom.
SUBJECT_PAGES = {
    "article": "/admin/articles/{id}",
    "subscriber": "/admin/subscribers/{id}",
    "report": "/admin/reports#report-{id}",
    "staff": "/admin/people",
    "import": "/admin/subscribers",
    "inbox_item": "/admin/inbox/{id}",
    "source": "/admin/sources",
    "look": "/admin/look",
}


@dataclass(frozen=True)
class Line:
    row: trail.TrailRow
    href: str | None  # the subject's page in the newsroom


def subject_href(kind: str, subject_id: int | None) -> str | None:
    """The newsroom page of an entry's subject, if it has one."""
    page = SUBJECT_PAGES.get(kind)
    if page is None or (subject_id is None and "{id}" in page):
        return None
    return page.format(id=subject_id)


def _before(raw: str) -> tuple[int | None, str]:
    """The page's ``before`` id, or a message when it is not one."""
    if not raw:
        return None, ""
    if raw.isascii() and raw.isdigit() and 0 < int(raw) <= MAX_ID:
        return int(raw), ""
    return None, "This page of the trail does not exist: start again from the newest entries."


router = APIRouter()


@router.get("/audit", response_class=HTMLResponse)
def audit(
    request: Request,
    who: Staff = Depends(session.editor),
    app: Application = Depends(application),
) -> HTMLResponse:
    """A page of the trail as filtered (400 on a bad filter; 403 on a kind an editor may
    not see)."""
    params = request.query_params
    query, errors = dashboard.AuditQuery.parse(params, admin=who.is_admin)
    before, page_error = _before(params.get("before", ""))
    if page_error:
        errors["before"] = page_error
    found = dashboard.AuditPage([], None)
    if not errors:
        found = dashboard.audit(
            app.engine,
            query,
            admin=who.is_admin,
            zone=app.settings.zone,
            before_id=before,
        )
    lines = [Line(row, subject_href(row.kind, row.subject_id)) for row in trail.rows(found.entries)]
    filters = {k: v for k, v in query.values.items() if v}
    status = 200
    if errors:
        status = 403 if "kind" in errors and not who.is_admin else 400
    return render(
        request,
        app,
        "audit.html",
        staff=who,
        http_status=status,
        lines=lines,
        values=query.values,
        errors=errors,
        kinds=dashboard.AUDIT_KINDS if who.is_admin else dashboard.EDITOR_KINDS,
        older=f"?{urlencode({**filters, 'before': found.older})}" if found.older else None,
        newest=f"?{urlencode(filters)}" if before is not None else None,
        filtered=bool(filters),
        searched_to=found.searched_to,
        filter_link=lambda **extra: "?" + urlencode({**filters, **extra}),
    )
