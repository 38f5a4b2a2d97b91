"""``/r/{token}``: a tracked link in a digest, redirected to its story and counted once per
reader (``publisher.clicks``). A forged or altered token is a 404, never an open redirect."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from publisher.editions import clicks
from publisher.web.application import Application, application

__all__ = ["follow", "router"]

router = APIRouter()


@router.api_route("/r/{token}", methods=["GET", "HEAD"], include_in_schema=False)
async def follow(
    token: str, request: Request, m: str = "", app: Application = Depends(application)
) -> RedirectResponse:
    """Count the click (``m``: the reader's tag) and redirect to the link's story."""
    followed = await run_in_threadpool(
        clicks.follow,
        app.engine,
        app.tracker,
        token,
        tag=m,
        method=request.method,
        user_agent=request.headers.get("user-agent", ""),
        now=app.clock(),
    )
    # 302 and no-store: every click reaches us (a cached 301 would not be counted), and
    # the reader tag in this URL is not passed on to the story's site.
    return RedirectResponse(
        followed.url,
        status_code=302,
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )
