"""The one application object: what every page, form and API call needs (the settings, the
database, the clock, the templates, the signer, the timetable, the feed cache, the daemon's
figures), built once by ``create_app`` and kept on the app's state. A handler reaches it with
``Depends(application)``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import Request
from jinja2 import Environment
from sqlalchemy import Engine

from publisher.schedules import Timetable
from publisher.sealing import Sealer
from publisher.settings import Settings
from publisher.syndication.feeds import FeedCache
from publisher.tokens import Signer

__all__ = ["Application", "Clock", "DaemonHooks", "application"]

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class DaemonHooks:
    """What the daemon running this app tells it (all None where no daemon runs beside it):
    the scheduler's state, its figures for the metrics, and the mail server's health ("ok", or
    since when the server has been unavailable)."""

    status: Callable[[], dict[str, Any]] | None = None
    counters: Callable[[], dict[str, int]] | None = None
    mail_status: Callable[[], str] | None = None


@dataclass(frozen=True)
class Application:
    """Everything the web side needs; ``clock`` is its only source of "now"."""

    settings: Settings
    engine: Engine
    clock: Clock
    env: Environment
    signer: Signer
    timetable: Timetable
    feeds: FeedCache
    daemon: DaemonHooks = DaemonHooks()
    # With it, the mail a sign-up queues is sent straight after the answer too (else only the
    # daemon's outbox worker sends it).
    send_mail_now: bool = False

    def sealer(self, purpose: str) -> Sealer:
        """Seals secrets kept in the database for ``purpose`` (the second factor's: "totp")."""
        return Sealer.of(self.settings.secret_key, purpose)


def application(request: Request) -> Application:
    """The dependency every handler takes: the app's one :class:`Application`."""
    found: Application = request.app.state.application
    return found
