"""The sign-in of the newsroom's htmx polls (the dashboard's live figures, an edition's
progress): once the session has ended, a poll must not swap the sign-in page into the page
it updates, so it is answered with a note that stops the polling instead. A poll is no
activity: a page left open keeps polling, and its session still ends after
PUBLISHER_ADMIN_IDLE_MINUTES without anything done."""

from __future__ import annotations

from functools import partial

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from publisher.newsroom.staff import Staff
from publisher.web.admin import session
from publisher.web.application import Application, application

__all__ = ["STOP_POLLING", "poller"]

# htmx stops polling when an answer has this status (and swaps it in like a 200).
STOP_POLLING = 286


async def poller(request: Request, app: Application = Depends(application)) -> Staff | None:
    """The dependency of a poll: the signed-in person, or None for an htmx poll that comes
    after the session ended (to answer with STOP_POLLING); SignInNeeded for any other
    request without a session. An htmx poll does not keep the session from going idle."""
    polled = request.headers.get("hx-request") == "true"
    who = await run_in_threadpool(
        partial(session.current, active=not polled),
        request,
        app.engine,
        app.settings,
        now=app.clock(),
    )
    if who is None and not polled:
        raise session.SignInNeeded()
    if who is not None and not who.is_editor:  # the queue and sends are not a contributor's
        raise session.NotAllowed(session.CONTRIBUTORS)
    request.state.staff = who
    return who
