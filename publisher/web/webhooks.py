"""``POST /webhooks/bounces/{provider}``: sending services' bounce and complaint events
(issue 28). Off (404) until the provider is configured; a request whose signature is missing
or wrong is 401, a replay 409, a stale or malformed one 400, each logged with why."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from publisher.delivery import webhooks
from publisher.web.application import Application, application

__all__ = ["bounce_webhook", "router"]

log = logging.getLogger(__name__)

router = APIRouter()


@router.post("/webhooks/bounces/{provider}", include_in_schema=False)
async def bounce_webhook(
    provider: str, request: Request, app: Application = Depends(application)
) -> JSONResponse:
    """One provider's events, checked and acted on."""
    if provider not in webhooks.PROVIDERS or not webhooks.configured(app.settings, provider):
        return JSONResponse({"error": f"no {provider} webhook here"}, status_code=404)
    body = await request.body()
    headers = {k.lower(): v for k, v in request.headers.items()}
    try:
        received = await run_in_threadpool(
            webhooks.receive, app.engine, app.settings, provider, body, headers, now=app.clock()
        )
    except webhooks.Refused as exc:
        log.warning("%s webhook refused: %s", provider, exc.message)
        return JSONResponse({"error": exc.message}, status_code=exc.status)
    return JSONResponse(received.as_json())
