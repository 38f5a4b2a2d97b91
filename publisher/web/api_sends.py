"""The admin API's one-off sends and audiences (issue 27): ``/api/sends/story``,
``/api/sends/message`` and ``/api/sends/test`` (editors and admins), ``/api/audiences``
(admins). Guarded like the rest of /api/ (``api.authorised`` and ``api.Gate``)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from publisher import store
from publisher.community import audiences
from publisher.editions import one_off, sends
from publisher.web.api import actor, authorised, edition_json
from publisher.web.application import Application, application

__all__ = [
    "AudienceRequest",
    "MessageRequest",
    "OneOffTest",
    "StoryRequest",
    "audience",
    "audience_list",
    "remove_audience",
    "router",
    "save_audience",
    "send_message",
    "send_story",
    "test_one_off",
]

router = APIRouter(prefix="/api", dependencies=[Depends(authorised)], tags=["admin"])

AudienceName = Annotated[str, Field(min_length=1, max_length=audiences.MAX_NAME)]
Expected = Annotated[
    int | None,
    Field(
        default=None,
        ge=0,
        description="The count the sender confirmed; if the audience moved by more than "
        "PUBLISHER_AUDIENCE_DRIFT of it, 409 with the new count and nothing is sent",
    ),
]


class StoryRequest(BaseModel):
    slug: str = Field(min_length=1, max_length=200)
    audience: AudienceName
    expected: Expected = None
    subject: str = Field(default="", max_length=sends.MAX_SUBJECT)
    in_archive: bool = True


class MessageRequest(BaseModel):
    subject: str = Field(min_length=1, max_length=sends.MAX_SUBJECT)
    body: str = Field(min_length=1, max_length=one_off.MAX_BODY, description="Markdown")
    audience: AudienceName
    expected: Expected = None
    in_archive: bool = True


class OneOffTest(BaseModel):
    kind: str = Field(pattern="^(story|message)$")
    to: list[Annotated[str, Field(max_length=320)]] = Field(
        min_length=1, max_length=sends.MAX_TEST_RECIPIENTS
    )
    slug: str = Field(default="", max_length=200)
    subject: str = Field(default="", max_length=sends.MAX_SUBJECT)
    body: str = Field(default="", max_length=one_off.MAX_BODY)


class AudienceRequest(BaseModel):
    name: AudienceName
    filter: dict[str, str] = Field(
        default_factory=dict,
        description="q, status, digest, category, joined_from, joined_to (YYYY-MM-DD), "
        "clicked_in, breaking (yes or no): the subscribers page's filter; never SQL",
    )
    replace: bool = False


def _send(
    kind: str, request: StoryRequest | MessageRequest, app: Application, who: str
) -> JSONResponse:
    """The one-off edition of ``kind`` (story or message) that ``request`` asks for, sent
    now: 201 when it is made, 200 with the edition made before for the same send. Each
    request's fields are the use case's own keywords."""
    sent = one_off.send(
        app.engine,
        app.settings,
        app.timetable,
        app.env,
        kind,
        actor=who,
        now=app.clock(),
        **request.model_dump(),
    )
    body = edition_json(sent.edition, created=sent.created, started=sent.started)
    return JSONResponse(body, status_code=201 if sent.created else 200)


@router.post("/sends/story")
def send_story(
    request: StoryRequest, app: Application = Depends(application), who: str = Depends(actor)
) -> JSONResponse:
    """Send a published story now as breaking news to an audience's members who want it
    (201; 200 with the existing edition when it was sent already). Held for review above
    PUBLISHER_REVIEW_AUDIENCE_OVER members."""
    return _send("story", request, app, who)


@router.post("/sends/message")
def send_message(
    request: MessageRequest, app: Application = Depends(application), who: str = Depends(actor)
) -> JSONResponse:
    """Send a written message (Markdown, the digest's layout) now to an audience's confirmed
    members (201; 200 with the existing edition for the same message to the same audience)."""
    return _send("message", request, app, who)


@router.post("/sends/test")
def test_one_off(
    request: OneOffTest, app: Application = Depends(application), who: str = Depends(actor)
) -> dict[str, Any]:
    """A [Test] copy of a story or message not sent yet, to at most 20 addresses."""
    count = one_off.test(
        app.engine,
        app.settings,
        app.timetable,
        app.env,
        request.kind,
        request.to,
        actor=who,
        now=app.clock(),
        slug=request.slug,
        subject=request.subject,
        body=request.body,
    )
    return {"sent": count, "to": len(request.to)}


def _audience_json(app: Application, counted: audiences.Counted) -> dict[str, Any]:
    name = counted.audience.name
    return {
        "name": name,
        "filter": json.loads(counted.audience.filter),
        "members": counted.members,
        "breaking": one_off.audience_count(app.engine, name, "story"),
        "built_in": counted.built_in,
        "created_by": counted.audience.created_by,
        "created_at": None if counted.built_in else counted.audience.created_at.isoformat(),
    }


@router.get("/audiences")
def audience_list(app: Application = Depends(application)) -> list[dict[str, Any]]:
    """Every audience with its filter, its confirmed members now (``members``) and those of
    them who want breaking news (``breaking``)."""
    return [_audience_json(app, c) for c in audiences.listing(app.engine)]


@router.get("/audiences/{name}")
def audience(
    name: Annotated[str, PathParam(max_length=audiences.MAX_NAME)],
    app: Application = Depends(application),
) -> dict[str, Any]:
    """One audience, counted now."""
    return _audience_json(app, audiences.find(app.engine, name))


@router.post("/audiences", status_code=201)
def save_audience(
    request: AudienceRequest, app: Application = Depends(application), who: str = Depends(actor)
) -> dict[str, Any]:
    """Save a filter over members as an audience (409 when the name is taken, unless
    ``replace``); 400 for a value that names nothing."""
    with store.reading(app.engine) as session:
        categories = [c.slug for c in store.category_list(session)]
    chosen = audiences.parse_filter(
        request.filter,
        digests=list(app.timetable.digests),
        categories=categories,
        zone=app.settings.zone,
    )
    saved = audiences.save(
        app.engine, request.name, chosen, actor=who, now=app.clock(), replace_it=request.replace
    )
    return _audience_json(app, saved)


@router.delete("/audiences/{name}")
def remove_audience(
    name: Annotated[str, PathParam(max_length=audiences.MAX_NAME)],
    app: Application = Depends(application),
    who: str = Depends(actor),
) -> dict[str, Any]:
    """Remove an audience (editions sent to it keep its name and filter)."""
    audiences.remove(app.engine, name, actor=who, now=app.clock())
    return {"removed": name}
