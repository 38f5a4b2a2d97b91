"""Signing in and out of the newsroom, the second step for a person with a second factor,
and the one-time set-password links.

Sign-in is limited by failures, per address and per client, and the code step per person
(``newsroom.attempts``: counted in the database, shared by every daemon, an attempt reserved
before its secret is checked): whoever is over a limit gets the same 429 whether the address
has an account or not, and no password is checked for them.

A POST whose session has ended (``ended``) loses nothing: it gets the sign-in form back
with what was typed kept in it, and after signing in a page that sends it again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from publisher.errors import DeniedError, InputError, NotFoundError
from publisher.newsroom import attempts, twofactor
from publisher.newsroom import staff as people
from publisher.newsroom.staff import Staff
from publisher.web.admin import session
from publisher.web.admin.pages import render
from publisher.web.application import Application, application
from publisher.web.guards import client_key

__all__ = [
    "HOME",
    "MAX_KEPT_CHARS",
    "PENDING_SECONDS",
    "PER_ADDRESS",
    "PER_CLIENT",
    "PER_PERSON_CODES",
    "SEALED",
    "TOO_MANY",
    "WINDOW",
    "client_of",
    "kept_fields",
    "router",
    "safe_next",
]

HOME = "/admin/"
WINDOW = attempts.WINDOW.total_seconds()
PER_ADDRESS = attempts.PER_ADDRESS  # wrong passwords for one address in WINDOW
PER_CLIENT = attempts.PER_CLIENT  # wrong passwords or codes from one client
PER_PERSON_CODES = attempts.PER_PERSON  # wrong codes for one person
PENDING_SECONDS = 5 * 60  # between the password and the code
TOO_MANY = attempts.TOO_MANY
KEPT = "kept:"  # the prefix of a field kept from a form sent after the session ended
# never written back into a page: what was typed there must be typed again
SECRET_FIELDS = {"csrf", "password", "again", "current", "new", "code", "new_password"}
MAX_KEPT = 200
MAX_KEPT_CHARS = 64 * 1024  # and at most this much of their text: a page reflects no more
MAX_NEXT = 2000
SEALED = "totp"  # what the second factor's secrets are sealed for (Application.sealer)


def safe_next(target: str) -> str:
    """Where to go after signing in: a newsroom page of this site, never another site."""
    if len(target) > MAX_NEXT:
        return HOME
    if target.startswith("/admin/") and not target.startswith("//") and "\\" not in target:
        return target
    return HOME


def kept_fields(form: FormData, *, prefixed: bool) -> list[tuple[str, str]]:
    """The text fields of ``form`` worth keeping (no secrets, no files), without the prefix."""
    found: list[tuple[str, str]] = []
    room = MAX_KEPT_CHARS
    for name, value in form.multi_items():
        if prefixed:
            if not name.startswith(KEPT):
                continue
            name = name.removeprefix(KEPT)
        if isinstance(value, str) and name not in SECRET_FIELDS:
            room -= len(name) + len(value)
            if room < 0 or len(found) == MAX_KEPT:
                break
            found.append((name, value))
    return found


def client_of(request: Request) -> str:
    """The client a limit counts (an IPv4 address, an IPv6 /64)."""
    return client_key(request.client.host if request.client else "?")


def _pending(request: Request, now: datetime) -> tuple[int, int] | None:
    """(person, epoch) of a password given in the last PENDING_SECONDS, waiting for a code."""
    uid, epoch, since = (request.session.get(k) for k in ("pending", "pending_epoch", "since"))
    if not (isinstance(uid, int) and isinstance(epoch, int) and isinstance(since, int)):
        return None
    if now.timestamp() - since > PENDING_SECONDS:
        return None
    return uid, epoch


def _login_page(
    request: Request, app: Application, status: int = 200, **values: Any
) -> HTMLResponse:
    values = {"email": "", "error": "", "next": HOME, "kept": [], **values}
    return render(request, app, "login.html", staff=None, http_status=status, **values)


def _code_page(
    request: Request, app: Application, status: int = 200, **values: Any
) -> HTMLResponse:
    values = {"error": "", "next": HOME, "kept": [], **values}
    return render(request, app, "code.html", staff=None, http_status=status, **values)


def _signed_in_now(
    request: Request, app: Application, who: Staff, target: str, kept: list[Any]
) -> Response:
    session.begin(request, app.engine, app.settings, who, now=app.clock())
    if kept:  # a form sent after the session ended: offer to send it again
        return render(request, app, "resume.html", staff=who, target=target, kept=kept)
    return RedirectResponse(target, status_code=303)


router = APIRouter()


@router.get("/login", response_class=HTMLResponse)
def login_form(
    request: Request, next: str = HOME, app: Application = Depends(application)
) -> Response:
    """The sign-in form; whoever is signed in already goes straight on to ``next``."""
    if session.current(request, app.engine, app.settings, now=app.clock()) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_page(request, app, next=safe_next(next))


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, app: Application = Depends(application)) -> Response:
    """A password: signed in, or on to the code step for a person with a second factor."""
    form = await request.form()
    email, password = str(form.get("email", ""))[:320], str(form.get("password", ""))
    values: dict[str, Any] = {
        "email": email,
        "next": safe_next(str(form.get("next", HOME))),
        "kept": kept_fields(form, prefixed=True),
    }
    try:
        await session.check_form_token(request)
    except session.NotAllowed as exc:
        return _login_page(request, app, 403, error=exc.detail, **values)
    now = app.clock()
    try:
        row = await run_in_threadpool(
            attempts.guarded,
            app.engine,
            attempts.password(email.strip().lower(), client_of(request)),
            lambda: people.authenticate(app.engine, email, password, now=now),
            now=now,
        )
    except attempts.TooManyAttempts:
        return _login_page(request, app, 429, error=TOO_MANY, **values)
    except DeniedError as exc:
        return _login_page(request, app, 403, error=exc.message, **values)
    if row.totp_secret:
        # Not a session yet: only "this password was right, a moment ago".
        session.end(request, app.engine)
        since = int(now.timestamp())
        request.session.update(pending=row.id, pending_epoch=row.session_epoch, since=since)
        return _code_page(request, app, next=values["next"], kept=values["kept"])
    who = people.signed_in(app.engine, row.id or 0, row.session_epoch)
    assert who is not None
    return _signed_in_now(request, app, who, values["next"], values["kept"])


@router.get("/login/code", response_class=HTMLResponse)
def code_form(
    request: Request, next: str = HOME, app: Application = Depends(application)
) -> Response:
    """The code step's form, while a password given a moment ago waits for its code."""
    if _pending(request, app.clock()) is None:
        return RedirectResponse("/admin/login", status_code=303)
    return _code_page(request, app, next=safe_next(next))


