"""The newsroom's inbox (``/admin/inbox``) and sources (``/admin/sources``): material the
sources brought in, newest first, by source, with a filter; each item opened into the
article form (``/admin/articles/new?from_item=ID``) or discarded; the sources' state, and
a paused source resumed. Every change goes through ``publisher.inbox``, as the CLI's does."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from publisher import store
from publisher.content import sanitise_html
from publisher.errors import InputError, NotFoundError
from publisher.newsroom.staff import Staff
from publisher.sources import inbox
from publisher.sources.polling import SourceState
from publisher.web.admin.pages import render
from publisher.web.admin.session import editor
from publisher.web.admin.trail import rows
from publisher.web.application import Application, application

__all__ = ["ItemProblem", "linker", "openable", "problem_page", "router"]

MAX_ID = 2**31 - 1  # ids are 32-bit in both databases: a larger one is simply not there
MAX_PAGE = 100_000
STATUSES = ("new", "updated", "published", "discarded", "all")
DONE = {
    "discarded": "Discarded: it will not come back, even when its feed shows it again.",
    "already": "It was discarded already.",
    "resumed": "Resumed: the source is polled again now.",
    "running": "That source was not paused.",
}

router = APIRouter()


class ItemProblem(Exception):
    """An item that cannot be shown or opened: said on a newsroom page with this status."""

    def __init__(self, status: int, message: str, *, article_id: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.article_id = article_id


def item_id_of(text: str) -> int:
    """The item id in ``text`` (a path or form value), or ItemProblem (404) when there is none."""
    text = text.strip()
    if not (text.isascii() and text.isdigit() and 0 < len(text) < 11 and 0 < int(text) <= MAX_ID):
        raise ItemProblem(404, f"There is no inbox item {text[:30]!r}: an item's id is a number.")
    return int(text)


def item(app: Application, text: str) -> inbox.ItemView:
    """The item whose id is ``text``, whatever its status; ItemProblem when there is none."""
    item_id = item_id_of(text)
    try:
        return inbox.get_item(app.engine, item_id)
    except NotFoundError:
        raise ItemProblem(404, f"There is no inbox item {item_id}.") from None


def openable(app: Application, text: str) -> inbox.ItemView:
    """The item whose id is ``text``, if it can still become an article (ItemProblem if not:
    discarded, or an article already)."""
    found = item(app, text)
    row = found.item
    if row.status == "discarded":
        raise ItemProblem(409, f"Inbox item {row.id} was discarded: it cannot become an article.")
    if row.article_id is not None:
        raise ItemProblem(
            409, f"Inbox item {row.id} is already an article.", article_id=row.article_id
        )
    return found


def linker(found: inbox.ItemView, *, actor: str, now: datetime) -> Callable[[Session, int], None]:
    """For ``publish.save_article(then=...)``: links the item to the article made from it, in
    the article's transaction (so an item published or discarded meanwhile saves nothing)."""
    item_id = found.item.id or 0

    def link(session: Session, article_id: int) -> None:
        try:
            inbox.published(session, item_id, article_id, actor=actor, now=now)
        except NotFoundError:
            raise InputError(f"inbox item {item_id} is gone: nothing was saved") from None

    return link


def problem_page(request: Request, app: Application, who: Staff, exc: ItemProblem) -> HTMLResponse:
    """The newsroom's page saying why an item cannot be shown or opened."""
    return render(
        request,
        app,
        "inbox_problem.html",
        staff=who,
        http_status=exc.status,
        message=exc.message,
        article_id=exc.article_id,
    )


def thumbnail(url: str) -> str:
    """The image to show beside an item: https only (the admin's CSP allows no other; a
    plain-http image would be mixed content on an https site), else none."""
    return url if url.startswith("https://") and len(url) <= 2000 else ""


def _filters(request: Request) -> tuple[dict[str, str], int, str]:
    """The list's filters as typed, the page number, and what was wrong with them."""
    q = request.query_params
    wanted = {
        "source": q.get("source", "").strip()[:50],
        "status": q.get("status", "new").strip() or "new",
        "q": q.get("q", "").strip()[:200],
    }
    problem = ""
    if wanted["status"] not in STATUSES:
        problem = f"There is no status {wanted['status'][:30]!r}: showing new items."
        wanted["status"] = "new"
    page = q.get("page", "1")
    number = int(page) if page.isdigit() and len(page) < 7 and 0 < int(page) <= MAX_PAGE else 0
    if not number:
        number, problem = 1, f"There is no page {page[:20]!r}: showing the first."
    return wanted, number, problem


def _query(wanted: dict[str, str], page: int = 1, **changed: str) -> str:
    values = {**wanted, **changed}
    if values.get("status") == "new":
        values["status"] = ""
    if page > 1:
        values["page"] = str(page)
    return urlencode({k: v for k, v in values.items() if v})


