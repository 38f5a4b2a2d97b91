"""What every reader page shares: rendering a page, the "Join The Community" form's values,
the member cookie, the preferences link and the form limits, each a function of the
:class:`~publisher.web.application.Application`."""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from publisher.community import subscriptions
from publisher.web.application import Application
from publisher.web.facts import facts
from publisher.web.feeds import discovery_links
from publisher.web.structured import script, website

__all__ = [
    "FORM_LIMITS",
    "MEMBER_COOKIE",
    "PAGE_MAX_AGE",
    "cached",
    "client_host",
    "is_member",
    "join_form",
    "preferences_url",
    "remember_member",
    "render",
]

MEMBER_COOKIE = "member"
# Reader forms have a handful of short fields and never a file (Starlette's own defaults are
# 1,000 fields and files of any number); PUBLISHER_MAX_BODY_BYTES caps the whole body.
FORM_LIMITS: dict[str, Any] = {"max_files": 0, "max_fields": 300, "max_part_size": 256 * 1024}
# Public pages are rendered from the database on every request, so a change shows at once;
# caches may keep a page this long, then ask again with its ETag (a 304 when unchanged).
PAGE_MAX_AGE = 10


def render(
    app: Application, template: str, /, *, http_status: int = 200, **values: Any
) -> HTMLResponse:
    """``templates/pages/TEMPLATE`` rendered with the settings and the feeds' links, and the
    site's ``WebSite`` JSON-LD before any of the page's own (``json_ld``: dicts)."""
    values.setdefault("feed_links", discovery_links(app.settings))
    values.setdefault("meta", None)
    blocks = [website(app.settings), *values.pop("json_ld", ())]
    values["json_ld"] = [script(data) for data in blocks]
    html = app.env.get_template(f"pages/{template}").render(settings=app.settings, **values)
    return HTMLResponse(html, status_code=http_status)


def join_form(app: Application) -> dict[str, Any]:
    """The values of an empty "Join The Community" form (index, story and sign-up pages)."""
    return {
        "error": "",
        "email": "",
        "name": "",
        "digests": list(app.timetable.digests.items()),
        # The public sections, kept until the articles change (web/facts.py).
        "topics": [(slug, name) for _, slug, name in facts(app.engine, app.clock()).categories],
        "chosen_topics": (),
    }


def remember_member(
    app: Application, response: HTMLResponse, view: subscriptions.SubscriberView
) -> HTMLResponse:
    """Story pages leave the join form out for a browser that confirmed or opened its
    preferences. The cookie says only "a member reads here" (the same value for everyone,
    never who): it hides a form, and nothing depends on it for security."""
    if view.subscriber.status == "confirmed":
        response.set_cookie(
            MEMBER_COOKIE,
            "1",
            max_age=365 * 86400,
            httponly=True,
            samesite="lax",
            secure=app.settings.site_url.startswith("https:"),
        )
    else:
        response.delete_cookie(MEMBER_COOKIE)
    return response


def preferences_url(app: Application, view: subscriptions.SubscriberView) -> str:
    """The member's own preferences page, behind a fresh signed token."""
    token = subscriptions.preferences_token(app.signer, view, now=app.clock())
    return f"/preferences/{token}"


def is_member(request: Request) -> bool:
    """The dependency saying whether this browser carries the member cookie."""
    return request.cookies.get(MEMBER_COOKIE) == "1"


def client_host(request: Request) -> str:
    """The client's address, as the per-client limits count it."""
    return request.client.host if request.client else "?"


def cached(request: Request, response: Response, *, max_age: int = PAGE_MAX_AGE) -> Response:
    """``response`` with an ETag (from its bytes) and ``Cache-Control``, or a bodiless 304
    when the request already holds those bytes (If-None-Match, weak comparison)."""
    etag = '"' + hashlib.sha256(bytes(response.body)).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": f"public, max-age={max_age}"}
    if "vary" in response.headers:
        headers["Vary"] = response.headers["vary"]
    held = request.headers.get("if-none-match", "")
    tags = {tag.strip().removeprefix("W/") for tag in held.split(",")}
    if etag in tags or "*" in tags:
        return Response(status_code=304, headers=headers)
    response.headers.update(headers)
    return response
