"""The digest's look (``/admin/look``, admins only): the logo, the accent colour, the words at
the top and in the footer, the Brand Studio and sponsor blocks, with a preview of a digest at
phone or desktop width that follows the form as it is typed (htmx asks for the frame again;
without script, the Preview button does the same). Saved only when every field is right; each
change in the audit trail, shown at the foot of the page."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from publisher import store
from publisher.editions import making
from publisher.errors import InputError
from publisher.look import changes
from publisher.look.colours import AA_TEXT, contrast
from publisher.look.logo import MAX_BYTES, logo_file
from publisher.look.values import FIELDS, Look, defaults, look_of, read_look
from publisher.newsroom.staff import Staff
from publisher.web.admin import session, trail
from publisher.web.admin.edition_render import sentence
from publisher.web.admin.editions import preview_policy
from publisher.web.admin.pages import render
from publisher.web.application import Application, application

__all__ = ["router"]

DONE = {
    "saved": "Saved: editions made from now on look like this.",
    "reset": "Back to the defaults.",
}
TEXT_AT_MOST = 1000  # any field in a preview's address


def _width(form: Mapping[str, Any]) -> str:
    """The preview's width as asked: ``phone`` or ``desktop`` (the default)."""
    return "phone" if form.get("width") == "phone" else "desktop"


def _typed(form: Mapping[str, Any]) -> dict[str, str]:
    """The look's fields as a form or a preview's address gives them (text only)."""
    typed = {k: str(form[k])[:TEXT_AT_MOST] for k in (*FIELDS, "remove_logo") if k in form}
    if typed.pop("remove_logo", ""):
        typed["logo"] = ""
    return typed


def _saved(app: Application) -> tuple[Look, int]:
    with store.reading(app.engine) as s:
        return read_look(s, app.settings, app.timetable.brand_studio)


def _draft(app: Application, values: Mapping[str, Any]) -> Look:
    """A checked look not saved, with its logo as kept."""
    logo = None
    if values.get("logo"):
        with store.reading(app.engine) as s:
            logo = store.look_logo(s, str(values["logo"]), with_data=False)
    return look_of(app.settings, app.timetable.brand_studio, values, logo)


def _page(
    request: Request,
    app: Application,
    who: Staff,
    *,
    values: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
    version: int | None = None,
    done: str = "",
    width: str = "desktop",
    http_status: int = 200,
) -> HTMLResponse:
    saved, saved_version = _saved(app)
    shown = _draft(app, values) if values is not None and not errors else saved
    with store.reading(app.engine) as s:
        entries = store.audit_entries(s, kind=changes.KIND, limit=50)
    form = dict(values if values is not None else saved.values)
    return render(
        request,
        app,
        "look.html",
        staff=who,
        http_status=http_status,
        values=form,
        errors={k: sentence(v) for k, v in (errors or {}).items()},
        version=saved_version if version is None else version,
        defaults=defaults(app.settings, app.timetable.brand_studio),
        logo=shown.logo if not errors else saved.logo,
        frames=_frames(shown),
        width=width,
        done=DONE.get(done, ""),
        trail=trail.rows(entries),
    )


def _frames(look: Look) -> dict[str, Any]:
    """What the preview's frames show: their address, and the accent's contrast."""
    query = urlencode({k: _plain(v) for k, v in look.values.items()})
    return {"src": f"/admin/look/preview?{query}", "contrast": contrast(look.accent), "aa": AA_TEXT}


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else ""
    return str(value)


router = APIRouter()


@router.get("/look", response_class=HTMLResponse)
def page(
    request: Request,
    done: str = "",
    who: Staff = Depends(session.admin),
    app: Application = Depends(application),
) -> HTMLResponse:
    """The look as it is, the form to change it, the preview and the changes made."""
    return _page(request, app, who, done=done, width=_width(request.query_params))


