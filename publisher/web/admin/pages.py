"""The one way a newsroom page is rendered: ``templates/admin/TEMPLATE`` with the person, the
form token, the site and the inbox count the navigation shows."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from publisher import store
from publisher.newsroom.staff import Staff, nobody_can_sign_in
from publisher.web.admin.session import csrf_token
from publisher.web.application import Application

__all__ = ["inbox_waiting", "render"]


def inbox_waiting(app: Application) -> int:
    """New items in the inbox (the count beside its name in the navigation)."""
    with store.reading(app.engine) as session:
        return sum(store.item_counts(session, status="new").values())


def render(
    request: Request,
    app: Application,
    template: str,
    /,
    *,
    staff: Staff | None,
    http_status: int = 200,
    **values: Any,
) -> HTMLResponse:
    """``templates/admin/TEMPLATE`` rendered for ``staff`` (None on the sign-in pages)."""
    html = app.env.get_template(f"admin/{template}").render(
        settings=app.settings,
        staff=staff,
        csrf=csrf_token(request),
        path=request.url.path,
        inbox_waiting=lambda: inbox_waiting(app),
        nobody_yet=lambda: nobody_can_sign_in(app.engine),  # asked by the sign-in page only
        **values,
    )
    return HTMLResponse(html, status_code=http_status)
