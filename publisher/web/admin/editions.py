"""The newsroom's editions (``/admin/editions``), the routes that show: every edition's
state at a glance, those awaiting review on top; one edition as a reader sees it (whole, or
per category, language and story languages; phone or desktop width), its live progress
and, once done, its figures; the cancel button's question. The routes that act (the review
form, test sends, pause, resume and cancel) are ``edition_actions``, whose routes this
router carries too."""

from __future__ import annotations

from functools import partial
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from publisher.editions.sends import AsReader
from publisher.errors import PublisherError
from publisher.newsroom.staff import Staff
from publisher.web.admin import edition_actions
from publisher.web.admin.edition_list import STATUSES, ListQuery, editions_page
from publisher.web.admin.edition_render import (
    EditionRoute,
    Problem,
    edition_id,
    edition_screen,
)
from publisher.web.admin.edition_view import Draft, EditionPage, edition_page, fate, preview_html
from publisher.web.admin.pages import render
from publisher.web.admin.polling import STOP_POLLING, poller
from publisher.web.admin.session import editor
from publisher.web.application import Application, application

__all__ = ["preview_policy", "router"]


# The email, inlined styles and all, framed on the edition's page: nothing but its own
# styles and images, no script, no form, and a sandbox even when opened on its own. The
# newsroom's pages keep their policy with no inline style at all.
def preview_policy(site_url: str) -> str:
    """The framed email's policy: its inlined styles and pictures (ours, at the site's
    address, which is http on a local install), no script, no form, a sandbox."""
    parts = urlsplit(site_url)
    return (
        f"default-src 'none'; style-src 'unsafe-inline'; "
        f"img-src https: data: {parts.scheme}://{parts.netloc}; "
        "frame-ancestors 'self'; base-uri 'none'; form-action 'none'; sandbox"
    )


router = APIRouter(route_class=EditionRoute)


@router.get("/editions", response_class=HTMLResponse)
def editions(
    request: Request, who: Staff = Depends(editor), app: Application = Depends(application)
) -> HTMLResponse:
    """Every edition, newest first, filtered by digest and status, a page at a time."""
    query, problems = ListQuery.parse(request.query_params, app.timetable)
    tested = request.query_params.get("tested", "")
    listing = editions_page(app, query, now=app.clock())
    return render(
        request,
        app,
        "editions.html",
        staff=who,
        http_status=400 if problems else 200,
        listing=listing,
        query=query,
        problems=problems,
        statuses=STATUSES,
        digests=sorted(app.timetable.digests),
        fate=partial(fate, app.timetable),
        tested=tested if tested in app.timetable.digests else "",
        newer=query.page_link(listing.page - 1) if listing.page > 1 else "",
        older=query.page_link(listing.page + 1) if listing.following else "",
        position="",
    )


@router.get("/editions/{raw_id}", response_class=HTMLResponse)
def edition(
    request: Request,
    raw_id: str,
    who: Staff = Depends(editor),
    app: Application = Depends(application),
) -> HTMLResponse:
    """One edition as a reader sees it, with its progress, review form and test sends."""
    return edition_screen(request, app, who, edition_id(raw_id))


@router.get("/editions/{raw_id}/preview", response_class=HTMLResponse)
def preview(
    request: Request,
    raw_id: str,
    who: Staff = Depends(editor),
    app: Application = Depends(application),
) -> HTMLResponse:
    """The email itself, framed on the edition's page under its own narrow policy."""
    params = request.query_params
    try:
        html = preview_html(
            app,
            edition_id(raw_id),
            variant=params.get("variant", ""),
            draft=Draft.of_query(params),
            reader=AsReader(
                language=params.get("language", ""),
                languages=tuple(params.get("stories_in", "").replace(",", " ").split()),
            ),
        )
    except PublisherError as exc:
        raise Problem.of(exc) from exc
    answer = HTMLResponse(html)
    answer.headers["content-security-policy"] = preview_policy(app.settings.site_url)
    answer.headers["x-frame-options"] = "SAMEORIGIN"
    return answer


def progress_view(app: Application, raw_id: str) -> EditionPage:
    """What the progress poll and the cancel question show of an edition (Problem when it
    is not there)."""
    try:
        return edition_page(app, edition_id(raw_id), now=app.clock(), whole=False)
    except PublisherError as exc:
        raise Problem.of(exc) from exc


@router.get("/editions/{raw_id}/live", response_class=HTMLResponse)
def live(
    request: Request,
    raw_id: str,
    who: Staff | None = Depends(poller),
    app: Application = Depends(application),
) -> HTMLResponse:
    """The edition's progress, polled by its page until the edition is finished."""
    if who is None:
        return render(request, app, "editions_live.html", staff=None, http_status=STOP_POLLING)
    view = progress_view(app, raw_id)
    return render(
        request,
        app,
        "editions_live.html",
        staff=who,
        view=view,
        fragment=True,  # with the status and the buttons, swapped in out of band
        http_status=STOP_POLLING if view.finished else 200,
    )


@router.get("/editions/{raw_id}/cancel", response_class=HTMLResponse)
def confirm_cancel(
    request: Request,
    raw_id: str,
    who: Staff = Depends(editor),
    app: Application = Depends(application),
) -> HTMLResponse:
    """The cancel button's confirmation, saying how many are still owed."""
    view = progress_view(app, raw_id)
    if not view.can_cancel:
        said = f"Edition {view.edition.id} is {view.edition.status}: nothing to cancel."
        raise Problem(409, said, back=f"/admin/editions/{view.edition.id}")
    return render(request, app, "editions_cancel.html", staff=who, view=view)


router.include_router(edition_actions.router)
