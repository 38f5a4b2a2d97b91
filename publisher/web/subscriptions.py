"""The community forms: sign up and confirm, "Your subscription" links, unsubscribe and
preferences. Every GET behind a link in mail only shows a button: link scanners follow GET
links (docs/security.md), and would use up a link or unsubscribe a reader."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from publisher.community import links, subscriptions
from publisher.errors import InputError
from publisher.languages import N_
from publisher.tokens import TokenError
from publisher.web.application import Application, application
from publisher.web.pages import (
    FORM_LIMITS,
    client_host,
    join_form,
    preferences_url,
    reader_language,
    reader_message,
    remember_member,
    render,
)

__all__ = [
    "confirm",
    "confirm_page",
    "preferences",
    "preferences_page",
    "router",
    "sign_out",
    "subscribe",
    "subscribe_page",
    "subscription",
    "subscription_link",
    "subscription_open",
    "subscription_page",
    "unsubscribe",
    "unsubscribe_page",
]

router = APIRouter()


# ------------------------------------------------------------------ sign up and confirm


@router.get("/subscribe", response_class=HTMLResponse)
def subscribe_page(app: Application = Depends(application)) -> HTMLResponse:
    """The sign-up form, empty."""
    return render(app, "subscribe.html", done=False, **join_form(app))


@router.post("/subscribe", response_class=HTMLResponse)
async def subscribe(request: Request, app: Application = Depends(application)) -> HTMLResponse:
    """Sign up: queued, never sent in the answer, and the same answer whoever the address is;
    ten a client in ten minutes."""
    form = await request.form(**FORM_LIMITS)
    email, name = str(form.get("email", "")), str(form.get("name", ""))
    topics = [str(value) for value in form.getlist("category")]
    # The language the reader picked (the page's own when the form has no choice).
    language = str(form.get("language", "")) or reader_language(app)
    tags = [str(value) for value in form.getlist("story_language")]
    values: dict[str, Any] = {
        **(await run_in_threadpool(join_form, app)),
        "email": email,
        "name": name,
        "chosen_topics": topics,
        "chosen_languages": tags,
        "chosen_language": language,
    }
    if not app.limits.signups.allow(client_host(request), time.monotonic()):
        values["error"] = reader_message(
            app, N_("Too many sign-ups from here; please try again later."), language
        )
        return render(app, "subscribe.html", http_status=429, done=False, **values)
    if form.get("website"):  # the honeypot: people never see it
        return render(app, "subscribe.html", done=True, **values)
    digests = [str(d) for d in form.getlist("digest")]
    try:
        # Queued, not sent: the answer waits on no mail server and tells nothing.
        await run_in_threadpool(_sign_up, app, email, name, digests, topics, language, tags)
    except InputError as exc:
        values["error"] = reader_message(app, exc.message, language)
        return render(app, "subscribe.html", http_status=400, done=False, **values)
    app.courier.send_soon()
    return render(app, "subscribe.html", done=True, **values)


def _sign_up(
    app: Application,
    email: str,
    name: str,
    digests: list[str],
    topics: list[str],
    language: str,
    tags: list[str],
) -> None:
    subscriptions.signup(
        app.engine,
        app.settings,
        app.signer,
        app.env,
        email,
        name=name,
        digests=digests,
        known_digests=list(app.timetable.digests),
        categories=topics,
        language=language,
        languages=tags,
        now=app.clock(),
    )


def _language_of(app: Application, view: subscriptions.SubscriberView) -> str:
    """The language a member's pages speak: theirs, else their browser's."""
    return view.subscriber.language or reader_language(app)


@router.get("/confirm/{token}", response_class=HTMLResponse)
def confirm_page(token: str, app: Application = Depends(application)) -> HTMLResponse:
    """The confirmation link's page: a button, since a GET must not confirm."""
    view = subscriptions.member(app.engine, app.signer, "confirm", token, now=app.clock())
    return render(
        app,
        "confirm.html",
        locale=_language_of(app, view),
        done=view.used and view.subscriber.status == "confirmed",
        email=view.subscriber.email,
        preferences_url=preferences_url(app, view),
    )


