"""The community forms: sign up and confirm, "Your subscription" links, unsubscribe and
preferences. Every GET behind a link in mail only shows a button: link scanners follow GET
links (docs/security.md), and would use up a link or unsubscribe a reader."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from publisher.community import links, subscriptions
from publisher.errors import InputError
from publisher.tokens import TokenError
from publisher.web.courier import Courier
from publisher.web.guards import ClientLimit
from publisher.web.pages import FORM_LIMITS, Context, client_host


def router(ctx: Context, courier: Courier) -> APIRouter:
    """``/subscribe``, ``/confirm/…``, ``/subscription…``, ``/unsubscribe/…`` and
    ``/preferences/…``; each sign-up or link request is queued and sent by ``courier``."""
    forms = APIRouter()
    _signup(forms, ctx, courier)
    _access(forms, ctx, courier)
    _unsubscribe(forms, ctx)
    _preferences(forms, ctx)
    return forms


def _signup(forms: APIRouter, ctx: Context, courier: Courier) -> None:
    limiter = ClientLimit(per_window=10, window=600.0)

    @forms.get("/subscribe", response_class=HTMLResponse)
    def subscribe_page() -> HTMLResponse:
        return ctx.page("subscribe.html", done=False, **ctx.join_form())

    @forms.post("/subscribe", response_class=HTMLResponse)
    async def subscribe(request: Request) -> HTMLResponse:
        form = await request.form(**FORM_LIMITS)
        email, name = str(form.get("email", "")), str(form.get("name", ""))
        topics = [str(value) for value in form.getlist("category")]
        values: dict[str, Any] = {
            **(await run_in_threadpool(ctx.join_form)),
            "email": email,
            "name": name,
            "chosen_topics": topics,
        }
        if not limiter.allow(client_host(request), time.monotonic()):
            values["error"] = "Too many sign-ups from here; please try again later."
            return ctx.page("subscribe.html", http_status=429, done=False, **values)
        if form.get("website"):  # the honeypot: people never see it
            return ctx.page("subscribe.html", done=True, **values)
        try:
            # Queued, not sent: the answer waits on no mail server and tells nothing.
            await run_in_threadpool(
                subscriptions.signup,
                ctx.engine,
                ctx.settings,
                ctx.signer,
                ctx.env,
                email,
                name=name,
                digests=[str(d) for d in form.getlist("digest")],
                known_digests=list(ctx.timetable.digests),
                categories=topics,
                now=ctx.clock(),
            )
        except InputError as exc:
            values["error"] = exc.message
            return ctx.page("subscribe.html", http_status=400, done=False, **values)
        courier.send_soon()
        return ctx.page("subscribe.html", done=True, **values)

    @forms.get("/confirm/{token}", response_class=HTMLResponse)
    def confirm_page(token: str) -> HTMLResponse:
        view = subscriptions.member(ctx.engine, ctx.signer, "confirm", token, now=ctx.clock())
        return ctx.page(
            "confirm.html",
            done=view.used and view.subscriber.status == "confirmed",
            email=view.subscriber.email,
            preferences_url=ctx.preferences_url(view),
        )

    @forms.post("/confirm/{token}", response_class=HTMLResponse)
    def confirm(token: str) -> HTMLResponse:
        view = subscriptions.confirm(ctx.engine, ctx.signer, token, now=ctx.clock())
        answer = ctx.page(
            "confirm.html",
            done=True,
            email=view.subscriber.email,
            preferences_url=ctx.preferences_url(view),
        )
        return ctx.remember_member(answer, view)


def _access(forms: APIRouter, ctx: Context, courier: Courier) -> None:
    limiter = ClientLimit(per_window=10, window=600.0)

    def answer(
        email: str, *, done: bool = False, error: str = "", status: int = 200
    ) -> HTMLResponse:
        return ctx.page(
            "subscription.html", http_status=status, done=done, email=email, error=error
        )

    @forms.get("/subscription", response_class=HTMLResponse)
    def subscription_page() -> HTMLResponse:
        return answer("")

    @forms.post("/subscription", response_class=HTMLResponse)
    async def subscription(request: Request) -> HTMLResponse:
        form = await request.form()
        email = str(form.get("email", ""))
        if not limiter.allow(client_host(request), time.monotonic()):
            return answer(
                email, error="Too many requests from here; please try again later.", status=429
            )
        if form.get("website"):  # the honeypot: people never see it
            return answer(email, done=True)
        try:
            # Queued, not sent: the same work and the same answer for members and strangers.
            await run_in_threadpool(
                subscriptions.request_access,
                ctx.engine,
                ctx.settings,
                ctx.signer,
                ctx.env,
                email,
                now=ctx.clock(),
            )
        except InputError as exc:
            return answer(email, error=exc.message, status=400)
        courier.send_soon()
        return answer(email, done=True)

    @forms.get("/subscription/{token}", response_class=HTMLResponse)
    def subscription_link(token: str) -> HTMLResponse:
        # A link that works once: a GET must not use it up.
        view = subscriptions.member(ctx.engine, ctx.signer, "access", token, now=ctx.clock())
        if view.used:
            raise TokenError("this link has been used already: ask for a new one at /subscription")
        return ctx.page("subscription_open.html", email=view.subscriber.email)

    @forms.post("/subscription/{token}")
    def subscription_open(token: str) -> Response:
        preferences = subscriptions.open_access(ctx.engine, ctx.signer, token, now=ctx.clock())
        return RedirectResponse(f"/preferences/{preferences}", status_code=303)


def _unsubscribe(forms: APIRouter, ctx: Context) -> None:
    def unsubscribe_view(view: subscriptions.SubscriberView, *, done: bool) -> HTMLResponse:
        response = ctx.page(
            "unsubscribe.html",
            done=done,
            email=view.subscriber.email,
            preferences_url=ctx.preferences_url(view),
        )
        return ctx.remember_member(response, view) if done else response

    @forms.get("/unsubscribe/{token}", response_class=HTMLResponse)
    def unsubscribe_page(token: str) -> HTMLResponse:
        if links.is_test_link(ctx.signer, token, now=ctx.clock()):
            return ctx.page("test_link.html", what="unsubscribe")
        view = subscriptions.member(ctx.engine, ctx.signer, "unsubscribe", token, now=ctx.clock())
        return unsubscribe_view(view, done=view.subscriber.status == "unsubscribed")

    @forms.post("/unsubscribe/{token}", response_class=HTMLResponse)
    def unsubscribe(token: str) -> HTMLResponse:
        # RFC 8058 one-click: a POST with List-Unsubscribe=One-Click, no cookie, no login, no
        # redirect. The page's own button posts here too; either body unsubscribes.
        if links.is_test_link(ctx.signer, token, now=ctx.clock()):  # a test send's: nobody
            return ctx.page("test_link.html", what="unsubscribe")
        view = subscriptions.unsubscribe(ctx.engine, ctx.signer, token, now=ctx.clock())
        return unsubscribe_view(view, done=True)


def _preferences(forms: APIRouter, ctx: Context) -> None:
    @forms.post("/preferences/{token}/sign-out", response_class=HTMLResponse)
    def sign_out(token: str) -> HTMLResponse:
        if links.is_test_link(ctx.signer, token, now=ctx.clock()):
            return ctx.page("test_link.html", what="preferences")
        email = subscriptions.sign_out_everywhere(ctx.engine, ctx.signer, token, now=ctx.clock())
        return ctx.page("signed_out.html", email=email)

    @forms.get("/preferences/{token}", response_class=HTMLResponse)
    def preferences_page(token: str) -> HTMLResponse:
        if links.is_test_link(ctx.signer, token, now=ctx.clock()):
            return ctx.page("test_link.html", what="preferences")
        view = subscriptions.member(ctx.engine, ctx.signer, "preferences", token, now=ctx.clock())
        return _preferences_view(ctx, view, token, saved=False)

    @forms.post("/preferences/{token}", response_class=HTMLResponse)
    async def preferences(token: str, request: Request) -> HTMLResponse:
        if links.is_test_link(ctx.signer, token, now=ctx.clock()):
            return ctx.page("test_link.html", what="preferences")
        form = await request.form(**FORM_LIMITS)
        digests = [str(value) for value in form.getlist("digest")]
        topics = [str(value) for value in form.getlist("category")]
        return await run_in_threadpool(_save_preferences, ctx, token, digests, topics)


def _save_preferences(
    ctx: Context, token: str, digests: list[str], topics: list[str]
) -> HTMLResponse:
    try:
        view = subscriptions.set_preferences(
            ctx.engine,
            ctx.signer,
            token,
            digests,
            known_digests=list(ctx.timetable.digests),
            categories=topics,
            now=ctx.clock(),
        )
    except InputError as exc:  # a category that is not offered: nothing was changed
        view = subscriptions.member(ctx.engine, ctx.signer, "preferences", token, now=ctx.clock())
        return _preferences_view(ctx, view, token, saved=False, error=exc.message, http_status=400)
    return _preferences_view(ctx, view, token, saved=True)


def _preferences_view(
    ctx: Context,
    view: subscriptions.SubscriberView,
    token: str,
    *,
    saved: bool,
    error: str = "",
    http_status: int = 200,
) -> HTMLResponse:
    response = ctx.page(
        "preferences.html",
        http_status=http_status,
        email=view.subscriber.email,
        status=view.subscriber.status,
        chosen=view.digests,
        digests=list(ctx.timetable.digests.items()),
        topics=subscriptions.categories(ctx.engine, view.categories, now=ctx.clock()),
        chosen_topics=view.categories,
        saved=saved,
        error=error,
        sign_out_url=f"/preferences/{token}/sign-out",
    )
    return ctx.remember_member(response, view)
