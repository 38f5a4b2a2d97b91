"""Health and metrics for operators: ``/healthz`` and the Prometheus ``/metrics``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Engine

from publisher import store
from publisher.delivery import metrics
from publisher.errors import PublisherError
from publisher.schedules import Timetable
from publisher.syndication import feeds
from publisher.web.pages import Clock

log = logging.getLogger(__name__)


def router(
    engine: Engine,
    timetable: Timetable,
    clock: Clock,
    cache: feeds.FeedCache,
    *,
    status: Callable[[], dict[str, Any]] | None = None,
    counters: Callable[[], dict[str, int]] | None = None,
    mail_status: Callable[[], str] | None = None,
) -> APIRouter:
    """``status`` is the daemon's scheduler state (None: no scheduler here), ``counters`` its
    figures for the metrics, ``mail_status`` the SMTP health."""
    health = APIRouter()
    scrape = metrics.registry(
        engine, lambda: {**(counters() if counters else {}), "feed_builds": cache.builds}, clock
    )

    @health.get("/metrics", include_in_schema=False)
    def prometheus() -> Response:
        return Response(metrics.render(scrape), media_type=metrics.CONTENT_TYPE)

    @health.get("/healthz")
    def healthz() -> JSONResponse:
        """Database reachable, the timetable's clock running, each digest's next send."""
        body: dict[str, Any] = {"status": "ok", "database": "ok", "scheduler": "off"}
        try:
            store.ping(engine)
        except PublisherError as exc:
            log.warning("/healthz: %s", exc.message)  # the URL and reason: for ops, in the log
            body.update(status="error", database="unavailable")
        if mail_status is not None:  # informative: the web side is still healthy
            body["smtp"] = mail_status()
        if status is not None:
            body.update(status())
            if body["scheduler"] != "running":
                body["status"] = "error"
        else:
            body["digests"] = next_sends(timetable, clock())
        return JSONResponse(body, status_code=200 if body["status"] == "ok" else 503)

    return health


def next_sends(timetable: Timetable, now: datetime) -> dict[str, dict[str, str]]:
    """Each digest's next send time after ``now`` (``now`` itself if it has none)."""
    return {
        name: {"next_send": next(iter(d.next_times(now, 1)), now).isoformat()}
        for name, d in timetable.digests.items()
    }