def _back(form_value: object) -> str:
    """Where a form goes back to: the inbox or sources page it was sent from, nowhere else."""
    target = str(form_value or "")
    if target.startswith(("/admin/inbox", "/admin/sources")) and "\\" not in target:
        return target.split("#")[0][:1000]
    return "/admin/inbox"


def _with_done(target: str, done: str) -> str:
    return f"{target}{'&' if '?' in target else '?'}done={done}"


def _address(query: str) -> str:
    return f"/admin/inbox?{query}" if query else "/admin/inbox"


def states(app: Application) -> list[SourceState]:
    """Every source's state, as the sources page and the inbox's side show it."""
    return list(inbox.source_states(app.engine, app.timetable))


@router.get("/inbox", response_class=HTMLResponse)
def inbox_list(
    request: Request,
    done: str = "",
    who: Staff = Depends(editor),
    app: Application = Depends(application),
) -> Response:
    """The items the sources brought in, newest first, filtered, a page at a time."""
    wanted, page, problem = _filters(request)
    try:
        found = inbox.list_items(
            app.engine,
            source=wanted["source"] or None,
            status=wanted["status"],
            query=wanted["q"] or None,
            page=page,
        )
    except InputError as exc:
        wanted, problem = {**wanted, "status": "new"}, exc.message
        found = inbox.list_items(app.engine, status="new", page=1)
    return render(
        request,
        app,
        "inbox.html",
        staff=who,
        http_status=400 if problem else 200,
        found=found,
        wanted=wanted,
        page=page,
        first=(page - 1) * found.per_page + 1,
        newer=_address(_query(wanted, page - 1)) if page > 1 else "",
        older=_address(_query(wanted, page + 1)) if found.has_next else "",
        position="",
        source_link=lambda name: _query(wanted, source=name),
        status_link=lambda name: _query(wanted, status=name),
        here=str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""),
        sources=states(app),
        problem=problem,
        done=DONE.get(done, ""),
        thumbnail=thumbnail,
        statuses=STATUSES,
    )


@router.get("/inbox/{item_id}", response_class=HTMLResponse)
def item_page(
    request: Request,
    item_id: str,
    done: str = "",
    who: Staff = Depends(editor),
    app: Application = Depends(application),
) -> Response:
    """One item as it came in, with its history."""
    try:
        found = item(app, item_id)
    except ItemProblem as exc:
        return problem_page(request, app, who, exc)
    row = found.item
    with store.reading(app.engine) as db:
        trail = rows(store.audit_entries(db, kind="inbox_item", subject_id=row.id or 0))
    return render(
        request,
        app,
        "inbox_item.html",
        staff=who,
        view=found,
        row=row,
        body=sanitise_html(row.body_html) if row.body_html else "",
        image=thumbnail(row.image),
        trail=trail,
        done=DONE.get(done, ""),
    )


@router.post("/inbox/{item_id}/discard", response_class=HTMLResponse)
async def discard(
    request: Request,
    item_id: str,
    who: Staff = Depends(editor),
    app: Application = Depends(application),
) -> Response:
    """Discards the item for good, and goes back to the page the form was on."""
    form = await request.form()
    try:
        number = item_id_of(item_id)
        changed = inbox.discard(app.engine, number, actor=who.email, now=app.clock())
    except ItemProblem as exc:
        return problem_page(request, app, who, exc)
    except NotFoundError:
        return problem_page(
            request, app, who, ItemProblem(404, f"There is no inbox item {number}.")
        )
    except InputError as exc:
        return problem_page(request, app, who, ItemProblem(409, exc.message))
    back = _back(form.get("back"))
    return RedirectResponse(
        _with_done(back, "discarded" if changed else "already"), status_code=303
    )


@router.get("/sources", response_class=HTMLResponse)
def source_list(
    request: Request,
    done: str = "",
    who: Staff = Depends(editor),
    app: Application = Depends(application),
) -> Response:
    """Every source's state: last and next poll, items seen, the last error."""
    return render(
        request, app, "inbox_sources.html", staff=who, sources=states(app), done=DONE.get(done, "")
    )


@router.post("/sources/{name}/resume", response_class=HTMLResponse)
async def resume(
    request: Request,
    name: str,
    who: Staff = Depends(editor),
    app: Application = Depends(application),
) -> Response:
    """Resumes a paused source (it is polled again now), and goes back."""
    form = await request.form()
    try:
        changed = inbox.resume_source(app.engine, name[:50], actor=who.email, now=app.clock())
    except NotFoundError:
        problem = ItemProblem(404, f"There is no source {name[:50]!r}.")
        return problem_page(request, app, who, problem)
    back = _back(form.get("back") or "/admin/sources")
    return RedirectResponse(_with_done(back, "resumed" if changed else "running"), 303)
