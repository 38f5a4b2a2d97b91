"""The digest's logos (``/look/logo/{sha256}.{png|jpg|gif}``), served from the database to the
mail programs that open a digest: at our own address, so no third party learns who opened
one. A logo's address is its content's hash, so it never changes and is cached for a year."""

from __future__ import annotations

import re

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from publisher import store
from publisher.errors import NotFoundError
from publisher.look.logo import EXTENSIONS
from publisher.web.application import Application, application

__all__ = ["LOGO_MAX_AGE", "router"]

LOGO_MAX_AGE = 365 * 86400
_NAME = re.compile(r"([0-9a-f]{64})\.(png|jpg|gif)")

router = APIRouter()


@router.get("/look/logo/{name}", include_in_schema=False)
def logo(request: Request, name: str, app: Application = Depends(application)) -> Response:
    """A kept logo's bytes (404 for any other name, or a known hash with another ending)."""
    found = _NAME.fullmatch(name)
    if found is None:
        raise NotFoundError("no such logo")
    with store.reading(app.engine) as session:
        kept = store.look_logo(session, found[1])
    if kept is None or EXTENSIONS[kept.content_type] != found[2]:
        raise NotFoundError("no such logo")
    etag = f'"{kept.key[:32]}"'
    headers = {
        "cache-control": f"public, max-age={LOGO_MAX_AGE}, immutable",
        "etag": etag,
        "x-content-type-options": "nosniff",
    }
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(kept.data, media_type=kept.content_type, headers=headers)
