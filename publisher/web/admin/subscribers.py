"""The newsroom's subscribers (admins only): the list with search and filters, a person's
page with their history and trail, changing and removing them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from publisher import store
from publisher.community import audiences, subscribers, subscriptions
from publisher.errors import ConflictError, InputError
from publisher.models import BounceReport
from publisher.newsroom.staff import Staff
from publisher.store import EVERY_CATEGORY, SubscriberFilter
from publisher.web.admin import session, trail
from publisher.web.admin.pages import render
from publisher.web.application import Application, application

__all__ = [
    "FILTER_KEYS",
    "Event",
    "categories_of",
    "chosen_filter",
    "filter_values",
    "history",
    "query_of",
    "router",
]

FILTER_KEYS = ("q", "status", "digest", "category", "joined_from", "joined_to", "clicked_in")

MAX_ID = 2**31 - 1
MAX_SEARCH = 200
SubscriberId = Annotated[int, PathParam(ge=1, le=MAX_ID)]


def categories_of(app: Application) -> list[tuple[str, str]]:
    """(slug, name) of every category, for the filters and the change form."""
    with store.reading(app.engine) as db:
        return [(c.slug, c.name) for c in store.category_list(db)]


def chosen_filter(app: Application, params: Any) -> SubscriberFilter:
    """The filter in a query string or form; InputError for a value no list offers, so that
    a mistyped filter never widens a bulk action (or a send, issue 27) to everyone."""
    return audiences.parse_filter(
        {key: str(params.get(key, "")) for key in FILTER_KEYS},
        digests=list(app.timetable.digests),
        categories=[slug for slug, _ in categories_of(app)],
        zone=app.settings.zone,
    )


def filter_values(chosen: SubscriberFilter) -> dict[str, str]:
    """The filter as the form's fields (what ``chosen_filter`` reads), empty ones left out."""
    last = chosen.joined_to - timedelta(days=1) if chosen.joined_to else None
    values = {
        "q": chosen.text,
        "status": chosen.status,
        "digest": chosen.digest,
        "category": chosen.category,
        "joined_from": chosen.joined_from.date().isoformat() if chosen.joined_from else "",
        "joined_to": last.date().isoformat() if last else "",
        "clicked_in": str(chosen.clicked_in) if chosen.clicked_in else "",
        "breaking": "yes" if chosen.breaking else "",
    }
    return {k: v for k, v in values.items() if v}


def query_of(chosen: SubscriberFilter, **extra: Any) -> str:
    """The query string of ``chosen`` (and ``extra``), without the empty values."""
    values = {**filter_values(chosen), **extra}
    return urlencode({k: v for k, v in values.items() if v})


@dataclass(frozen=True)
class Event:
    """One line of a person's history."""

    at: datetime
    what: str
    detail: str = ""
    tone: str = ""  # "", ok, warn, bad


def history(found: subscribers.Person) -> list[Event]:
    """What the database records of them, newest first (their changes are in the trail)."""
    row = found.member.subscriber
    events = [Event(row.created_at, "Added to the list", f"as {row.email}")]
    if row.confirmed_at:
        events.append(Event(row.confirmed_at, "Confirmed", tone="ok"))
    for request in found.requests:
        kind = "sign-up (confirmation link)" if request.kind == "confirm" else "subscription link"
        events.append(Event(request.sent_at, f"Asked for a {kind}"))
        if request.used_at:
            events.append(Event(request.used_at, f"Used the {kind}", tone="ok"))
    for mail in found.mails:
        tone = {"sent": "ok", "failed": "bad"}.get(mail.status, "warn")
        detail = f"{mail.status}; {mail.attempts} attempt(s)"
        if mail.last_error:
            detail += f"; the server said: {mail.last_error}"
        events.append(Event(mail.sent_at or mail.created_at, "One-off mail", detail, tone))
    for got in found.received:
        tone = {"sent": "ok", "failed": "bad"}.get(got.status, "warn")
        detail = f"{got.status}; {got.attempts} attempt(s)"
        if got.reply:
            detail += f"; the server said: {got.reply}"
        what = f"Edition #{got.edition_id} ({got.digest}) {got.subject}".strip()
        events.append(Event(got.sent_at or got.nominal_at, what, detail, tone))
    for report in found.reports:
        events.append(_reported(report))
    return sorted(events, key=lambda e: e.at, reverse=True)


