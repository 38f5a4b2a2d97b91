"""The people who sign in (``/admin/people``, admins only): add someone (their one-time
link is shown to pass on), change a role, a new set-password link, remove; each in the
audit trail. Never the last admin; a link is shown once and never put in a URL."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from publisher import store
from publisher.errors import InputError, NotFoundError
from publisher.models import StaffUser
from publisher.newsroom import staff as people
from publisher.newsroom.staff import Staff
from publisher.web.admin import session, trail
from publisher.web.admin.pages import render
from publisher.web.application import Application, application

__all__ = ["router"]

PER_PAGE = 50
MAX_ID = 2**31 - 1
PersonId = Annotated[int, PathParam(ge=1, le=MAX_ID)]
DONE = {
    "role": "The role is changed.",
}


def _list_page(
    request: Request, app: Application, who: Staff, status: int = 200, **values: Any
) -> Response:
    everyone = people.people(app.engine)
    page = max(1, int(values.pop("page", 1)))
    values = {"errors": {}, "email": "", "role": "editor", "link": "", "notice": "", **values}
    return render(
        request,
        app,
        "people.html",
        staff=who,
        http_status=status,
        people=everyone[(page - 1) * PER_PAGE : page * PER_PAGE],
        page=page,
        more=len(everyone) > page * PER_PAGE,
        **values,
    )


def _person_of(app: Application, person_id: int) -> StaffUser:
    with store.reading(app.engine) as s:
        row = store.staff_by_id(s, person_id)
    if row is None or not row.email:
        raise NotFoundError("nobody with that number signs in here")
    return row


def _person_page(
    request: Request,
    app: Application,
    who: Staff,
    row: StaffUser,
    status: int = 200,
    **values: Any,
) -> Response:
    with store.reading(app.engine) as s:
        entries = store.audit_entries(s, kind="staff", subject_id=row.id, limit=50)
    values = {"errors": {}, "link": "", "notice": "", **values}
    return render(
        request,
        app,
        "person.html",
        staff=who,
        http_status=status,
        person=row,
        trail=trail.rows(entries),
        **values,
    )


router = APIRouter()


@router.get("/people", response_class=HTMLResponse)
def listing(
    request: Request,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    who: Staff = Depends(session.admin),
    app: Application = Depends(application),
) -> Response:
    """Everyone who signs in, PER_PAGE to a page, and the form to add someone."""
    return _list_page(request, app, who, page=page)


@router.post("/people", response_class=HTMLResponse)
async def add(
    request: Request,
    who: Staff = Depends(session.admin),
    app: Application = Depends(application),
) -> Response:
    """Someone added: the list again, with their one-time link shown to pass on."""
    form = await request.form()
    email, role = str(form.get("email", ""))[:320], str(form.get("role", "editor"))[:20]
    try:
        link = await run_in_threadpool(
            people.add_user,
            app.engine,
            app.settings.site_url,
            app.signer,
            email,
            role,
            actor=who.email,
            now=app.clock(),
        )
    except InputError as exc:
        field = "role" if exc.message.startswith("role") else "email"
        return _list_page(
            request, app, who, 400, errors={field: exc.message}, email=email, role=role
        )
    return _list_page(request, app, who, link=link, notice=f"{email.strip().lower()} is added.")


@router.get("/people/{person_id}", response_class=HTMLResponse)
def person(
    request: Request,
    person_id: PersonId,
    done: str = "",
    who: Staff = Depends(session.admin),
    app: Application = Depends(application),
) -> Response:
    """One person's page: their role, a new link, removing them, their trail."""
    return _person_page(request, app, who, _person_of(app, person_id), notice=DONE.get(done, ""))


@router.post("/people/{person_id}/role", response_class=HTMLResponse)
async def role(
    request: Request,
    person_id: PersonId,
    who: Staff = Depends(session.admin),
    app: Application = Depends(application),
) -> Response:
    """A new role (never leaving no admin): their sessions end, so that they sign in again
    with it (one's own too)."""
    row = _person_of(app, person_id)
    wanted = str((await request.form()).get("role", ""))[:20]
    try:
        await run_in_threadpool(
            people.set_role, app.engine, row.email, wanted, actor=who.email, now=app.clock()
        )
    except InputError as exc:
        return _person_page(request, app, who, row, 400, errors={"role": exc.message})
    if row.id == who.id and wanted != who.role:
        session.end(request, app.engine)
        return RedirectResponse("/admin/login", status_code=303)
    return RedirectResponse(f"/admin/people/{person_id}?done=role", status_code=303)


@router.post("/people/{person_id}/reset", response_class=HTMLResponse)
def reset(
    request: Request,
    person_id: PersonId,
    who: Staff = Depends(session.admin),
    app: Application = Depends(application),
) -> Response:
    """A new set-password link, shown once on their page."""
    row = _person_of(app, person_id)
    link = people.reset_link(
        app.engine,
        app.settings.site_url,
        app.signer,
        row.email,
        actor=who.email,
        now=app.clock(),
    )
    return _person_page(request, app, who, _person_of(app, person_id), link=link)


@router.post("/people/{person_id}/remove", response_class=HTMLResponse)
async def remove(
    request: Request,
    person_id: PersonId,
    who: Staff = Depends(session.admin),
    app: Application = Depends(application),
) -> Response:
    """They can no longer sign in (never the last admin); removing oneself signs out."""
    row = _person_of(app, person_id)
    if (await request.form()).get("sure") != "yes":
        problem = "tick the box to say you are sure"
        return _person_page(request, app, who, row, 400, errors={"remove": problem})
    try:
        await run_in_threadpool(
            people.remove_user, app.engine, row.email, actor=who.email, now=app.clock()
        )
    except InputError as exc:
        return _person_page(request, app, who, row, 400, errors={"remove": exc.message})
    if row.id == who.id:  # they removed themselves: their session is over
        session.end(request, app.engine)
        return RedirectResponse("/admin/login", status_code=303)
    return _list_page(request, app, who, notice=f"{row.email} can no longer sign in.")
