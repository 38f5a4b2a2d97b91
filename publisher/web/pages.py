"""What every reader page shares: rendering a page, the "Join The Community" form's values,
the member cookie, the preferences link and the form limits, each a function of the
:class:`~publisher.web.application.Application`."""

from __future__ import annotations

import hashlib
from contextvars import ContextVar
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from publisher import languages
from publisher.community import subscriptions
from publisher.web.application import Application
from publisher.web.facts import facts
from publisher.web.feeds import discovery_links
from publisher.web.structured import script, website

__all__ = [
    "ACCEPT_LANGUAGE",
    "FORM_LIMITS",
    "MEMBER_COOKIE",
    "PAGE_MAX_AGE",
    "ReaderLanguage",
    "cached",
    "client_host",
    "is_member",
    "join_form",
    "preferences_url",
    "reader_language",
    "reader_message",
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


# The request's Accept-Language header, for the pages that speak the reader's language
# (set per request by ReaderLanguage, so that every page, error pages included, gets it).
ACCEPT_LANGUAGE: ContextVar[str | None] = ContextVar("accept_language", default=None)


class ReaderLanguage:
    """Keeps each request's ``Accept-Language`` for :func:`render` (plain ASGI)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = dict(scope["headers"]).get(b"accept-language", b"")
        token = ACCEPT_LANGUAGE.set(header.decode("latin-1")[:500])
        try:
            await self.app(scope, receive, send)
        finally:
            ACCEPT_LANGUAGE.reset(token)


def reader_language(app: Application) -> str:
    """The catalog this request's reader asks for (Accept-Language), else the site's."""
    site = languages.catalog_for(app.settings.site_language)
    return languages.negotiate(ACCEPT_LANGUAGE.get() or "", site)


def reader_message(app: Application, message: str, language: str | None = None) -> str:
    """A message for a reader (an error's), in ``language`` (else the one their browser
    asks for) when the catalogs have it (written with ``N_()`` where it is raised); a message
    naming a bad address says so in their words; any other as it is."""
    language = language or reader_language(app)
    found = languages.gettext(language, message)
    if found == message and "is not an email address" in message:
        found = languages.gettext(language, languages.N_("Please check your email address."))
        if languages.catalog_for(language) == "en":
            return message
    return found


def render(
    app: Application,
    template: str,
    /,
    *,
    http_status: int = 200,
    locale: str | None = None,
    **values: Any,
) -> HTMLResponse:
    """``templates/pages/TEMPLATE`` rendered with the settings and the feeds' links, and the
    site's ``WebSite`` JSON-LD before any of the page's own (``json_ld``: dicts); in
    ``locale`` (a catalog's tag: a member's or a story's language), else in the one the
    reader's browser asks for (the answer then varies with Accept-Language).
    ``page_language`` (the ``lang`` of the page) is ``locale`` unless given."""
    negotiated = locale is None
    locale = reader_language(app) if locale is None else locale
    if values.get("page_language") is None:
        values["page_language"] = locale
    values.setdefault("feed_links", discovery_links(app.settings))
    values.setdefault("meta", None)
    blocks = [website(app.settings), *values.pop("json_ld", ())]
    values["json_ld"] = [script(data) for data in blocks]
    html = app.env.get_template(f"pages/{template}").render(
        settings=app.settings, locale=locale, **values
    )
    response = HTMLResponse(html, status_code=http_status)
    if negotiated:
        response.headers["Vary"] = "Accept-Language"
    return response


def join_form(app: Application) -> dict[str, Any]:
    """The values of an empty "Join The Community" form (index, story and sign-up pages)."""
    facts_now = facts(app.engine, app.clock())
    return {
        "error": "",
        "email": "",
        "name": "",
        "digests": list(app.timetable.digests.items()),
        # The public sections, kept until the articles change (web/facts.py).
        "topics": [(slug, name) for _, slug, name in facts_now.categories],
        "chosen_topics": (),
        # The languages of the stories on the site, to read only some; none ticked: all.
        "story_languages": sorted({t or app.settings.site_language for t in facts_now.languages}),
        "chosen_languages": (),
        "chosen_language": "",  # the page's own until the reader picks another
        "catalogs": list(languages.CATALOGS),
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
