"""The newsroom's editions (``/admin/editions``): every edition's state at a glance, those
awaiting review on top; one edition as a reader sees it (whole or per category, phone or
desktop width), its live progress and, once done, its figures. The review form, test
sends, pause, resume and cancel are ``edition_actions``; every one goes through ``sends``,
as the CLI and the API do."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from publisher.errors import PublisherError
from publisher.newsroom.staff import Staff
from publisher.web.admin import edition_actions, session
from publisher.web.admin.context import Newsroom
from publisher.web.admin.dashboard import STOP_POLLING
from publisher.web.admin.edition_list import STATUSES, ListQuery, editions_page
from publisher.web.admin.edition_pages import Draft, edition_page, fate, preview_html
from publisher.web.admin.edition_screens import Problem, Screens

# The email, inlined styles and all, framed on the edition's page: nothing but its own
# styles and images, no script, no form, and a sandbox even when opened on its own. The
# newsroom's pages keep their policy with no inline style at all.
PREVIEW_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; "
    "frame-ancestors 'self'; base-uri 'none'; form-action 'none'; sandbox"
)


def router(room: Newsroom) -> APIRouter:
    routes = APIRouter()
    editor = session.requires("editor", room.engine, room.settings, room.clock)
    screens = Screens(room)

    @routes.get("/editions", response_class=HTMLResponse)
    def editions(request: Request, who: Staff = Depends(editor)) -> HTMLResponse:
        query, problems = ListQuery.parse(request.query_params, room.timetable)
        tested = request.query_params.get("tested", "")
        listing = editions_page(room, query, now=room.clock())
        return room.page(
            request,
            "editions.html",
            staff=who,
            http_status=400 if problems else 200,
            listing=listing,
            query=query,
            problems=problems,
            statuses=STATUSES,
            digests=sorted(room.timetable.digests),
            link=lambda **extra: "?" + urlencode({**query.values, **extra}),
            fate=lambda edition: fate(room.timetable, edition),
            tested=tested if tested in room.timetable.digests else "",
        )

    @routes.get("/editions/{raw_id}", response_class=HTMLResponse)
    def edition(request: Request, raw_id: str, who: Staff = Depends(editor)) -> HTMLResponse:
        try:
            return screens.edition(request, who, screens.edition_id(raw_id))
        except Problem as exc:
            return screens.problem(request, who, exc)

    @routes.get("/editions/{raw_id}/preview", response_class=HTMLResponse)
    def preview(request: Request, raw_id: str, who: Staff = Depends(editor)) -> HTMLResponse:
        params = request.query_params
        try:
            html = preview_html(
                room,
                screens.edition_id(raw_id),
                variant=params.get("variant", ""),
                draft=Draft.of_query(params),
            )
        except (Problem, PublisherError) as exc:
            return screens.problem(request, who, exc)
        answer = HTMLResponse(html)
        answer.headers["content-security-policy"] = PREVIEW_POLICY
        answer.headers["x-frame-options"] = "SAMEORIGIN"
        return answer

    @routes.get("/editions/{raw_id}/live", response_class=HTMLResponse)
    def live(request: Request, raw_id: str) -> HTMLResponse:
        # Not the shared dependency: once the session has ended, a poll must not swap the
        # sign-in page into the edition's page, so it answers a note that stops the polling.
        who = session.current(request, room.engine, room.settings, now=room.clock())
        if who is None:
            if request.headers.get("hx-request") != "true":
                raise session.SignInNeeded()
            return room.page(request, "editions_live.html", staff=None, http_status=STOP_POLLING)
        try:
            view = edition_page(room, screens.edition_id(raw_id), now=room.clock(), whole=False)
        except (Problem, PublisherError) as exc:
            return screens.problem(request, who, exc)
        return room.page(
            request,
            "editions_live.html",
            staff=who,
            view=view,
            fragment=True,  # with the status and the buttons, swapped in out of band
            http_status=STOP_POLLING if view.finished else 200,
        )

    @routes.get("/editions/{raw_id}/cancel", response_class=HTMLResponse)
    def confirm_cancel(request: Request, raw_id: str, who: Staff = Depends(editor)) -> HTMLResponse:
        """The cancel button's confirmation, saying how many are still owed."""
        try:
            view = edition_page(room, screens.edition_id(raw_id), now=room.clock(), whole=False)
        except (Problem, PublisherError) as exc:
            return screens.problem(request, who, exc)
        if not view.can_cancel:
            said = f"Edition {view.edition.id} is {view.edition.status}: nothing to cancel."
            return screens.problem(
                request,
                who,
                Problem(409, said),
                back=f"/admin/editions/{view.edition.id}",
            )
        return room.page(request, "editions_cancel.html", staff=who, view=view)

    routes.include_router(edition_actions.router(room, screens, editor))
    return routes
