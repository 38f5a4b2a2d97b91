"""A person's own account (``/admin/account``): their password, their second factor
(set up with a QR code and a first code, recovery codes shown once, off with a code) and
"sign out everywhere"."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from publisher.errors import DeniedError, InputError
from publisher.newsroom import staff as people
from publisher.newsroom import twofactor
from publisher.newsroom.staff import Staff
from publisher.web.admin import session
from publisher.web.admin.context import Newsroom
from publisher.web.admin.signin import PER_PERSON_CODES, TOO_MANY, WINDOW
from publisher.web.guards import ClientLimit

DONE = {
    "password": "Your password is changed. Every other session has ended.",
    "totp-off": "Two-step sign-in is off.",
    "totp-start": "Scan the code with your app, then type the code it shows to finish.",
}


def router(room: Newsroom) -> APIRouter:
    routes = APIRouter()
    signed_in = session.requires("editor", room.engine, room.settings, room.clock)
    codes_limit = ClientLimit(per_window=PER_PERSON_CODES, window=WINDOW)
    issuer = room.settings.site_title

    def account_page(
        request: Request, who: Staff, status: int = 200, **values: Any
    ) -> HTMLResponse:
        values.setdefault("errors", {})
        values.setdefault("notice", "")
        return room.page(
            request,
            "account.html",
            staff=who,
            http_status=status,
            setup=twofactor.pending_setup(room.engine, who, issuer=issuer, sealer=room.sealer),
            codes_left=twofactor.recovery_codes_left(room.engine, who),
            **values,
        )

    def with_code(request: Request, who: Staff, code: str, action: Any) -> Any:
        """``action(code)``, unless this person is over the codes limit; None on a wrong
        code (the page says so beside the field)."""
        at = room.clock().timestamp()
        if codes_limit.full(str(who.id), at):
            raise DeniedError(TOO_MANY)
        try:
            return action(code[:100])
        except DeniedError:
            codes_limit.note(str(who.id), at)
            raise

    @routes.get("/account", response_class=HTMLResponse)
    def account(request: Request, done: str = "", who: Staff = Depends(signed_in)) -> Response:
        return account_page(request, who, notice=DONE.get(done, ""))

    @routes.post("/account/password", response_class=HTMLResponse)
    async def change_password(request: Request, who: Staff = Depends(signed_in)) -> Response:
        form = await request.form()
        current, new = str(form.get("current", "")), str(form.get("password", ""))
        try:
            if new != str(form.get("again", "")):
                raise InputError("the two new passwords are not the same")
            fresh = await run_in_threadpool(
                people.change_password, room.engine, who, current, new, now=room.clock()
            )
        except DeniedError as exc:
            return account_page(request, who, 403, errors={"current": exc.message})
        except InputError as exc:
            return account_page(request, who, 400, errors={"password": exc.message})
        session.begin(request, fresh, now=room.clock())
        return RedirectResponse("/admin/account?done=password", status_code=303)

    @routes.post("/account/totp", response_class=HTMLResponse)
    def start_totp(request: Request, who: Staff = Depends(signed_in)) -> Response:
        twofactor.begin_setup(room.engine, who, issuer=issuer, sealer=room.sealer, now=room.clock())
        return RedirectResponse("/admin/account?done=totp-start#totp", status_code=303)

    @routes.post("/account/totp/confirm", response_class=HTMLResponse)
    async def confirm_totp(request: Request, who: Staff = Depends(signed_in)) -> Response:
        code = str((await request.form()).get("code", ""))
        try:
            done = await run_in_threadpool(
                with_code,
                request,
                who,
                code,
                lambda c: twofactor.confirm_setup(
                    room.engine, who, c, sealer=room.sealer, now=room.clock()
                ),
            )
        except (DeniedError, InputError) as exc:
            status = 429 if exc.message == TOO_MANY else exc.http_status
            return account_page(request, who, status, errors={"setup": exc.message})
        session.begin(request, done.staff, now=room.clock())  # the others ended
        return room.page(request, "recovery.html", staff=done.staff, codes=done.codes, new=True)

    @routes.post("/account/totp/codes", response_class=HTMLResponse)
    async def new_codes(request: Request, who: Staff = Depends(signed_in)) -> Response:
        code = str((await request.form()).get("code", ""))
        try:
            codes = await run_in_threadpool(
                with_code,
                request,
                who,
                code,
                lambda c: twofactor.new_recovery_codes(
                    room.engine, who, c, sealer=room.sealer, now=room.clock()
                ),
            )
        except DeniedError as exc:
            status = 429 if exc.message == TOO_MANY else 403
            return account_page(request, who, status, errors={"codes": exc.message})
        return room.page(request, "recovery.html", staff=who, codes=codes, new=False)

    @routes.post("/account/totp/off", response_class=HTMLResponse)
    async def totp_off(request: Request, who: Staff = Depends(signed_in)) -> Response:
        code = str((await request.form()).get("code", ""))
        try:
            await run_in_threadpool(
                with_code,
                request,
                who,
                code,
                lambda c: twofactor.turn_off(
                    room.engine, who, c, sealer=room.sealer, now=room.clock()
                ),
            )
        except DeniedError as exc:
            status = 429 if exc.message == TOO_MANY else 403
            return account_page(request, who, status, errors={"off": exc.message})
        return RedirectResponse("/admin/account?done=totp-off", status_code=303)

    return routes
