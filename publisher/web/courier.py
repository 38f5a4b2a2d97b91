"""Sending the outbox straight after an answer, apart from it (``send_mail_now``)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from publisher.delivery import outbox
from publisher.settings import Settings

__all__ = ["Courier"]

log = logging.getLogger(__name__)


class Courier:
    """Sends the outbox in a worker thread after an answer; with ``enabled`` false it does
    nothing and the daemon's outbox worker alone sends. A failure is logged, never lost: the
    mail stays queued for the worker."""

    def __init__(
        self, engine: Engine, settings: Settings, clock: Callable[[], datetime], *, enabled: bool
    ) -> None:
        self.engine, self.settings, self.clock, self.enabled = engine, settings, clock, enabled
        self._sending: set[asyncio.Task[Any]] = set()

    def send_soon(self) -> None:
        """Send the outbox now, after and apart from the answer (which never waits on the
        mail server); done after every sign-up or link request, mail queued or not, so that
        not even what follows the answer tells who is a member. The daemon's outbox worker
        sends whatever this misses."""
        if not self.enabled:
            return
        task = asyncio.create_task(
            run_in_threadpool(outbox.send_due, self.engine, self.settings, now=self.clock())
        )
        self._sending.add(task)
        task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[Any]) -> None:
        self._sending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("outbox: sending failed (the daemon tries again): %s", task.exception())
