"""The admin API under /api/, for editors' tools and scripts: articles, subscribers and
reports, with the same validation as the command line. A bearer token
(PUBLISHER_API_TOKEN) guards it; without one configured, it answers 404."""

from __future__ import annotations

import hmac
import io
import tempfile
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, PlainTextResponse
from jinja2 import Environment
from pydantic import BaseModel, Field
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from publisher.articles import publish
from publisher.community import csv_files, subscriptions
from publisher.editions import sends, stats
from publisher.errors import InputError
from publisher.schedules import Timetable
from publisher.settings import Settings
from publisher.templating import make_environment

MAX_ID = 2**31 - 1  # ids are 32-bit in both databases: larger ones are a 422, not a crash
IMPORT_PATH = "/api/subscribers/import"  # takes up to PUBLISHER_MAX_IMPORT_BYTES, not the default


class Correction(BaseModel):
    note: str = Field(min_length=1, max_length=5000, description="What was corrected, for readers")


class Resolution(BaseModel):
    correction: str | None = Field(
        default=None,
        min_length=1,
        max_length=5000,
        description="Also add this correction to the report's article, linked to the report",
    )


EditionId = Annotated[int, PathParam(ge=1, le=MAX_ID)]


class Approval(BaseModel):
    subject: str | None = Field(
        default=None, max_length=sends.MAX_SUBJECT, description="Another subject"
    )
    intro: str | None = Field(
        default=None, max_length=sends.MAX_INTRO, description="Another intro line"
    )
    article_ids: list[Annotated[int, Field(ge=1, le=2**31 - 1)]] | None = Field(
        default=None,
        max_length=50,
        description="The stories kept (article ids of the edition), in order; absent: all",
    )


class TestSendRequest(BaseModel):
    to: list[Annotated[str, Field(max_length=320)]] = Field(
        min_length=1, max_length=sends.MAX_TEST_RECIPIENTS, description="At most 20 addresses"
    )


class ImportResult(BaseModel):
    created: int
    updated: int
    unchanged: int


API_ACTOR = "api-token"


def actor(request: Request) -> str:
    """Who an API call is recorded as in the audit trail: the signed-in person whose
    newsroom session made it, else the bearer token."""
    who = getattr(request.state, "staff", None)
    return str(who.email) if who is not None else API_ACTOR


def bearer_ok(token: str, authorization: str | None) -> bool:
    """Whether an Authorization header is ``Bearer <token>`` (the scheme is required and,
    as RFC 9110 11.1 says, case-insensitive); compared in constant time."""
    scheme, _, credentials = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(credentials.strip().encode(), token.encode())


# What an editor's newsroom session may use (articles, readers' reports and editions, as in
# the newsroom); everything else (subscribers) is for admins and the bearer token.
EDITOR_PATHS = ("/api/articles", "/api/reports", "/api/editions")  # an editor approves too
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# The newsroom session of a request, read from its cookie before any body: (the person or
# None, whether X-CSRF-Token is the session's form token). web/admin/session.api_caller.
SessionCaller = Callable[[Scope], Awaitable[tuple[Any, bool]]]


def editor_may(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in EDITOR_PATHS)


class Gate:
    """Every /api request is answered before its body is read (issue 16: FastAPI parses a
    body before any dependency runs): 404 while no token is configured, 401 without the
    right bearer token. Both close the connection, so an unread body is never taken in.

    A newsroom session (the cookie of /admin/, checked with ``session``) is let in too, API
    token or not: an admin anywhere, an editor on EDITOR_PATHS (else 403); a request that
    changes something needs the session's form token in X-CSRF-Token (else 403), since a
    cookie, unlike a bearer token, is sent by the browser on its own."""

    def __init__(
        self, app: ASGIApp, *, settings: Settings, session: SessionCaller | None = None
    ) -> None:
        self.app = app
        self.token = settings.api_token.get_secret_value() if settings.api_token else None
        self.session = session

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path == "/api" or path.startswith("/api/")):
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
        if self.token is not None and bearer_ok(self.token, given):
            await self.app(scope, receive, send)
            return
        closing = {"Connection": "close"}
        who, token_ok = (None, False) if self.session is None else await self.session(scope)
        if who is not None:
            refusal = ""
            if scope["method"] not in SAFE_METHODS and not token_ok:
                refusal = "a request made with a newsroom session needs its X-CSRF-Token header"
            elif not who.is_admin and not editor_may(path):
                refusal = "only an admin can do that"
            if not refusal:
                scope.setdefault("state", {})["staff"] = who
                await self.app(scope, receive, send)
                return
            response = JSONResponse({"detail": refusal}, status_code=403, headers=closing)
        elif self.token is None:
            response = JSONResponse({"detail": "Not Found"}, status_code=404, headers=closing)
        else:
            response = JSONResponse(
                {"detail": "a valid bearer token is needed"},
                status_code=401,
                headers={**closing, "WWW-Authenticate": "Bearer"},
            )
        await response(scope, receive, send)


