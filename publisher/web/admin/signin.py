"""Signing in and out of the newsroom, the second step for a person with a second factor,
and the one-time set-password links.

Sign-in is limited by failures, per address and per client, and the code step per person:
whoever is over a limit gets the same 429 whether the address has an account or not, and
no password is checked for them. The counts live in each daemon's memory (several daemons
behind a balancer each count their own share).

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
from publisher.newsroom import staff as people
from publisher.newsroom import twofactor
from publisher.newsroom.staff import Staff
from publisher.web.admin import session
from publisher.web.admin.context import Newsroom
from publisher.web.guards import ClientLimit

HOME = "/admin/"
WINDOW = 15 * 60.0
PER_ADDRESS = 5  # wrong passwords for one address in WINDOW
PER_CLIENT = 20  # wrong passwords or codes from one client (an IPv4 address, an IPv6 /64)
PER_PERSON_CODES = 5  # wrong codes for one person
PENDING_SECONDS = 5 * 60  # between the password and the code
TOO_MANY = "Too many attempts to sign in. Please wait 15 minutes, then try again."
KEPT = "kept:"  # the prefix of a field kept from a form sent after the session ended
# never written back into a page: what was typed there must be typed again
SECRET_FIELDS = {"csrf", "password", "again", "current", "new", "code", "new_password"}
MAX_KEPT = 200


def safe_next(target: str) -> str:
    """Where to go after signing in: a newsroom page of this site, never another site."""
    if target.startswith("/admin/") and not target.startswith("//") and "\\" not in target:
        return target
    return HOME


def kept_fields(form: FormData, *, prefixed: bool) -> list[tuple[str, str]]:
    """The text fields of ``form`` worth keeping (no secrets, no files), without the prefix."""
    found = []
    for name, value in form.multi_items():
        if prefixed:
            if not name.startswith(KEPT):
                continue
            name = name.removeprefix(KEPT)
        if isinstance(value, str) and name not in SECRET_FIELDS:
            found.append((name, value))
    return found[:MAX_KEPT]


class Limits:
    """The sign-in limits of one app."""

    def __init__(self) -> None:
        self.by_address = ClientLimit(per_window=PER_ADDRESS, window=WINDOW)
        self.by_client = ClientLimit(per_window=PER_CLIENT, window=WINDOW)
        self.by_person = ClientLimit(per_window=PER_PERSON_CODES, window=WINDOW)

    def over(self, limit: ClientLimit, key: str, client: str, at: float) -> bool:
        return self.by_client.full(client, at) or limit.full(key, at)

    def failed(self, limit: ClientLimit, key: str, client: str, at: float) -> None:
        self.by_client.note(client, at)
        limit.note(key, at)


def _client(request: Request) -> str:
    return request.client.host if request.client else "?"


def _pending(request: Request, now: datetime) -> tuple[int, int] | None:
    """(person, epoch) of a password given in the last PENDING_SECONDS, waiting for a code."""
    uid, epoch, since = (request.session.get(k) for k in ("pending", "pending_epoch", "since"))
    if not (isinstance(uid, int) and isinstance(epoch, int) and isinstance(since, int)):
        return None
    if now.timestamp() - since > PENDING_SECONDS:
        return None
    return uid, epoch


def router(room: Newsroom) -> APIRouter:
    routes = APIRouter()
    signed_in = session.requires("editor", room.engine, room.settings, room.clock)
    limits = Limits()

    def login_page(request: Request, status: int = 200, **values: Any) -> HTMLResponse:
        values = {"email": "", "error": "", "next": HOME, "kept": [], **values}
        return room.page(request, "login.html", staff=None, http_status=status, **values)

    def code_page(request: Request, status: int = 200, **values: Any) -> HTMLResponse:
        values = {"error": "", "next": HOME, "kept": [], **values}
        return room.page(request, "code.html", staff=None, http_status=status, **values)

    def signed_in_now(request: Request, who: Staff, target: str, kept: list[Any]) -> Response:
        session.begin(request, who, now=room.clock())
        if kept:  # a form sent after the session ended: offer to send it again
            return room.page(request, "resume.html", staff=who, target=target, kept=kept)
        return RedirectResponse(target, status_code=303)

    @routes.get("/login", response_class=HTMLResponse)
    def login_form(request: Request, next: str = HOME) -> Response:
        if session.current(request, room.engine, room.settings, now=room.clock()) is not None:
            return RedirectResponse(safe_next(next), status_code=303)
        return login_page(request, next=safe_next(next))

    @routes.post("/login", response_class=HTMLResponse)
    async def login(request: Request) -> Response:
        form = await request.form()
        email, password = str(form.get("email", "")), str(form.get("password", ""))
        values: dict[str, Any] = {
            "email": email,
            "next": safe_next(str(form.get("next", HOME))),
            "kept": kept_fields(form, prefixed=True),
        }
        try:
            await session.check_form_token(request)
        except session.NotAllowed as exc:
            return login_page(request, 403, error=exc.detail, **values)
        address, client, at = email.strip().lower(), _client(request), room.clock().timestamp()
        if limits.over(limits.by_address, address, client, at):
            return login_page(request, 429, error=TOO_MANY, **values)
        try:
            row = await run_in_threadpool(
                people.authenticate, room.engine, email, password, now=room.clock()
            )
        except DeniedError as exc:
            limits.failed(limits.by_address, address, client, at)
            return login_page(request, 403, error=exc.message, **values)
        if row.totp_secret:
            # Not a session yet: only "this password was right, a moment ago".
            session.end(request)
            request.session.update(pending=row.id, pending_epoch=row.session_epoch, since=int(at))
            return code_page(request, next=values["next"], kept=values["kept"])
        who = people.signed_in(room.engine, row.id or 0, row.session_epoch)
        assert who is not None
        return signed_in_now(request, who, values["next"], values["kept"])

    @routes.get("/login/code", response_class=HTMLResponse)
    def code_form(request: Request, next: str = HOME) -> Response:
        if _pending(request, room.clock()) is None:
            return RedirectResponse("/admin/login", status_code=303)
        return code_page(request, next=safe_next(next))

    @routes.post("/login/code", response_class=HTMLResponse)
    async def code(request: Request) -> Response:
        form = await request.form()
        values: dict[str, Any] = {
            "next": safe_next(str(form.get("next", HOME))),
            "kept": kept_fields(form, prefixed=True),
        }
        try:
            await session.check_form_token(request)
        except session.NotAllowed as exc:
            return code_page(request, 403, error=exc.detail, **values)
        now = room.clock()
        pending = _pending(request, now)
        if pending is None:
            session.end(request)
            late = "That took too long: please sign in again."
            return login_page(request, 401, error=late, **values)
        uid, epoch = pending
        client, at = _client(request), now.timestamp()
        if limits.over(limits.by_person, str(uid), client, at):
            return code_page(request, 429, error=TOO_MANY, **values)
        try:
            await run_in_threadpool(
                twofactor.check_code,
                room.engine,
                uid,
                str(form.get("code", ""))[:100],
                sealer=room.sealer,
                actor="",
                now=now,
            )
        except (DeniedError, NotFoundError) as exc:
            limits.failed(limits.by_person, str(uid), client, at)
            return code_page(request, 403, error=exc.message, **values)
        who = people.signed_in(room.engine, uid, epoch)
        if who is None:  # signed out everywhere, or a new password, meanwhile
            session.end(request)
            return login_page(request, 401, error="Please sign in again.", **values)
        await run_in_threadpool(people.mark_signed_in, room.engine, uid, now=now)
        return signed_in_now(request, who, values["next"], values["kept"])

    @routes.post("/logout")
    def logout(request: Request, _who: Staff = Depends(signed_in)) -> Response:
        session.end(request)
        return RedirectResponse("/admin/login", status_code=303)

    @routes.post("/sign-out-everywhere")
    def everywhere(request: Request, who: Staff = Depends(signed_in)) -> Response:
        people.sign_out_everywhere(room.engine, who, now=room.clock())
        session.end(request)
        return RedirectResponse("/admin/login", status_code=303)

    @routes.get("/welcome/{token}", response_class=HTMLResponse)
    def welcome_page(request: Request, token: str) -> Response:
        # A GET only shows the form: link scanners in mail follow GET links.
        row = people.opened_link(room.engine, room.signer, token, now=room.clock())
        return room.page(request, "welcome.html", staff=None, person=row, error="", email="")

    @routes.post("/welcome/{token}", response_class=HTMLResponse)
    async def welcome(request: Request, token: str) -> Response:
        form = await request.form()
        email, password = str(form.get("email", "")), str(form.get("password", ""))
        row = await run_in_threadpool(
            people.opened_link, room.engine, room.signer, token, now=room.clock()
        )
        try:
            await session.check_form_token(request)
            if password != str(form.get("again", "")):
                raise InputError("the two passwords are not the same")
            who = await run_in_threadpool(
                people.set_password,
                room.engine,
                room.signer,
                token,
                password,
                email=email,
                now=room.clock(),
            )
        except (InputError, session.NotAllowed) as exc:
            message = exc.message if isinstance(exc, InputError) else str(exc.detail)
            return room.page(
                request,
                "welcome.html",
                staff=None,
                http_status=400,
                person=row,
                error=message,
                email=email,
            )
        session.begin(request, who, now=room.clock())
        return RedirectResponse(HOME, status_code=303)

    return routes
