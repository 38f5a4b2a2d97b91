"""The newsroom's session and form tokens, one dependency every admin route shares.

A session is kept in the database (``newsroom.sessions``): the cookie carries only its random
id and the form token, signed (Starlette's SessionMiddleware, over itsdangerous), HttpOnly,
SameSite=Strict, Secure on an https site. It ends at sign-out (a copy of the cookie opens
nothing after it), "sign out everywhere", a new password, a role change and the person's
removal, PUBLISHER_ADMIN_IDLE_MINUTES after the last request that was not an htmx poll, and
at the latest PUBLISHER_ADMIN_SESSION_HOURS after sign-in. Every form that changes something
carries the session's form token (``csrf``, or the X-CSRF-Token header for htmx): a page of
another site cannot read it, so cannot forge the post, even where SameSite and the
cross-site guard let one through.
"""

from __future__ import annotations

import hmac
import json
import secrets
from base64 import b64decode
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from fastapi import Depends, Request
from itsdangerous import BadSignature, TimestampSigner
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import cookie_parser
from starlette.types import Scope

from publisher.newsroom import sessions
from publisher.newsroom.staff import Staff
from publisher.settings import Settings
from publisher.web.application import Application, Clock, application

__all__ = [
    "CONTRIBUTORS",
    "COOKIE",
    "EXPIRED_FORM",
    "SAFE_METHODS",
    "ApiCaller",
    "NotAllowed",
    "SignInNeeded",
    "admin",
    "api_caller",
    "begin",
    "check_form_token",
    "csrf_token",
    "current",
    "editor",
    "end",
    "middleware_options",
    "signed_in",
    "writer",
]

COOKIE = "newsroom"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
CONTRIBUTORS = "A contributor writes drafts and sends them for review: only an editor can see that."
EXPIRED_FORM = (
    "This form has expired or did not come from the newsroom: reload the page and try again."
)


class SignInNeeded(HTTPException):
    """No session, or one that has ended: a page asks to sign in, the API answers 401."""

    def __init__(self) -> None:
        super().__init__(401, "Please sign in to the newsroom.")


class NotAllowed(HTTPException):
    """A signed-in person whose role may not, or an unsafe request without the form token."""

    def __init__(self, detail: str = "Only an admin can do that.") -> None:
        super().__init__(403, detail)


def middleware_options(settings: Settings) -> dict[str, Any]:
    """SessionMiddleware's arguments for these settings."""
    assert settings.secret_key is not None
    return {
        "secret_key": "newsroom-session:" + settings.secret_key.get_secret_value(),
        "session_cookie": COOKIE,
        "max_age": settings.admin_idle_minutes * 60,
        "same_site": "strict",
        "https_only": settings.site_url.startswith("https:"),
        "path": "/",
    }


def csrf_token(request: Request) -> str:
    """This browser's form token (made on first use; a new one at sign-in)."""
    token = request.session.get("csrf")
    if not isinstance(token, str) or len(token) < 32:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def begin(
    request: Request, engine: Engine, settings: Settings, who: Staff, *, now: datetime
) -> None:
    """A fresh session for ``who``, with a new id and form token (nothing from before
    sign-in is kept: no fixation; a session this browser had ends)."""
    old = request.session.get("sid")
    if old is not None:
        sessions.end(engine, old)
    request.session.clear()
    request.session.update(
        sid=sessions.start(engine, who, settings, now=now), csrf=secrets.token_urlsafe(32)
    )


def end(request: Request, engine: Engine) -> None:
    """This browser's session ends, in the database too."""
    sessions.end(engine, request.session.get("sid"))
    request.session.clear()


def current(
    request: Request, engine: Engine, settings: Settings, *, now: datetime, active: bool = True
) -> Staff | None:
    """The person this browser's session is for, while it lasts (``active``: the request
    counts as activity; an htmx poll does not)."""
    sid = request.session.get("sid")
    if sid is None:
        return None
    who = sessions.person(engine, sid, settings, now=now, active=active)
    if who is None:
        request.session.clear()
    elif active:
        # Touched, so SessionMiddleware signs the cookie again with this time (it is refused
        # once older than PUBLISHER_ADMIN_IDLE_MINUTES, as the session is): a poll does not.
        request.session["seen"] = int(now.timestamp())
    return who