@router.post("/confirm/{token}", response_class=HTMLResponse)
def confirm(token: str, app: Application = Depends(application)) -> HTMLResponse:
    """Confirm a sign-up; the browser is remembered as a member's."""
    view = subscriptions.confirm(app.engine, app.signer, token, now=app.clock())
    answer = render(
        app,
        "confirm.html",
        locale=_language_of(app, view),
        done=True,
        email=view.subscriber.email,
        preferences_url=preferences_url(app, view),
    )
    return remember_member(app, answer, view)


# ------------------------------------------------------------ "Your subscription" links


def _subscription_answer(
    app: Application, email: str, *, done: bool = False, error: str = "", status: int = 200
) -> HTMLResponse:
    return render(app, "subscription.html", http_status=status, done=done, email=email, error=error)


@router.get("/subscription", response_class=HTMLResponse)
def subscription_page(app: Application = Depends(application)) -> HTMLResponse:
    """The form that asks for a link to one's subscription."""
    return _subscription_answer(app, "")


@router.post("/subscription", response_class=HTMLResponse)
async def subscription(request: Request, app: Application = Depends(application)) -> HTMLResponse:
    """Send a link to the subscription of an address: queued, and the same work and answer
    for members and strangers; ten a client in ten minutes."""
    form = await request.form()
    email = str(form.get("email", ""))
    if not app.limits.access_links.allow(client_host(request), time.monotonic()):
        return _subscription_answer(
            app,
            email,
            error=reader_message(app, N_("Too many requests from here; please try again later.")),
            status=429,
        )
    if form.get("website"):  # the honeypot: people never see it
        return _subscription_answer(app, email, done=True)
    try:
        # Queued, not sent: the same work and the same answer for members and strangers.
        await run_in_threadpool(
            subscriptions.request_access,
            app.engine,
            app.settings,
            app.signer,
            app.env,
            email,
            now=app.clock(),
        )
    except InputError as exc:
        return _subscription_answer(app, email, error=reader_message(app, exc.message), status=400)
    app.courier.send_soon()
    return _subscription_answer(app, email, done=True)


@router.get("/subscription/{token}", response_class=HTMLResponse)
def subscription_link(token: str, app: Application = Depends(application)) -> HTMLResponse:
    """The access link's page: a button, since the link works once and a GET must not use
    it up."""
    view = subscriptions.member(app.engine, app.signer, "access", token, now=app.clock())
    if view.used:
        raise TokenError(N_("this link has been used already: ask for a new one at /subscription"))
    return render(
        app,
        "subscription_open.html",
        locale=_language_of(app, view),
        email=view.subscriber.email,
    )


@router.post("/subscription/{token}")
def subscription_open(token: str, app: Application = Depends(application)) -> Response:
    """Use the access link: on to the member's preferences."""
    preferences = subscriptions.open_access(app.engine, app.signer, token, now=app.clock())
    return RedirectResponse(f"/preferences/{preferences}", status_code=303)


# ------------------------------------------------------------------------- unsubscribe


def _unsubscribe_view(
    app: Application, view: subscriptions.SubscriberView, *, done: bool
) -> HTMLResponse:
    response = render(
        app,
        "unsubscribe.html",
        locale=_language_of(app, view),
        done=done,
        email=view.subscriber.email,
        preferences_url=preferences_url(app, view),
    )
    return remember_member(app, response, view) if done else response


