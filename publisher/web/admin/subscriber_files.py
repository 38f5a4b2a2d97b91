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
from publisher.web.admin import session
from publisher.web.admin.context import Newsroom
from publisher.web.admin.subscribers import chosen_filter, query_of

IMPORT_PATH = "/admin/subscribers/import"  # takes up to PUBLISHER_MAX_IMPORT_BYTES
_UNSAFE = re.compile(r"[^\w.\- ]+")


def upload_name(given: str | None) -> str:
    """A file name to show and name the temporary copy by: the upload's own name without
    any folder or odd character, ``upload.csv`` when nothing is left."""
    name = _UNSAFE.sub("_", Path(one_line(given or "").replace("\\", "/")).name).strip(" .")
    return name[:100] or "upload.csv"


def router(room: Newsroom) -> APIRouter:
    routes = APIRouter()
    admin = session.requires("admin", room.engine, room.settings, room.clock)

    def import_page(
        request: Request,
        who: Staff,
        *,
        http_status: int = 200,
        error: str = "",
        problems: list[str] | None = None,
        done: csv_files.ImportedSubscribers | None = None,
        name: str = "",
    ) -> HTMLResponse:
        return room.page(
            request,
            "subscriber_import.html",
            staff=who,
            http_status=http_status,
            error=error,
            problems=problems or [],
            done=done,
            name=name,
            max_bytes=room.settings.max_import_bytes,
        )

    @routes.get("/subscribers/import", response_class=HTMLResponse)
    def import_form(request: Request, who: Staff = Depends(admin)) -> HTMLResponse:
        return import_page(request, who)

    @routes.post("/subscribers/import", response_class=HTMLResponse)
    async def import_csv(request: Request, who: Staff = Depends(admin)) -> HTMLResponse:
        form = await request.form()  # files are spooled to disk by the parser, not kept in memory
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            return import_page(request, who, http_status=400, error="Please choose a CSV file.")
        name = upload_name(upload.filename)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / name
            with path.open("wb") as out:
                while chunk := await upload.read(1024 * 1024):
                    out.write(chunk)
            try:
                done = await run_in_threadpool(
                    csv_files.import_subscribers,
                    room.engine,
                    path,
                    known_digests=list(room.timetable.digests),
                    zone=room.settings.zone,
                    actor=who.email,
                    now=room.clock(),
                    label=f"upload {name}",
                )
            except InputError as exc:
                # Said with the file's own name, not where its copy was kept.
                def shown(line: str) -> str:
                    return line.replace(f"{folder}/", "")

                return import_page(
                    request,
                    who,
                    http_status=400,
                    error=shown(exc.message),
                    problems=[shown(p) for p in exc.details],
                    name=name,
                )
        return import_page(request, who, done=done, name=name)

    @routes.get("/subscribers/export.csv")
    def export_csv(request: Request, who: Staff = Depends(admin)) -> Response:
        chosen = chosen_filter(room, request.query_params)
        out = io.StringIO()
        csv_files.export_subscribers(room.engine, out, chosen)
        stamp = room.clock().strftime("%Y%m%d-%H%M")
        return Response(
            out.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="subscribers-{stamp}.csv"'},
        )

    @routes.get("/subscribers/bulk", response_class=HTMLResponse)
    def bulk_page(request: Request, who: Staff = Depends(admin)) -> HTMLResponse:
        action = request.query_params.get("action", "")
        chosen = chosen_filter(room, request.query_params)
        counted = subscribers.count_for(room.engine, action, chosen)
        return room.page(
            request,
            "subscriber_bulk.html",
            staff=who,
            action=action,
            chosen=chosen,
            counted=counted,
            query=query_of(chosen),
            done=None,
            error="",
        )

    @routes.post("/subscribers/bulk", response_class=HTMLResponse)
    async def bulk(request: Request, who: Staff = Depends(admin)) -> HTMLResponse:
        form = await request.form()
        action = str(form.get("action", ""))
        chosen = chosen_filter(room, form)
        try:
            counted = subscribers.Counted(int(str(form.get("count", ""))), str(form.get("set", "")))
        except ValueError:
            raise InputError("the confirmation form is incomplete: count again") from None
        values: dict[str, Any] = {"action": action, "chosen": chosen, "query": query_of(chosen)}
        try:
            done = await run_in_threadpool(
                subscribers.act_on,
                room.engine,
                action,
                chosen,
                counted,
                actor=who.email,
                now=room.clock(),
            )
        except InputError as exc:
            recount = subscribers.count_for(room.engine, action, chosen)
            return room.page(
                request,
                "subscriber_bulk.html",
                staff=who,
                http_status=409,
                counted=recount,
                done=None,
                error=exc.message,
                **values,
            )
        return room.page(
            request,
            "subscriber_bulk.html",
            staff=who,
            counted=counted,
            done=done,
            error="",
            **values,
        )

    return routes
