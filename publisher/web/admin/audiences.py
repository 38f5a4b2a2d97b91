"""The newsroom's audiences (issue 27): saved filters over members. Saved from the
subscribers page's filter (admins), its count live as the filter changes (htmx); listed with
their counts now for everyone who sends; removed by admins."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from publisher.community import audiences
from publisher.editions import one_off
from publisher.errors import InputError, PublisherError
from publisher.newsroom.staff import Staff
from publisher.store import SubscriberFilter
from publisher.web.admin import session
from publisher.web.admin.pages import render
from publisher.web.admin.subscribers import chosen_filter, filter_values
from publisher.web.application import Application, application

__all__ = ["Row", "audience_rows", "router"]

router = APIRouter()


class Row:
    """An audience as its list shows it: counted now, and described in words."""

    def __init__(self, app: Application, counted: audiences.Counted) -> None:
        self.name = counted.audience.name
        self.built_in = counted.built_in
        self.members = counted.members
        self.breaking = one_off.audience_count(app.engine, self.name, "story")
        self.description = describe(counted.chosen)
        self.created_by = counted.audience.created_by
        self.created_at = counted.audience.created_at


def describe(chosen: SubscriberFilter) -> str:
    """A filter in words, for people."""
    said = []
    values = filter_values(chosen)
    names = {
        "q": "address or name has “{}”",
        "status": "status {}",
        "digest": "receives {}",
        "category": "chose {}",
        "joined_from": "joined from {}",
        "joined_to": "joined until {}",
        "clicked_in": "clicked in the last {} editions",
        "breaking": "wants breaking news",
    }
    for key, value in values.items():
        shown = "none (every category)" if key == "category" and value == "*" else value
        said.append(names[key].format(shown) if key != "breaking" else names[key])
    return "; ".join(said) or "every member"


def audience_rows(app: Application) -> list[Row]:
    """Every audience, counted now."""
    return [Row(app, counted) for counted in audiences.listing(app.engine)]


def _list_page(
    request: Request,
    app: Application,
    who: Staff,
    *,
    saved: str = "",
    error: str = "",
    http_status: int = 200,
) -> HTMLResponse:
    return render(
        request,
        app,
        "audiences.html",
        staff=who,
        http_status=http_status,
        rows=audience_rows(app),
        saved=saved,
        error=error,
    )


@router.get("/audiences", response_class=HTMLResponse)
def audience_list(
    request: Request,
    saved: str = "",
    removed: str = "",
    who: Staff = Depends(session.editor),
    app: Application = Depends(application),
) -> HTMLResponse:
    """Every audience with its members now, and how many of them want breaking news."""
    said = f"Saved the audience “{saved[:100]}”." if saved else ""
    if removed:
        said = f"Removed the audience “{removed[:100]}”."
    return _list_page(request, app, who, saved=said)


@router.get("/audiences/count", response_class=HTMLResponse)
def count(
    request: Request, who: Staff = Depends(session.admin), app: Application = Depends(application)
) -> HTMLResponse:
    """The subscribers page's filter counted now (htmx swaps it in as the filter changes),
    with the fields a save of it sends."""
    try:
        chosen = chosen_filter(app, request.query_params)
    except InputError as exc:
        return render(
            request,
            app,
            "_audience_count.html",
            staff=who,
            filter_values={},
            audience_count=0,
            count_error=exc.message,
        )
    return render(
        request,
        app,
        "_audience_count.html",
        staff=who,
        filter_values=filter_values(chosen),
        audience_count=audiences.count(app.engine, chosen),
        count_error="",
    )


@router.post("/audiences", response_class=HTMLResponse)
async def save(
    request: Request, who: Staff = Depends(session.admin), app: Application = Depends(application)
) -> Response:
    """Save the subscribers page's filter as an audience (a taken name is a 409)."""
    form = {k: str(v) for k, v in (await request.form()).items()}
    try:
        if form.get("invalid"):
            raise InputError("the filter has a mistake: correct it on the subscribers page first")
        chosen = chosen_filter(app, form)
        saved = await run_in_threadpool(
            audiences.save,
            app.engine,
            form.get("name", ""),
            chosen,
            actor=who.email,
            now=app.clock(),
        )
    except PublisherError as exc:
        if exc.http_status >= 500:
            raise
        error = f"Not saved: {exc.message}."
        return _list_page(request, app, who, error=error, http_status=exc.http_status)
    name = quote(saved.audience.name, safe="")
    return RedirectResponse(f"/admin/audiences?saved={name}", status_code=303)


@router.post("/audiences/remove", response_class=HTMLResponse)
async def remove(
    request: Request, who: Staff = Depends(session.admin), app: Application = Depends(application)
) -> Response:
    """Remove an audience (editions sent to it keep its name and filter)."""
    name = str((await request.form()).get("name", ""))[:200]
    try:
        await run_in_threadpool(
            audiences.remove, app.engine, name, actor=who.email, now=app.clock()
        )
    except PublisherError as exc:
        if exc.http_status >= 500:
            raise
        return _list_page(request, app, who, error=f"{exc.message}.", http_status=exc.http_status)
    return RedirectResponse(f"/admin/audiences?removed={quote(name, safe='')}", status_code=303)
