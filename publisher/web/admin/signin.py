"""Signing in and out of the newsroom, and the one-time set-password links."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from publisher import staff as people
from publisher.errors import DeniedError, InputError
from publisher.staff import Staff
from publisher.web.admin import session
from publisher.web.admin.context import Newsroom

HOME = "/admin/"


def safe_next(target: str) -> str:
    """Where to go after signing in: a newsroom page of this site, never another site."""
    if target.startswith("/admin/") and not target.startswith("//") and "\\" not in target:
        return target
    return HOME


def router(room: Newsroom) -> APIRouter:
    routes = APIRouter()
    signed_in = session.requires("editor", room.engine, room.settings, room.clock)

    @routes.get("/login", response_class=HTMLResponse)
    def login_page(request: Request, next: str = HOME) -> Response:
        if session.current(request, room.engine, room.settings, now=room.clock()) is not None:
            return RedirectResponse(safe_next(next), status_code=303)
        return room.page(
            request, "login.html", staff=None, email="", error="", next=safe_next(next)
        )

    @routes.post("/login", response_class=HTMLResponse)
    async def login(request: Request) -> Response:
        form = await request.form()
        email, password = str(form.get("email", "")), str(form.get("password", ""))
        target = safe_next(str(form.get("next", HOME)))
        values = {"email": email, "next": target}
        try:
            await session.check_form_token(request)
        except session.NotAllowed as exc:
            return room.page(
                request, "login.html", staff=None, http_status=403, error=exc.detail, **values
            )
        try:
            row = await run_in_threadpool(
                people.authenticate, room.engine, email, password, now=room.clock()
            )
        except DeniedError as exc:
            return room.page(
                request, "login.html", staff=None, http_status=403, error=exc.message, **values
            )
        who = people.signed_in(room.engine, row.id or 0, row.session_epoch)
        assert who is not None
        session.begin(request, who, now=room.clock())
        return RedirectResponse(target, status_code=303)

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
