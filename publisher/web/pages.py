"""What every reader page shares: the dependencies its router is built from (``Context``),
rendering a page, the "Join The Community" form's values, the member cookie and form limits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment
from sqlalchemy import Engine

from publisher.community import subscriptions
from publisher.schedules import Timetable
from publisher.settings import Settings
from publisher.tokens import Signer
from publisher.web.feeds import discovery_links

Clock = Callable[[], datetime]
MEMBER_COOKIE = "member"
# Reader forms have a handful of short fields and never a file (Starlette's own defaults are
# 1,000 fields and files of any number); PUBLISHER_MAX_BODY_BYTES caps the whole body.
FORM_LIMITS: dict[str, Any] = {"max_files": 0, "max_fields": 300, "max_part_size": 256 * 1024}


@dataclass(frozen=True)
class Context:
    """The dependencies of the reader routers; ``clock`` is their only source of "now"."""

    settings: Settings
    engine: Engine
    clock: Clock
    env: Environment
    signer: Signer
    timetable: Timetable
    feed_links: list[tuple[str, str, str]] = field(default_factory=list)

    @classmethod
    def of(
        cls,
        settings: Settings,
        engine: Engine,
        clock: Clock,
        env: Environment,
        timetable: Timetable,
    ) -> Context:
        signer = Signer.of(settings.secret_key)
        links = discovery_links(settings)
        return cls(settings, engine, clock, env, signer, timetable, links)

    def page(self, template: str, /, *, http_status: int = 200, **values: Any) -> HTMLResponse:
        """``templates/pages/TEMPLATE`` rendered with the settings and the feeds' links."""
        values.setdefault("feed_links", self.feed_links)
        html = self.env.get_template(f"pages/{template}").render(settings=self.settings, **values)
        return HTMLResponse(html, status_code=http_status)

    def join_form(self) -> dict[str, Any]:
        """The values of an empty "Join The Community" form (index, story and sign-up pages)."""
        return {
            "error": "",
            "email": "",
            "name": "",
            "digests": list(self.timetable.digests.items()),
            "topics": subscriptions.categories(self.engine, now=self.clock()),
            "chosen_topics": (),
        }

    def remember_member(
        self, response: HTMLResponse, view: subscriptions.SubscriberView
    ) -> HTMLResponse:
        """Story pages leave the join form out for a browser that confirmed or opened its
        preferences. The cookie says only "a member reads here" (the same value for everyone,
        never who): it hides a form, and nothing depends on it for security."""
        if view.subscriber.status == "confirmed":
            response.set_cookie(
                MEMBER_COOKIE,
                "1",
                max_age=365 * 86400,
                httponly=True,
                samesite="lax",
                secure=self.settings.site_url.startswith("https:"),
            )
        else:
            response.delete_cookie(MEMBER_COOKIE)
        return response

    def preferences_url(self, view: subscriptions.SubscriberView) -> str:
        token = subscriptions.preferences_token(self.signer, view, now=self.clock())
        return f"/preferences/{token}"


def is_member(request: Request) -> bool:
    return request.cookies.get(MEMBER_COOKIE) == "1"


def client_host(request: Request) -> str:
    """The client's address, as the per-client limits count it."""
    return request.client.host if request.client else "?"
