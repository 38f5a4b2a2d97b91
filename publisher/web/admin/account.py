"""A person's own account (``/admin/account``): their password, their second factor
(set up with a QR code and a first code, recovery codes shown once, off with a code) and
"sign out everywhere". Wrong codes and wrong "current password"s are limited per person, as
at sign-in (``newsroom.attempts``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from publisher.errors import DeniedError, InputError
from publisher.newsroom import attempts, twofactor
from publisher.newsroom import staff as people
from publisher.newsroom.staff import Staff
from publisher.web.admin import session
from publisher.web.admin.pages import render
from publisher.web.admin.signin import SEALED
from publisher.web.application import Application, application

__all__ = ["router"]

T = TypeVar("T")

DONE = {
    "password": "Your password is changed. Every other session has ended.",
    "totp-off": "Two-step sign-in is off.",
    "totp-start": "Scan the code with your app, then type the code it shows to finish.",
}


def _account_page(
    request: Request, app: Application, who: Staff, status: int = 200, **values: Any
) -> HTMLResponse:
    values.setdefault("errors", {})
    values.setdefault("notice", "")
    sealer = app.sealer(SEALED)
    return render(
        request,
        app,
        "account.html",
        staff=who,
        http_status=status,
        setup=twofactor.pending_setup(
            app.engine, who, issuer=app.settings.site_title, sealer=sealer
        ),
        codes_left=twofactor.recovery_codes_left(app.engine, who),
        **values,
    )


def _with_code(app: Application, who: Staff, code: str, action: Callable[[str], T]) -> T:
    """``action(code)``, unless this person is over the account page's codes limit
    (TooManyAttempts, nothing checked); a wrong code (DeniedError) counts against it."""
    now = app.clock()
    return attempts.guarded(
        app.engine, attempts.account("code", who.id), lambda: action(code[:100]), now=now
    )


router = APIRouter()


@router.get("/account", response_class=HTMLResponse)
def account(
    request: Request,
    done: str = "",
    who: Staff = Depends(session.writer),
    app: Application = Depends(application),
) -> Response:
    """The signed-in person's own account page."""
    return _account_page(request, app, who, notice=DONE.get(done, ""))


@router.post("/account/password", response_class=HTMLResponse)
async def change_password(
    request: Request,
    who: Staff = Depends(session.writer),
    app: Application = Depends(application),
) -> Response:
    """A new password (given the current one): every other session ends."""
    form = await request.form()
    current, new = str(form.get("current", "")), str(form.get("password", ""))
    try:
        if new != str(form.get("again", "")):
            raise InputError("the two new passwords are not the same")
        now = app.clock()
        fresh = await run_in_threadpool(
            attempts.guarded,
            app.engine,
            attempts.account("password", who.id),
            lambda: people.change_password(app.engine, who, current, new, now=now),
            now=now,
        )
    except DeniedError as exc:
        errors = {"current": exc.message}
        return _account_page(request, app, who, exc.http_status, errors=errors)
    except InputError as exc:
        return _account_page(request, app, who, 400, errors={"password": exc.message})
    session.begin(request, app.engine, app.settings, fresh, now=app.clock())
    return RedirectResponse("/admin/account?done=password", status_code=303)


@router.post("/account/totp", response_class=HTMLResponse)
def start_totp(
    request: Request,
    who: Staff = Depends(session.writer),
    app: Application = Depends(application),
) -> Response:
    """A second factor's set-up begins: a secret to scan, waiting for its first code."""
    twofactor.begin_setup(
        app.engine,
        who,
        issuer=app.settings.site_title,
        sealer=app.sealer(SEALED),
        now=app.clock(),
    )
    return RedirectResponse("/admin/account?done=totp-start#totp", status_code=303)


@router.post("/account/totp/confirm", response_class=HTMLResponse)
async def confirm_totp(
    request: Request,
    who: Staff = Depends(session.writer),
    app: Application = Depends(application),
) -> Response:
    """The set-up's first code: the second factor is on, its recovery codes shown once."""
    code = str((await request.form()).get("code", ""))
    sealer = app.sealer(SEALED)
    try:
        done = await run_in_threadpool(
            _with_code,
            app,
            who,
            code,
            lambda c: twofactor.confirm_setup(app.engine, who, c, sealer=sealer, now=app.clock()),
        )
    except (DeniedError, InputError) as exc:
        errors = {"setup": exc.message}
        return _account_page(request, app, who, exc.http_status, errors=errors)
    session.begin(
        request, app.engine, app.settings, done.staff, now=app.clock()
    )  # the others ended
    return render(request, app, "recovery.html", staff=done.staff, codes=done.codes, new=True)


@router.post("/account/totp/codes", response_class=HTMLResponse)
async def new_codes(
    request: Request,
    who: Staff = Depends(session.writer),
    app: Application = Depends(application),
) -> Response:
    """New recovery codes (given a code), shown once; the old ones no longer work."""
    code = str((await request.form()).get("code", ""))
    sealer = app.sealer(SEALED)
    try:
        codes = await run_in_threadpool(
            _with_code,
            app,
            who,
            code,
            lambda c: twofactor.new_recovery_codes(
                app.engine, who, c, sealer=sealer, now=app.clock()
            ),
        )
    except DeniedError as exc:
        errors = {"codes": exc.message}
        return _account_page(request, app, who, exc.http_status, errors=errors)
    return render(request, app, "recovery.html", staff=who, codes=codes, new=False)


@router.post("/account/totp/off", response_class=HTMLResponse)
async def totp_off(
    request: Request,
    who: Staff = Depends(session.writer),
    app: Application = Depends(application),
) -> Response:
    """The second factor off (given a code)."""
    code = str((await request.form()).get("code", ""))
    sealer = app.sealer(SEALED)
    try:
        await run_in_threadpool(
            _with_code,
            app,
            who,
            code,
            lambda c: twofactor.turn_off(app.engine, who, c, sealer=sealer, now=app.clock()),
        )
    except DeniedError as exc:
        errors = {"off": exc.message}
        return _account_page(request, app, who, exc.http_status, errors=errors)
    return RedirectResponse("/admin/account?done=totp-off", status_code=303)