@router.post("/login/code", response_class=HTMLResponse)
async def code(request: Request, app: Application = Depends(application)) -> Response:
    """The second factor's code (or a recovery code) after the password: signed in."""
    form = await request.form()
    values: dict[str, Any] = {
        "next": safe_next(str(form.get("next", HOME))),
        "kept": kept_fields(form, prefixed=True),
    }
    try:
        await session.check_form_token(request)
    except session.NotAllowed as exc:
        return _code_page(request, app, 403, error=exc.detail, **values)
    now = app.clock()
    pending = _pending(request, now)
    if pending is None:
        session.end(request, app.engine)
        late = "That took too long: please sign in again."
        return _login_page(request, app, 401, error=late, **values)
    uid, epoch = pending
    sealer, typed = app.sealer(SEALED), str(form.get("code", ""))[:100]
    try:
        await run_in_threadpool(
            attempts.guarded,
            app.engine,
            attempts.second_step(uid, client_of(request)),
            lambda: twofactor.check_code(app.engine, uid, typed, sealer=sealer, actor="", now=now),
            now=now,
        )
    except attempts.TooManyAttempts:
        return _code_page(request, app, 429, error=TOO_MANY, **values)
    except (DeniedError, NotFoundError) as exc:
        return _code_page(request, app, 403, error=exc.message, **values)
    who = people.signed_in(app.engine, uid, epoch)
    if who is None:  # signed out everywhere, or a new password, meanwhile
        session.end(request, app.engine)
        return _login_page(request, app, 401, error="Please sign in again.", **values)
    await run_in_threadpool(people.mark_signed_in, app.engine, uid, now=now)
    return _signed_in_now(request, app, who, values["next"], values["kept"])


@router.post("/logout")
def logout(
    request: Request,
    _who: Staff = Depends(session.writer),
    app: Application = Depends(application),
) -> Response:
    """This browser's session ends (in the database: a copy of its cookie opens nothing)."""
    session.end(request, app.engine)
    return RedirectResponse("/admin/login", status_code=303)


@router.post("/sign-out-everywhere")
def everywhere(
    request: Request,
    who: Staff = Depends(session.writer),
    app: Application = Depends(application),
) -> Response:
    """Every session of this person ends, this one too."""
    people.sign_out_everywhere(app.engine, who, now=app.clock())
    session.end(request, app.engine)
    return RedirectResponse("/admin/login", status_code=303)


@router.get("/welcome/{token}", response_class=HTMLResponse)
def welcome_page(request: Request, token: str, app: Application = Depends(application)) -> Response:
    """A set-password link's form (the link is used only by the POST)."""
    # A GET only shows the form: link scanners in mail follow GET links.
    row = people.opened_link(app.engine, app.signer, token, now=app.clock())
    return render(request, app, "welcome.html", staff=None, person=row, error="", email="")


@router.post("/welcome/{token}", response_class=HTMLResponse)
async def welcome(
    request: Request, token: str, app: Application = Depends(application)
) -> Response:
    """A set-password link used: the password is set and its person signed in."""
    form = await request.form()
    email, password = str(form.get("email", "")), str(form.get("password", ""))
    row = await run_in_threadpool(
        people.opened_link, app.engine, app.signer, token, now=app.clock()
    )
    try:
        await session.check_form_token(request)
        if password != str(form.get("again", "")):
            raise InputError("the two passwords are not the same")
        who = await run_in_threadpool(
            people.set_password,
            app.engine,
            app.signer,
            token,
            password,
            email=email,
            now=app.clock(),
        )
    except (InputError, session.NotAllowed) as exc:
        message = exc.message if isinstance(exc, InputError) else str(exc.detail)
        return render(
            request,
            app,
            "welcome.html",
            staff=None,
            http_status=400,
            person=row,
            error=message,
            email=email,
        )
    session.begin(request, app.engine, app.settings, who, now=app.clock())
    return RedirectResponse(HOME, status_code=303)