@router.get("/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe_page(token: str, app: Application = Depends(application)) -> HTMLResponse:
    """The unsubscribe link's page: a button (a test send's link: a page saying so)."""
    if links.is_test_link(app.signer, token, now=app.clock()):
        return render(app, "test_link.html", what="unsubscribe")
    view = subscriptions.member(app.engine, app.signer, "unsubscribe", token, now=app.clock())
    return _unsubscribe_view(app, view, done=view.subscriber.status == "unsubscribed")


@router.post("/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe(token: str, app: Application = Depends(application)) -> HTMLResponse:
    """Unsubscribe: the page's button, and RFC 8058 one-click from a mail program."""
    # RFC 8058 one-click: a POST with List-Unsubscribe=One-Click, no cookie, no login, no
    # redirect. The page's own button posts here too; either body unsubscribes.
    if links.is_test_link(app.signer, token, now=app.clock()):  # a test send's: nobody
        return render(app, "test_link.html", what="unsubscribe")
    view = subscriptions.unsubscribe(app.engine, app.signer, token, now=app.clock())
    return _unsubscribe_view(app, view, done=True)


# ------------------------------------------------------------------------- preferences


@router.post("/preferences/{token}/sign-out", response_class=HTMLResponse)
def sign_out(token: str, app: Application = Depends(application)) -> HTMLResponse:
    """End every preferences link of the member (a lost or shared mail)."""
    if links.is_test_link(app.signer, token, now=app.clock()):
        return render(app, "test_link.html", what="preferences")
    email = subscriptions.sign_out_everywhere(app.engine, app.signer, token, now=app.clock())
    return render(app, "signed_out.html", email=email)


@router.get("/preferences/{token}", response_class=HTMLResponse)
def preferences_page(token: str, app: Application = Depends(application)) -> HTMLResponse:
    """The member's digests and topics, as a form."""
    if links.is_test_link(app.signer, token, now=app.clock()):
        return render(app, "test_link.html", what="preferences")
    view = subscriptions.member(app.engine, app.signer, "preferences", token, now=app.clock())
    return _preferences_view(app, view, token, saved=False)


@router.post("/preferences/{token}", response_class=HTMLResponse)
async def preferences(
    token: str, request: Request, app: Application = Depends(application)
) -> HTMLResponse:
    """Save the member's digests and topics."""
    if links.is_test_link(app.signer, token, now=app.clock()):
        return render(app, "test_link.html", what="preferences")
    form = await request.form(**FORM_LIMITS)
    digests = [str(value) for value in form.getlist("digest")]
    topics = [str(value) for value in form.getlist("category")]
    # The checkbox sends nothing when unticked: "breaking-shown" says the form had it.
    breaking = form.get("breaking") == "on" if form.get("breaking-shown") == "1" else None
    # A form without the language fields (an older page) leaves them as they are.
    language = str(form["language"]) if "language" in form else None
    tags = [str(v) for v in form.getlist("story_language")] if "languages" in form else None
    choices = (digests, topics, breaking, language, tags)
    return await run_in_threadpool(_save_preferences, app, token, *choices)


def _save_preferences(
    app: Application,
    token: str,
    digests: list[str],
    topics: list[str],
    breaking: bool | None,
    language: str | None = None,
    tags: list[str] | None = None,
) -> HTMLResponse:
    try:
        view = subscriptions.set_preferences(
            app.engine,
            app.signer,
            token,
            digests,
            known_digests=list(app.timetable.digests),
            categories=topics,
            breaking=breaking,
            language=language,
            languages=tags,
            now=app.clock(),
        )
    except InputError as exc:  # a category or language not offered: nothing was changed
        view = subscriptions.member(app.engine, app.signer, "preferences", token, now=app.clock())
        return _preferences_view(app, view, token, saved=False, error=exc.message, http_status=400)
    return _preferences_view(app, view, token, saved=True)


def _preferences_view(
    app: Application,
    view: subscriptions.SubscriberView,
    token: str,
    *,
    saved: bool,
    error: str = "",
    http_status: int = 200,
) -> HTMLResponse:
    facts_now = join_form(app)
    chosen_languages = view.subscriber.languages.split()
    response = render(
        app,
        "preferences.html",
        locale=_language_of(app, view),
        http_status=http_status,
        chosen_language=view.subscriber.language,
        catalogs=facts_now["catalogs"],
        story_languages=sorted({*facts_now["story_languages"], *chosen_languages}),
        chosen_languages=chosen_languages,
        email=view.subscriber.email,
        status=view.subscriber.status,
        chosen=view.digests,
        digests=list(app.timetable.digests.items()),
        topics=subscriptions.categories(app.engine, view.categories, now=app.clock()),
        chosen_topics=view.categories,
        breaking=view.subscriber.breaking,
        saved=saved,
        error=error,
        sign_out_url=f"/preferences/{token}/sign-out",
    )
    return remember_member(app, response, view)
