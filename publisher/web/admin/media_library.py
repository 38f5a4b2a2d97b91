"""The media library (``/admin/media``), for editors and admins: every picture the site keeps,
searched by its words or address; an upload with its words; one picture with its renditions,
its words to change, the stories that use it, "use in a new story", and deletion (refused
while a story uses it)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData, UploadFile

from publisher.errors import InputError, NotFoundError
from publisher.media import library
from publisher.newsroom.staff import Staff
from publisher.web.admin.pages import render
from publisher.web.admin.paging import Page
from publisher.web.admin.session import editor
from publisher.web.application import Application, application

__all__ = ["PAGE", "UPLOAD_PATH", "router"]

PAGE = 48
UPLOAD_PATH = "/admin/media"  # takes a picture: up to PUBLISHER_PICTURE_MAX_BYTES

router = APIRouter()


def _words(form: FormData) -> library.Words:
    return library.Words(*(str(form.get(f"picture_{k}", "")) for k in ("alt", "caption", "credit")))


def _list(
    request: Request,
    app: Application,
    who: Staff,
    q: str,
    page: str,
    *,
    problems: dict[str, str] | None = None,
    words: library.Words | None = None,
    http_status: int = 200,
) -> HTMLResponse:
    shown = Page.read(page, PAGE, most=9_999) or Page(1, PAGE)
    found, total = library.find(app.engine, q, offset=shown.offset, limit=PAGE)

    def link(n: int) -> str:
        return "/admin/media?" + urlencode({k: v for k, v in (("q", q), ("page", n)) if v})

    return render(
        request, app, "media.html", staff=who, http_status=http_status, found=found,
        total=total, q=q, problems=problems or {}, words=words or library.Words(""),
        **shown.links(total, link),
    )  # fmt: skip


@router.get("/media", response_class=HTMLResponse)
def media_list(
    request: Request,
    q: str = "",
    page: str = "",
    who: Staff = Depends(editor),
    app: Application = Depends(application),
) -> HTMLResponse:
    """The library, newest first; ``q`` searches alt text, captions, credits and addresses."""
    return _list(request, app, who, q[:200], page)


@router.post("/media", response_class=HTMLResponse)  # UPLOAD_PATH
async def media_upload(
    request: Request, who: Staff = Depends(editor), app: Application = Depends(application)
) -> Response:
    """A picture added to the library; the list again with what was wrong, if anything."""
    form = await request.form()
    words = _words(form)
    upload = form.get("picture_file")
    data = await upload.read() if isinstance(upload, UploadFile) and upload.filename else b""
    problems = {f"picture_{k}": v for k, v in words.problems().items()}
    if not data:
        problems["picture_file"] = "Choose a picture to upload."
    else:
        try:
            processed = library.process(app.settings, data)
        except InputError as exc:
            problems["picture_file"] = f"This file was not taken: {exc.message}. Nothing was kept."
    if problems:
        return _list(request, app, who, "", "", problems=problems, words=words, http_status=400)
    kept = library.keep_processed(app.engine, processed, words, actor=who.email, now=app.clock())
    return RedirectResponse(f"/admin/media/{kept.id}?done=added", status_code=303)


def _one(
    request: Request, app: Application, who: Staff, picture_id: int, **more: Any
) -> HTMLResponse:
    if not 0 < picture_id < 2**31:
        raise NotFoundError(f"no picture {picture_id}")
    found = library.picture(app.engine, picture_id)
    values: dict[str, Any] = {"done": "", "problem": "", "words": found, **more}
    return render(
        request, app, "media_picture.html", staff=who, picture=found,
        uses=library.uses(app.engine, picture_id), **values,
    )  # fmt: skip


@router.get("/media/{picture_id}", response_class=HTMLResponse)
def media_picture(
    request: Request,
    picture_id: int,
    done: str = "",
    who: Staff = Depends(editor),
    app: Application = Depends(application),
) -> HTMLResponse:
    """One picture: its renditions, words, and the stories that use it."""
    return _one(request, app, who, picture_id, done=done[:20])


@router.post("/media/{picture_id}", response_class=HTMLResponse)
async def media_words(
    request: Request,
    picture_id: int,
    who: Staff = Depends(editor),
    app: Application = Depends(application),
) -> Response:
    """The picture's alt text, caption and credit changed (in every story that uses it)."""
    form = await request.form()
    words = _words(form)
    try:
        library.set_words(app.engine, picture_id, words, actor=who.email, now=app.clock())
    except InputError as exc:
        return _one(request, app, who, picture_id, words=words, problem=exc.message)
    return RedirectResponse(f"/admin/media/{picture_id}?done=saved", status_code=303)


@router.post("/media/{picture_id}/delete", response_class=HTMLResponse)
async def media_delete(
    request: Request,
    picture_id: int,
    who: Staff = Depends(editor),
    app: Application = Depends(application),
) -> Response:
    """The picture deleted, unless a story uses it (then the page says which)."""
    try:
        library.delete(app.engine, picture_id, actor=who.email, now=app.clock())
    except InputError as exc:
        return _one(request, app, who, picture_id, problem=f"Not deleted: {exc.message}.")
    return RedirectResponse("/admin/media?deleted=1", status_code=303)