@router.post("/look", response_class=HTMLResponse)
async def change(
    request: Request,
    who: Staff = Depends(session.admin),
    app: Application = Depends(application),
) -> Response:
    """The form sent: shown again with the preview (``do=preview``), or saved when every
    field is right (else shown again, each problem beside its field, nothing saved)."""
    form = await request.form()
    checked = changes.check(_typed({k: v for k, v in form.items() if isinstance(v, str)}))
    errors = dict(checked.errors)
    preview = form.get("do") == "preview"
    logo = await _uploaded(form.get("logo_file"), errors)
    values = checked.values
    if logo is not None and (preview or not errors):
        # Kept for the preview too, so that the frame shows it; the look names it once saved.
        await run_in_threadpool(
            changes.keep_logo, app.engine, logo.data, actor=who.email, now=app.clock()
        )
        values = {**values, "logo": logo.key}
    version = _version(form.get("version"))
    if errors or preview:
        status = 400 if errors else 200
        return _page(
            request,
            app,
            who,
            values=values,
            errors=errors,
            version=version,
            width=_width(form),
            http_status=status,
        )
    try:
        await run_in_threadpool(
            changes.save,
            app.engine,
            app.settings,
            app.timetable.brand_studio,
            values,
            version=version,
            actor=who.email,
            now=app.clock(),
        )
    except InputError as exc:
        return _page(
            request,
            app,
            who,
            values=values,
            errors={"": exc.message},
            version=version,
            http_status=409,
        )
    return RedirectResponse("/admin/look?done=saved", status_code=303)


async def _uploaded(upload: object, errors: dict[str, str]) -> store.LogoFile | None:
    """The logo file chosen, if one was and it is a picture (else why not, in ``errors``)."""
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None
    try:
        return logo_file(await upload.read(MAX_BYTES + 1))
    except InputError as exc:
        errors["logo"] = exc.message
        return None


def _version(raw: object) -> int:
    text = str(raw or "")
    return int(text) if text.isascii() and text.isdigit() and len(text) < 10 else -1


@router.post("/look/reset", response_class=HTMLResponse)
def reset(
    request: Request,
    who: Staff = Depends(session.admin),
    app: Application = Depends(application),
) -> Response:
    """The look back to the settings' and schedules.yaml's."""
    changes.reset(
        app.engine, app.settings, app.timetable.brand_studio, actor=who.email, now=app.clock()
    )
    return RedirectResponse("/admin/look?done=reset", status_code=303)


@router.get("/look/frames", response_class=HTMLResponse)
def frames(
    request: Request,
    who: Staff = Depends(session.admin),
    app: Application = Depends(application),
) -> HTMLResponse:
    """The preview's frames for the form as typed (htmx swaps them in as the form changes);
    what is wrong, said there, instead of a preview."""
    checked = changes.check(_typed(request.query_params))
    look = None if checked.errors else _draft(app, checked.values)
    return render(
        request,
        app,
        "look_frames.html",
        staff=who,
        frames=_frames(look) if look else None,
        width=_width(request.query_params),
        errors={k: sentence(v) for k, v in checked.errors.items()},
    )


@router.get("/look/preview", response_class=HTMLResponse)
def preview(
    request: Request,
    who: Staff = Depends(session.admin),
    app: Application = Depends(application),
) -> HTMLResponse:
    """A digest with the newest stories under the look in the address, as a reader sees it,
    framed on the page under its own narrow policy."""
    checked = changes.check(_typed(request.query_params))
    if checked.errors:
        listed = "".join(f"<li>{escape(m)}</li>" for m in checked.errors.values())
        html = (
            f"<!doctype html><title>Not yet</title><p>The preview waits for:</p><ul>{listed}</ul>"
        )
    else:
        html = making.sample(
            app.engine,
            app.settings,
            app.timetable,
            app.env,
            _draft(app, checked.values),
            now=app.clock(),
        )
    answer = HTMLResponse(html)
    answer.headers["content-security-policy"] = preview_policy(app.settings.site_url)
    answer.headers["x-frame-options"] = "SAMEORIGIN"
    return answer