REPORTED = {
    "hard": "Hard bounce reported",
    "soft": "Soft bounce reported",
    "complaint": "Complaint (marked as spam)",
}
DONE = {
    "suppressed": "suppressed: no more mail",
    "unsubscribed": "unsubscribed",
    "counted": "counted (below the soft bounce limit)",
    "none": "nothing to do: they had already left",
}


def _reported(report: BounceReport) -> Event:
    """A bounce or complaint about mail to them, with what it did."""
    edition = f"edition #{report.edition_id}; " if report.edition_id else ""
    cleared = "; cleared by an admin since" if report.cleared_at else ""
    detail = (
        f"{edition}{DONE.get(report.action, report.action)}; by {report.source}: "
        f"{report.detail}{cleared}"
    )
    tone = "warn" if report.action in ("counted", "none") or report.cleared_at else "bad"
    return Event(report.received_at, REPORTED.get(report.kind, report.kind), detail, tone)


def _list_page(
    request: Request,
    app: Application,
    who: Staff,
    chosen: SubscriberFilter,
    page: int,
    *,
    error: str = "",
) -> HTMLResponse:
    found = subscribers.find(app.engine, chosen, page=page)
    return render(
        request,
        app,
        "subscribers.html",
        staff=who,
        http_status=400 if error else 200,
        error=error,
        found=found,
        chosen=chosen,
        query=query_of(chosen),
        filter_values=filter_values(chosen),
        audience_count=audiences.count(app.engine, chosen),
        count_error=error,  # a filter with a mistake is not saved as an audience
        clicks_kept=app.settings.track_clicks == "individual",
        page_url=lambda n: "/admin/subscribers?" + query_of(chosen, page=n),
        statuses=subscribers.STATUSES,
        digests=list(app.timetable.digests),
        categories=categories_of(app),
        every_category=EVERY_CATEGORY,
    )


def _person_page(
    request: Request,
    app: Application,
    who: Staff,
    subscriber_id: int,
    *,
    errors: dict[str, str] | None = None,
    typed: dict[str, Any] | None = None,
    notice: str = "",
    refused: bool = False,
) -> HTMLResponse:
    found = subscribers.person(app.engine, subscriber_id)
    member = found.member
    current: dict[str, Any] = {
        "name": member.subscriber.name,
        "status": member.subscriber.status,
        "digests": list(member.digests),
        "categories": list(member.categories),
    }
    return render(
        request,
        app,
        "subscriber.html",
        staff=who,
        http_status=409 if refused else 400 if errors else 200,
        person=found,
        member=member,
        events=history(found),
        trail=trail.rows(found.trail),
        form=typed or current,
        errors=errors or {},
        notice=notice,
        refused=refused,
        statuses=[
            member.subscriber.status,
            *sorted(subscribers.ALLOWED[member.subscriber.status]),
        ],
        digests=list(app.timetable.digests),
        categories=categories_of(app),
    )


router = APIRouter()


@router.get("/subscribers", response_class=HTMLResponse)
def listing(
    request: Request,
    who: Staff = Depends(session.admin),
    page: int = 1,
    app: Application = Depends(application),
) -> HTMLResponse:
    """The subscribers matching the search and filters, a page at a time (400 on a filter
    no list offers, showing everyone's first page)."""
    try:
        chosen = chosen_filter(app, request.query_params)
    except InputError as exc:
        return _list_page(request, app, who, SubscriberFilter(), 1, error=exc.message)
    return _list_page(request, app, who, chosen, page)


