"""Health and metrics for operators: ``/healthz`` and the Prometheus ``/metrics``."""

from __future__ import annotations

import hmac
import logging
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from publisher import store
from publisher.delivery import mailbox, metrics
from publisher.errors import PublisherError
from publisher.schedules import Timetable
from publisher.web.application import Application, application

__all__ = ["bounce_mailbox", "healthz", "next_sends", "prometheus", "router"]

log = logging.getLogger(__name__)

router = APIRouter()


@router.get("/metrics", include_in_schema=False)
def prometheus(
    authorization: Annotated[str, Header()] = "",
    app: Application = Depends(application),
) -> Response:
    """The queue and the editions, read from the database, and this process's own figures;
    with ``PUBLISHER_METRICS_TOKEN`` set, only for ``Authorization: Bearer <token>``."""
    token = app.settings.metrics_token.get_secret_value()
    expected = f"Bearer {token}".encode()
    if token and not hmac.compare_digest(authorization.encode(), expected):
        return PlainTextResponse(
            "/metrics needs Authorization: Bearer <PUBLISHER_METRICS_TOKEN>\n",
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    # The registry reads everything at scrape time and keeps nothing: one per scrape.
    scrape = metrics.registry(app.engine, app.process_counters, app.clock)
    return Response(metrics.render(scrape), media_type=metrics.CONTENT_TYPE)


@router.get("/healthz")
def healthz(app: Application = Depends(application)) -> JSONResponse:
    """Database reachable, the timetable's clock running, each digest's next send."""
    body: dict[str, Any] = {"status": "ok", "database": "ok", "scheduler": "off"}
    try:
        store.ping(app.engine)
    except PublisherError as exc:
        log.warning("/healthz: %s", exc.message)  # the URL and reason: for ops, in the log
        body.update(status="error", database="unavailable")
    if app.daemon.mail_status is not None:  # informative: the web side is still healthy
        body["smtp"] = app.daemon.mail_status()
    if app.settings.bounce_mailbox_url is not None and body["database"] == "ok":
        body["bounce_mailbox"] = bounce_mailbox(app)  # informative too
    if app.daemon.status is not None:  # the daemon's scheduler runs beside this app
        body.update(app.daemon.status())
        if body["scheduler"] != "running":
            body["status"] = "error"
    else:
        body["digests"] = next_sends(app.timetable, app.clock())
    return JSONResponse(body, status_code=200 if body["status"] == "ok" else 503)


def bounce_mailbox(app: Application) -> dict[str, Any]:
    """The bounce mailbox: ok, or down since when (issue 28). Why is for operators: in the
    log and on the dashboard, not on this public page (it names the mail server)."""
    health = mailbox.health(app.engine, app.settings)
    if not health.down:
        return {"status": "ok"}
    since = health.since.isoformat() if health.since else ""
    return {"status": "down", "since": since, "failed_polls": health.failures}


def next_sends(timetable: Timetable, now: datetime) -> dict[str, dict[str, str]]:
    """Each digest's next send time after ``now`` (``now`` itself if it has none)."""
    return {
        name: {"next_send": next(iter(d.next_times(now, 1)), now).isoformat()}
        for name, d in timetable.digests.items()
    }