def router(
    settings: Settings,
    engine: Engine,
    timetable: Timetable,
    clock: Callable[[], datetime],
    env: Environment | None = None,
) -> APIRouter:
    """The /api routes; every one needs ``Authorization: Bearer <PUBLISHER_API_TOKEN>``,
    checked by ``Gate`` before any body is read and again here."""
    token = settings.api_token.get_secret_value() if settings.api_token else None

    def authorised(request: Request, authorization: Annotated[str | None, Header()] = None) -> None:
        if getattr(request.state, "staff", None) is not None:  # let in by Gate's session check
            return
        if token is None:
            raise HTTPException(404)
        if not bearer_ok(token, authorization):
            raise HTTPException(
                401, "a valid bearer token is needed", headers={"WWW-Authenticate": "Bearer"}
            )

    api = APIRouter(prefix="/api", dependencies=[Depends(authorised)], tags=["admin"])

    @api.get("/articles")
    def list_articles() -> list[dict[str, Any]]:
        """Every article, scheduled and unpublished ones too, newest first."""
        now = clock()
        return [publish.article_json(v, now) for v in publish.list_articles(engine)]

    @api.post("/articles")
    def add_articles(
        request: Request,
        articles: Annotated[list[dict[str, Any]], Body(description="Article objects (file keys)")],
    ) -> ImportResult:
        """Create or update articles by slug, all or nothing (the article file keys)."""
        report = publish.import_objects(
            engine, settings, articles, source="request", now=clock(), actor=actor(request)
        )
        return ImportResult(
            created=report.created, updated=report.updated, unchanged=report.unchanged
        )

    @api.put("/articles/{slug}")
    def put_article(
        request: Request, slug: str, article: Annotated[dict[str, Any], Body()]
    ) -> ImportResult:
        """Create or update the article with this slug."""
        if article.get("slug", slug) != slug:
            raise InputError("the slug in the body differs from the one in the URL")
        return add_articles(request, [{**article, "slug": slug}])

    @api.post("/articles/{slug}/corrections")
    def correct(request: Request, slug: str, correction: Correction) -> dict[str, Any]:
        """Record a correction; the article's updated time moves."""
        publish.correct_article(engine, slug, correction.note, now=clock(), actor=actor(request))
        return publish.article_json(publish.article_any(engine, slug), clock())

    @api.post("/articles/{slug}/unpublish")
    def unpublish(request: Request, slug: str) -> dict[str, Any]:
        publish.set_article_status(engine, slug, "unpublished", now=clock(), actor=actor(request))
        return publish.article_json(publish.article_any(engine, slug), clock())

    @api.post("/articles/{slug}/publish")
    def republish(request: Request, slug: str) -> dict[str, Any]:
        publish.set_article_status(engine, slug, "published", now=clock(), actor=actor(request))
        return publish.article_json(publish.article_any(engine, slug), clock())

    @api.get("/subscribers")
    def subscribers() -> list[dict[str, Any]]:
        return [
            {
                "email": v.subscriber.email,
                "name": v.subscriber.name,
                "status": v.subscriber.status,
                "digests": list(v.digests),
                "categories": list(v.categories),
                "created_at": v.subscriber.created_at.isoformat(),
            }
            for v in subscriptions.list_subscribers(engine)
        ]

    @api.get("/subscribers/export", response_class=PlainTextResponse)
    def export() -> PlainTextResponse:
        out = io.StringIO()
        csv_files.export_subscribers(engine, out)
        return PlainTextResponse(out.getvalue(), media_type="text/csv; charset=utf-8")

    @api.post(IMPORT_PATH.removeprefix("/api"))
    async def import_csv(request: Request) -> dict[str, int]:
        """Import a CSV body (the `subscribers export` columns), all or nothing; up to
        PUBLISHER_MAX_IMPORT_BYTES."""
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "request.csv"
            with path.open("wb") as out:
                async for chunk in request.stream():  # to disk as it comes, not into memory
                    out.write(chunk)
            done = await run_in_threadpool(
                csv_files.import_subscribers,
                engine,
                path,
                known_digests=list(timetable.digests),
                zone=settings.zone,
                actor=actor(request),
                now=clock(),
                label="POST /api/subscribers/import",
            )
        return {"created": done.created, "updated": done.updated, "merged": done.merged}

    @api.get("/reports")
    def reports(include_resolved: bool = False) -> list[dict[str, Any]]:
        return [
            {
                "id": r.id,
                "article": r.slug,
                "message": r.message,
                "email": r.email,
                "status": r.status,
                "created_at": r.created_at.isoformat(),
                "correction_id": r.correction_id,
            }
            for r in subscriptions.list_reports(engine, include_resolved=include_resolved)
        ]

    @api.post("/reports/{report_id}/resolve")
    def resolve(
        request: Request,
        report_id: Annotated[int, PathParam(ge=1, le=MAX_ID)],
        resolution: Annotated[Resolution | None, Body()] = None,
    ) -> dict[str, bool]:
        """Resolve a report; with a ``correction``, add it to the report's article too."""
        changed = publish.resolve_report(
            engine,
            report_id,
            now=clock(),
            actor=actor(request),
            correction=resolution.correction if resolution else None,
        )
        return {"changed": changed}

    _edition_control(api, settings, engine, timetable, clock, env)
    _edition_routes(api, settings, engine, clock)
    return api


