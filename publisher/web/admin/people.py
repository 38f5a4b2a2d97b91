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
from publisher.web.admin.context import Newsroom

PER_PAGE = 50
MAX_ID = 2**31 - 1
PersonId = Annotated[int, PathParam(ge=1, le=MAX_ID)]
DONE = {
    "role": "The role is changed.",
}


def router(room: Newsroom) -> APIRouter:
    routes = APIRouter()
    admin = session.requires("admin", room.engine, room.settings, room.clock)

    def list_page(request: Request, who: Staff, status: int = 200, **values: Any) -> Response:
        everyone = people.people(room.engine)
        page = max(1, int(values.pop("page", 1)))
        values = {"errors": {}, "email": "", "role": "editor", "link": "", "notice": "", **values}
        return room.page(
            request,
            "people.html",
            staff=who,
            http_status=status,
            people=everyone[(page - 1) * PER_PAGE : page * PER_PAGE],
            page=page,
            more=len(everyone) > page * PER_PAGE,
            **values,
        )

    def person_of(person_id: int) -> StaffUser:
        with store.reading(room.engine) as s:
            row = store.staff_by_id(s, person_id)
        if row is None or not row.email:
            raise NotFoundError("nobody with that number signs in here")
        return row

    def person_page(
        request: Request, who: Staff, row: StaffUser, status: int = 200, **values: Any
    ) -> Response:
        with store.reading(room.engine) as s:
            entries = store.audit_entries(s, kind="staff", subject_id=row.id, limit=50)
        values = {"errors": {}, "link": "", "notice": "", **values}
        return room.page(
            request,
            "person.html",
            staff=who,
            http_status=status,
            person=row,
            trail=trail.rows(entries),
            **values,
        )

    @routes.get("/people", response_class=HTMLResponse)
    def listing(
        request: Request,
        page: Annotated[int, Query(ge=1, le=10_000)] = 1,
        who: Staff = Depends(admin),
    ) -> Response:
        return list_page(request, who, page=page)

    @routes.post("/people", response_class=HTMLResponse)
    async def add(request: Request, who: Staff = Depends(admin)) -> Response:
        form = await request.form()
        email, role = str(form.get("email", ""))[:320], str(form.get("role", "editor"))[:20]
        try:
            link = await run_in_threadpool(
                people.add_user,
                room.engine,
                room.settings.site_url,
                room.signer,
                email,
                role,
                actor=who.email,
                now=room.clock(),
            )
        except InputError as exc:
            field = "role" if exc.message.startswith("role") else "email"
            return list_page(request, who, 400, errors={field: exc.message}, email=email, role=role)
        return list_page(request, who, link=link, notice=f"{email.strip().lower()} is added.")

    @routes.get("/people/{person_id}", response_class=HTMLResponse)
    def person(
        request: Request, person_id: PersonId, done: str = "", who: Staff = Depends(admin)
    ) -> Response:
        return person_page(request, who, person_of(person_id), notice=DONE.get(done, ""))

    @routes.post("/people/{person_id}/role", response_class=HTMLResponse)
    async def role(request: Request, person_id: PersonId, who: Staff = Depends(admin)) -> Response:
        row = person_of(person_id)
        wanted = str((await request.form()).get("role", ""))[:20]
        try:
            await run_in_threadpool(
                people.set_role, room.engine, row.email, wanted, actor=who.email, now=room.clock()
            )
        except InputError as exc:
            return person_page(request, who, row, 400, errors={"role": exc.message})
        return RedirectResponse(f"/admin/people/{person_id}?done=role", status_code=303)

    @routes.post("/people/{person_id}/reset", response_class=HTMLResponse)
    def reset(request: Request, person_id: PersonId, who: Staff = Depends(admin)) -> Response:
        row = person_of(person_id)
        link = people.reset_link(
            room.engine,
            room.settings.site_url,
            room.signer,
            row.email,
            actor=who.email,
            now=room.clock(),
        )
        return person_page(request, who, person_of(person_id), link=link)

    @routes.post("/people/{person_id}/remove", response_class=HTMLResponse)
    async def remove(
        request: Request, person_id: PersonId, who: Staff = Depends(admin)
    ) -> Response:
        row = person_of(person_id)
        if (await request.form()).get("sure") != "yes":
            problem = "tick the box to say you are sure"
            return person_page(request, who, row, 400, errors={"remove": problem})
        try:
            await run_in_threadpool(
                people.remove_user, room.engine, row.email, actor=who.email, now=room.clock()
            )
        except InputError as exc:
            return person_page(request, who, row, 400, errors={"remove": exc.message})
        if row.id == who.id:  # they removed themselves: their session is over
            session.end(request)
            return RedirectResponse("/admin/login", status_code=303)
        return list_page(request, who, notice=f"{row.email} can no longer sign in.")

    return routes
