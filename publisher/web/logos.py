"""The digest's logos (``/look/logo/{sha256}.{png|jpg|gif}``), served from the database to the
mail programs that open a digest: at our own address, so no third party learns who opened
one. A logo's address is its content's hash, so it never changes and is cached for a year."""

from __future__ import annotations

import re
import threading

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from publisher import store
from publisher.errors import NotFoundError
from publisher.look.logo import EXTENSIONS
from publisher.web.application import Application, application

__all__ = ["LOGO_MAX_AGE", "router"]

LOGO_MAX_AGE = 365 * 86400
_NAME = re.compile(r"([0-9a-f]{64})\.(png|jpg|gif)")


class _Kept:
    """Logos read from the database, kept in this process: every reader's mail program
    fetches the logo at each opening, and a logo named by its hash never changes."""

    SIZE = 8

    def __init__(self) -> None:
        self._found: dict[tuple[str, str], store.LogoFile] = {}
        self._lock = threading.Lock()

    def get(self, app: Application, key: str) -> store.LogoFile | None:
        place = (str(app.engine.url), key)
        with self._lock:
            found = self._found.get(place)
        if found is not None:
            return found
        with store.reading(app.engine) as session:
            found = store.look_logo(session, key)
        if found is not None:
            with self._lock:
                if len(self._found) >= self.SIZE:
                    self._found.pop(next(iter(self._found)))
                self._found[place] = found
        return found


_KEPT = _Kept()
router = APIRouter()


@router.get("/look/logo/{name}", include_in_schema=False)
def logo(request: Request, name: str, app: Application = Depends(application)) -> Response:
    """A kept logo's bytes (404 for any other name, or a known hash with another ending)."""
    found = _NAME.fullmatch(name)
    if found is None:
        raise NotFoundError("no such logo")
    kept = _KEPT.get(app, found[1])
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