def _edition_json(edition: Any, **extra: Any) -> dict[str, Any]:
    def when(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": edition.id,
        "digest": edition.digest,
        "period_key": edition.period_key,
        "status": edition.status,
        "subject": edition.subject,
        "intro": edition.intro,
        "article_count": edition.article_count,
        "review_deadline_at": when(edition.review_deadline_at),
        "approved_by": edition.approved_by or None,
        "approved_at": when(edition.approved_at),
        "paused_by": edition.paused_by or None,
        "paused_at": when(edition.paused_at),
        "resumed_by": edition.resumed_by or None,
        "resumed_at": when(edition.resumed_at),
        "cancelled_by": edition.cancelled_by or None,
        "cancelled_at": when(edition.cancelled_at),
        **extra,
    }


def _edition_control(
    api: APIRouter,
    settings: Settings,
    engine: Engine,
    timetable: Timetable,
    clock: Callable[[], datetime],
    env: Environment | None,
) -> None:
    """POST /api/editions/{id}/approve|pause|resume|cancel|test (issue 13)."""
    jinja = env or make_environment(zone=settings.zone)

    @api.post("/editions/{edition_id}/approve")
    def approve(
        request: Request,
        edition_id: EditionId,
        approval: Annotated[Approval | None, Body()] = None,
    ) -> dict[str, Any]:
        """Approve an edition awaiting review (optionally with stories taken out or reordered,
        another subject or intro line); sending starts. 409 unless it awaits review."""
        given = approval or Approval()
        edition = sends.approve(
            engine,
            settings,
            timetable,
            jinja,
            edition_id,
            actor=actor(request),
            now=clock(),
            subject=given.subject,
            intro=given.intro,
            article_ids=given.article_ids,
        )
        return _edition_json(edition)

    @api.post("/editions/{edition_id}/pause")
    def pause(request: Request, edition_id: EditionId) -> dict[str, Any]:
        """Pause an edition while it sends (409 if it is not sending, or paused already)."""
        return _edition_json(sends.pause(engine, edition_id, actor=actor(request), now=clock()))

    @api.post("/editions/{edition_id}/resume")
    def resume(request: Request, edition_id: EditionId) -> dict[str, Any]:
        """Resume a paused edition: what is still owed, nobody twice (409 unless paused)."""
        return _edition_json(sends.resume(engine, edition_id, actor=actor(request), now=clock()))

    @api.post("/editions/{edition_id}/cancel")
    def cancel(request: Request, edition_id: EditionId) -> dict[str, Any]:
        """Cancel an edition: what is still owed is cancelled, never sent; how many."""
        count = sends.cancel(engine, edition_id, actor=actor(request), now=clock())
        return _edition_json(sends.find(engine, edition_id), cancelled=count)

    @api.post("/editions/{edition_id}/test")
    def test(request: Request, edition_id: EditionId, body: TestSendRequest) -> dict[str, Any]:
        """Send a [Test] copy to at most 20 addresses; counted nowhere."""
        count = sends.test_send(
            engine,
            settings,
            timetable,
            jinja,
            str(edition_id),
            body.to,
            actor=actor(request),
            now=clock(),
        )
        return {"sent": count, "to": len(body.to)}


def _edition_routes(
    api: APIRouter, settings: Settings, engine: Engine, clock: Callable[[], datetime]
) -> None:
    """``GET /api/editions`` and ``GET /api/editions/{id}``: state, progress and figures."""

    @api.get("/editions")
    def editions(
        digest: str | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> list[dict[str, Any]]:
        """The newest editions, each with its status and delivery counts."""
        return [s.as_json() for s in stats.overview(engine, limit=limit, digest=digest)]

    @api.get("/editions/{edition_id}")
    def edition(edition_id: Annotated[int, PathParam(ge=1, le=MAX_ID)]) -> dict[str, Any]:
        """One edition: its figures, its progress (rate, time left) and its send rate over
        time (``series``: [time, messages] per interval)."""
        now = clock()
        figures = stats.figures(engine, settings, edition_id, now=now)
        return {
            **figures.as_json(),
            "progress": stats.progress(engine, edition_id, now=now).as_json(),
            "series": [[when.isoformat(), n] for when, n in stats.rate_series(engine, edition_id)],
        }