@router.get("/subscribers/{subscriber_id}", response_class=HTMLResponse)
def person(
    request: Request,
    subscriber_id: SubscriberId,
    who: Staff = Depends(session.admin),
    app: Application = Depends(application),
) -> HTMLResponse:
    """One subscriber: the change form, their history and their trail."""
    notice = {
        "saved": "Saved.",
        "unchanged": "Nothing to change.",
        "confirming": "The confirmation mail is on its way; they are in once they follow its link.",
    }.get(request.query_params.get("done", ""), "")
    return _person_page(request, app, who, subscriber_id, notice=notice)


@router.post("/subscribers/{subscriber_id}", response_class=HTMLResponse)
async def change(
    request: Request,
    subscriber_id: SubscriberId,
    who: Staff = Depends(session.admin),
    app: Application = Depends(application),
) -> Response:
    """Their name, status, digests and categories changed; the form again with what was
    typed where a field is refused."""
    form = await request.form()
    name, status = str(form.get("name", "")), str(form.get("status", ""))
    digests = [str(d) for d in form.getlist("digest")]
    topics = [str(c) for c in form.getlist("category")]
    typed: dict[str, Any] = {
        "name": name,
        "status": status,
        "digests": digests,
        "categories": topics,
    }
    wanted = subscribers.Change(
        name=name,
        status=status or None,
        digests=digests,
        categories=topics,
        known_digests=list(app.timetable.digests),
    )
    try:
        await run_in_threadpool(
            subscribers.change,
            app.engine,
            subscriber_id,
            wanted,
            actor=who.email,
            now=app.clock(),
        )
    except subscribers.FieldsRefused as exc:
        return _person_page(request, app, who, subscriber_id, errors=exc.fields, typed=typed)
    return RedirectResponse(f"/admin/subscribers/{subscriber_id}?done=saved", status_code=303)


@router.post("/subscribers/{subscriber_id}/confirm-again", response_class=HTMLResponse)
async def confirm_again(
    request: Request,
    subscriber_id: SubscriberId,
    who: Staff = Depends(session.admin),
    app: Application = Depends(application),
) -> Response:
    """A pending person's confirmation mail, sent again (as many a day as sign-ups may
    send); their page says so, or why not."""
    found = await run_in_threadpool(subscribers.person, app.engine, subscriber_id)
    try:
        await run_in_threadpool(
            subscriptions.send_confirmation,
            app.engine,
            app.settings,
            app.signer,
            app.env,
            found.member.subscriber.email,
            actor=who.email,
            now=app.clock(),
        )
    except ConflictError as exc:
        notice = f"Nothing was sent: {exc.message}."
        return _person_page(request, app, who, subscriber_id, notice=notice, refused=True)
    app.courier.send_soon()
    return RedirectResponse(f"/admin/subscribers/{subscriber_id}?done=confirming", status_code=303)


@router.get("/subscribers/{subscriber_id}/remove", response_class=HTMLResponse)
def remove_page(
    request: Request,
    subscriber_id: SubscriberId,
    who: Staff = Depends(session.admin),
    app: Application = Depends(application),
) -> HTMLResponse:
    """The page that asks before removing them."""
    found = subscribers.person(app.engine, subscriber_id)
    return render(request, app, "subscriber_remove.html", staff=who, member=found.member)


@router.post("/subscribers/{subscriber_id}/remove", response_class=HTMLResponse)
def remove(
    request: Request,
    subscriber_id: SubscriberId,
    who: Staff = Depends(session.admin),
    app: Application = Depends(application),
) -> HTMLResponse:
    """They are removed: the page says so, with their trail."""
    email = subscribers.remove(app.engine, subscriber_id, actor=who.email, now=app.clock())
    return render(
        request,
        app,
        "subscriber_removed.html",
        staff=who,
        email=email,
        trail=trail.rows(subscribers.trail_of(app.engine, subscriber_id)),
    )
