"""The newsroom's subscriber CSV (admins only): import by upload, all or nothing with every
bad row named by its line, as `subscribers import` does; export as a download; and the bulk
actions on a filtered set, each behind a page that says how many.

The import's progress bar shows the upload (htmx's ``htmx:xhr:progress``, in
``static/admin-import.js``), then "importing" until the answer: the upload is the part that
takes long on a large file, and the import itself is one transaction (all or nothing) that
has no halfway state worth polling, so there is no job to keep, share between daemons or lose.
"""

from __future__ import annotations

import io
import re
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from publisher.community import csv_files, subscribers
from publisher.content import one_line
from publisher.errors import InputError
from publisher.newsroom.staff import Staff
from publisher.store import SubscriberFilter
from publisher.web.admin import session
from publisher.web.admin.pages import render
from publisher.web.admin.subscribers import chosen_filter, filter_values, query_of
from publisher.web.application import Application, application

__all__ = ["IMPORT_PATH", "router", "upload_name"]

IMPORT_PATH = "/admin/subscribers/import"  # takes up to PUBLISHER_MAX_IMPORT_BYTES
_UNSAFE = re.compile(r"[^\w.\- ]+")


def upload_name(given: str | None) -> str:
    """A file name to show and name the temporary copy by: the upload's own name without
    any folder or odd character, ``upload.csv`` when nothing is left."""
    name = _UNSAFE.sub("_", Path(one_line(given or "").replace("\\", "/")).name).strip(" .")
    return name[:100] or "upload.csv"


def _import_page(
    request: Request,
    app: Application,
    who: Staff,
    *,
    http_status: int = 200,
    error: str = "",
    problems: list[str] | None = None,
    done: csv_files.ImportedSubscribers | None = None,
    name: str = "",
) -> HTMLResponse:
    return render(
        request,
        app,
        "subscriber_import.html",
        staff=who,
        http_status=http_status,
        error=error,
        problems=problems or [],
        done=done,
        name=name,
        max_bytes=app.settings.max_import_bytes,
    )


def _bulk_page(
    request: Request, app: Application, who: Staff, http_status: int = 200, **values: Any
) -> HTMLResponse:
    chosen = values.get("chosen")
    shown = filter_values(chosen) if isinstance(chosen, SubscriberFilter) else {}
    return render(
        request,
        app,
        "subscriber_bulk.html",
        staff=who,
        http_status=http_status,
        filter_values=shown,
        **values,
    )


router = APIRouter()


@router.get("/subscribers/import", response_class=HTMLResponse)
def import_form(
    request: Request,
    who: Staff = Depends(session.admin),
    app: Application = Depends(application),
) -> HTMLResponse:
    """The upload form."""
    return _import_page(request, app, who)


@router.post("/subscribers/import", response_class=HTMLResponse)
async def import_csv(
    request: Request,
    who: Staff = Depends(session.admin),
    app: Application = Depends(application),
) -> HTMLResponse:
    """An uploaded CSV imported, all or nothing: what was done, or every bad row by line."""
    form = await request.form()  # files are spooled to disk by the parser, not kept in memory
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _import_page(request, app, who, http_status=400, error="Please choose a CSV file.")
    name = upload_name(upload.filename)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        with path.open("wb") as out:
            while chunk := await upload.read(1024 * 1024):
                out.write(chunk)
        try:
            done = await run_in_threadpool(
                csv_files.import_subscribers,
                app.engine,
                path,
                known_digests=list(app.timetable.digests),
                zone=app.settings.zone,
                actor=who.email,
                now=app.clock(),
                label=f"upload {name}",
            )
        except InputError as exc:
            # Said with the file's own name, not where its copy was kept.
            return _import_page(
                request,
                app,
                who,
                http_status=400,
                error=exc.message.replace(f"{folder}/", ""),
                problems=[p.replace(f"{folder}/", "") for p in exc.details],
                name=name,
            )
    return _import_page(request, app, who, done=done, name=name)


@router.get("/subscribers/export.csv")
def export_csv(
    request: Request,
    who: Staff = Depends(session.admin),
    app: Application = Depends(application),
) -> Response:
    """The filtered subscribers as a CSV download."""
    chosen = chosen_filter(app, request.query_params)
    out = io.StringIO()
    csv_files.export_subscribers(app.engine, out, chosen)
    stamp = app.clock().strftime("%Y%m%d-%H%M")
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="subscribers-{stamp}.csv"'},
    )


@router.get("/subscribers/bulk", response_class=HTMLResponse)
def bulk_page(
    request: Request,
    who: Staff = Depends(session.admin),
    app: Application = Depends(application),
) -> HTMLResponse:
    """The page that says how many a bulk action would change, and asks."""
    action = request.query_params.get("action", "")
    chosen = chosen_filter(app, request.query_params)
    counted = subscribers.count_for(app.engine, action, chosen)
    return _bulk_page(
        request,
        app,
        who,
        action=action,
        chosen=chosen,
        counted=counted,
        query=query_of(chosen),
        done=None,
        error="",
    )


@router.post("/subscribers/bulk", response_class=HTMLResponse)
async def bulk(
    request: Request,
    who: Staff = Depends(session.admin),
    app: Application = Depends(application),
) -> HTMLResponse:
    """A bulk action done, unless the set changed since it was counted (409, counted again)."""
    form = await request.form()
    action = str(form.get("action", ""))
    chosen = chosen_filter(app, form)
    try:
        counted = subscribers.Counted(int(str(form.get("count", ""))), str(form.get("set", "")))
    except ValueError:
        raise InputError("the confirmation form is incomplete: count again") from None
    values: dict[str, Any] = {"action": action, "chosen": chosen, "query": query_of(chosen)}
    try:
        done = await run_in_threadpool(
            subscribers.act_on,
            app.engine,
            action,
            chosen,
            counted,
            actor=who.email,
            now=app.clock(),
        )
    except InputError as exc:
        recount = subscribers.count_for(app.engine, action, chosen)
        return _bulk_page(
            request, app, who, 409, counted=recount, done=None, error=exc.message, **values
        )
    return _bulk_page(request, app, who, counted=counted, done=done, error="", **values)