async def check_form_token(request: Request) -> None:
    """NotAllowed unless an unsafe request carries this session's form token."""
    if request.method in SAFE_METHODS:
        return
    expected = request.session.get("csrf")
    sent = request.headers.get("x-csrf-token")
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        sent = str((await request.form()).get("csrf", ""))
    if not (isinstance(expected, str) and sent and hmac.compare_digest(sent, expected)):
        raise NotAllowed(EXPIRED_FORM)


async def _signed_in_as(
    request: Request, engine: Engine, settings: Settings, clock: Clock, role: str
) -> Staff:
    """The signed-in person if ``role`` allows them (``writer``: anyone; ``editor``: editors
    and admins; ``admin``: admins only), with the form token checked on anything that
    changes something."""
    who = await run_in_threadpool(current, request, engine, settings, now=clock())
    if who is None:
        raise SignInNeeded()
    if role == "admin" and not who.is_admin:
        # Before the form token, which reads the body: an editor's upload to an admin's
        # page is refused without being read.
        raise NotAllowed()
    if role == "editor" and not who.is_editor:
        raise NotAllowed(CONTRIBUTORS)
    await check_form_token(request)
    request.state.staff = who
    return who


async def writer(request: Request, app: Application = Depends(application)) -> Staff:
    """The dependency of the pages a contributor uses too (their articles, the dashboard,
    their account): anyone signed in, with the form token checked on anything that changes
    something. What a contributor may do there is the use cases' business."""
    return await _signed_in_as(request, app.engine, app.settings, app.clock, "writer")


async def editor(request: Request, app: Application = Depends(application)) -> Staff:
    """The dependency of every other newsroom page: the signed-in person if an editor or an
    admin (a contributor is refused), with the form token checked on anything that changes
    something."""
    return await _signed_in_as(request, app.engine, app.settings, app.clock, "editor")


async def admin(request: Request, app: Application = Depends(application)) -> Staff:
    """As :func:`editor`, for what only an admin may see or do."""
    return await _signed_in_as(request, app.engine, app.settings, app.clock, "admin")


ApiCaller = Callable[[Scope], Awaitable[tuple[Staff | None, bool]]]


def api_caller(
    engine: Engine, settings: Settings, clock: Callable[[], datetime], *, active: bool = True
) -> ApiCaller:
    """For ``api.Gate`` and the body limit, before any body is read: the signed-in person
    whose newsroom session cookie this request carries (read as SessionMiddleware reads it:
    same secret, same age limit), and whether it carries the session's form token in
    X-CSRF-Token. ``active``: the request counts as activity."""
    options = middleware_options(settings)
    signer = TimestampSigner(str(options["secret_key"]))

    async def caller(scope: Scope) -> tuple[Staff | None, bool]:
        headers = Headers(scope=scope)
        cookie = cookie_parser(headers.get("cookie", "")).get(COOKIE)
        if not cookie:
            return None, False
        try:
            data = json.loads(b64decode(signer.unsign(cookie, max_age=options["max_age"])))
        except (BadSignature, ValueError):
            return None, False
        if not isinstance(data, dict) or data.get("sid") is None:
            return None, False
        who = await run_in_threadpool(
            sessions.person, engine, data["sid"], settings, now=clock(), active=active
        )
        expected, sent = data.get("csrf"), headers.get("x-csrf-token", "")
        token_ok = isinstance(expected, str) and bool(sent) and hmac.compare_digest(sent, expected)
        return who, token_ok

    return caller


def signed_in(
    engine: Engine, settings: Settings, clock: Callable[[], datetime]
) -> Callable[[Scope], Awaitable[bool]]:
    """For the body limit, before any body is read: whether a request carries a live
    newsroom session (not counted as activity)."""
    caller = api_caller(engine, settings, clock, active=False)

    async def check(scope: Scope) -> bool:
        who, _ = await caller(scope)
        return who is not None

    return check
