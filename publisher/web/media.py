"""The site's pictures (``/media/{name}``): each rendition by its content-addressed name, from
the database, so every daemon serves what any of them kept. A name never changes what it
names, so an answer may be cached for a year (``immutable``); its ETag is the name."""

from __future__ import annotations

import re

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from publisher import store
from publisher.errors import NotFoundError
from publisher.web.application import Application, application

__all__ = ["IMMUTABLE", "router"]

IMMUTABLE = "public, max-age=31536000, immutable"
NAME = re.compile(r"[0-9a-f]{32}-[0-9]{1,5}\.(?:jpg|webp)")

router = APIRouter()


@router.get("/media/{name}", include_in_schema=False)
def media_file(name: str, request: Request, app: Application = Depends(application)) -> Response:
    """A rendition's bytes; 304 when the client has them (If-None-Match)."""
    if not NAME.fullmatch(name):
        raise NotFoundError(f"no picture {name!r}")
    etag = f'"{name}"'
    headers = {"cache-control": IMMUTABLE, "etag": etag}
    wanted = request.headers.get("if-none-match", "")
    if etag in [tag.strip().removeprefix("W/") for tag in wanted.split(",")]:
        return Response(status_code=304, headers=headers)
    with store.reading(app.engine) as session:
        found = store.picture_file(session, name)
    if found is None:
        raise NotFoundError(f"no picture {name!r}")
    content_type, data = found
    return Response(data, media_type=content_type, headers=headers)
