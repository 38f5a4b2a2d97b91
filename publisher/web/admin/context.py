"""What every newsroom page needs, passed in once: the settings, the database, the clock,
the templates and the signer; and the one way a newsroom page is rendered."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment
from sqlalchemy import Engine

from publisher import store
from publisher.newsroom.staff import Staff
from publisher.schedules import Timetable
from publisher.sealing import Sealer
from publisher.settings import Settings
from publisher.tokens import Signer
from publisher.web.admin.session import csrf_token


@dataclass(frozen=True)
class Newsroom:
    settings: Settings
    engine: Engine
    clock: Callable[[], datetime]
    env: Environment
    signer: Signer
    timetable: Timetable
    # The daemon's SMTP state ("ok", or since when the server has been unavailable), as
    # /healthz has it; None where this process sends no mail.
    mail_status: Callable[[], str] | None = None

    def inbox_waiting(self) -> int:
        """New items in the inbox (the count beside its name in the navigation)."""
        with store.reading(self.engine) as session:
            return sum(store.item_counts(session, status="new").values())

    @property
    def sealer(self) -> Sealer:
        """Seals the second factor's secrets in the database."""
        return Sealer.of(self.settings.secret_key, "totp")

    def page(
        self,
        request: Request,
        template: str,
        /,
        *,
        staff: Staff | None,
        http_status: int = 200,
        **values: Any,
    ) -> HTMLResponse:
        """``templates/admin/TEMPLATE`` with the person, the form token and the site."""
        html = self.env.get_template(f"admin/{template}").render(
            settings=self.settings,
            staff=staff,
            csrf=csrf_token(request),
            path=request.url.path,
            inbox_waiting=self.inbox_waiting,
            **values,
        )
        return HTMLResponse(html, status_code=http_status)
