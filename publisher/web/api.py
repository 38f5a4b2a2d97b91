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
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from publisher.articles import editorial, publish
from publisher.community import csv_files, subscriptions
from publisher.editions import sends, stats
from publisher.errors import ConflictError, InputError, NotFoundError
from publisher.settings import Settings
from publisher.templating import TEMPLATES
from publisher.web.application import Application, application

__all__ = [
    "API_ACTOR",
    "CONTRIBUTOR_PATHS",
    "EDITOR_PATHS",
    "IMPORT_PATH",
    "MAX_ID",
    "SAFE_METHODS",
    "Approval",
    "Correction",
    "EditionId",
    "Gate",
    "ImportResult",
    "Note",
    "Resolution",
    "SessionCaller",
    "TestSendRequest",
    "actor",
    "add_articles",
    "approve",
    "authorised",
    "bearer_ok",
    "cancel",
    "contributor_may",
    "correct",
    "docs_router",
    "edition",
    "edition_json",
    "editions",
    "editor_may",
    "export",
    "import_csv",
    "list_articles",
    "pause",
    "put_article",
    "reports",
    "republish",
    "resolve",
    "resume",
    "review",
    "router",
    "send_back",
    "subscribers",
    "swagger",
    "test",
    "unpublish",
    "withdraw",
    "writing",
]

MAX_ID = 2**31 - 1  # ids are 32-bit in both databases: larger ones are a 422, not a crash
IMPORT_PATH = "/api/subscribers/import"  # takes up to PUBLISHER_MAX_IMPORT_BYTES, not the default


class Correction(BaseModel):
    note: str = Field(min_length=1, max_length=5000, description="What was corrected, for readers")


class Note(BaseModel):
    note: str = Field(
        min_length=1,
        max_length=5000,
        description="Sending back: what the writer should change. Withdrawing: why, for "
        "readers (it finishes “This story was withdrawn on ... because ...”)",
    )


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
    categories: list[Annotated[str, Field(max_length=200)]] = Field(
        default=[], max_length=20, description="As a reader of these categories (slugs) gets it"
    )
    language: str = Field(
        default="", max_length=35, description="As a reader in this language gets it (th, ko...)"
    )
    stories_in: list[Annotated[str, Field(max_length=35)]] = Field(
        default=[], max_length=20, description="Only stories in these languages, as such a reader"
    )


class ImportResult(BaseModel):
    created: int
    updated: int
    unchanged: int
    # Stories sent with no language that read as another than the site's: slug -> that
    # language (a suggestion; they were saved in the site's language).
    suggested_languages: dict[str, str] = {}


API_ACTOR = "api-token"


def writing(request: Request) -> editorial.Writer:
    """Who an API call acts as: the newsroom person whose session made it (with their
    role), else the bearer token, which acts as an editor."""
    who = getattr(request.state, "staff", None)
    if who is None:
        return editorial.Writer(API_ACTOR, "editor")
    return editorial.Writer(str(who.email), str(who.role), int(who.id))


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
EDITOR_PATHS = (
    "/api/articles",
    "/api/reports",
    "/api/editions",
    "/api/sends",
)  # an editor approves too
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# The newsroom session of a request, read from its cookie before any body: (the person or
# None, whether X-CSRF-Token is the session's form token). web/admin/session.api_caller.
SessionCaller = Callable[[Scope], Awaitable[tuple[Any, bool]]]


# What a contributor's newsroom session may use: their own stories, listed, and sending one
# for review; anything else (publishing above all) is a 403.
CONTRIBUTOR_PATHS = (("GET", "/api/articles"), ("POST", "/api/articles/*/review"))


def contributor_may(method: str, path: str) -> bool:
    """Whether a contributor's newsroom session may make this /api request."""
    parts = path.rstrip("/").split("/")
    for allowed, pattern in CONTRIBUTOR_PATHS:
        wanted = pattern.split("/")
        methods = (allowed, "HEAD") if allowed == "GET" else (allowed,)
        if (
            method in methods
            and len(parts) == len(wanted)
            and all(w in ("*", p) for w, p in zip(wanted, parts, strict=True))
        ):
            return True
    return False


def editor_may(path: str) -> bool:
    """Whether an editor's newsroom session may use this /api path (else only an admin)."""
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
            elif not who.is_editor and not contributor_may(scope["method"], path):
                refusal = editorial.ROLE_WORDS
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


def authorised(
    request: Request,
    app: Application = Depends(application),
    authorization: Annotated[str | None, Header()] = None,
) -> None:
    """The dependency of every /api route: a newsroom session let in by ``Gate``, or
    ``Authorization: Bearer <PUBLISHER_API_TOKEN>`` (checked by ``Gate`` before any body is
    read, and again here); 404 while no token is configured."""
    if getattr(request.state, "staff", None) is not None:  # let in by Gate's session check
        return
    token = app.settings.api_token
    if token is None:
        raise HTTPException(404)
    if not bearer_ok(token.get_secret_value(), authorization):
        raise HTTPException(
            401, "a valid bearer token is needed", headers={"WWW-Authenticate": "Bearer"}
        )


router = APIRouter(prefix="/api", dependencies=[Depends(authorised)], tags=["admin"])
# Swagger UI for the API, mounted only where a token is configured.
docs_router = APIRouter()


@docs_router.get("/docs", include_in_schema=False)  # guards.DOCS_PATH
def swagger() -> FileResponse:
    """Swagger UI's page (vendored and pinned under /static, never from a CDN)."""
    return FileResponse(TEMPLATES / "static" / "swagger-ui" / "index.html")


# ----------------------------------------------------------------------------- articles


def _article(app: Application, slug: str) -> dict[str, Any]:
    return publish.article_json(
        publish.article_any(app.engine, slug), app.clock(), app.settings.site_language
    )


def _imported(
    app: Application, who: str, articles: list[dict[str, Any]], *, draft: bool = False
) -> ImportResult:
    report = publish.import_objects(
        app.engine,
        app.settings,
        articles,
        source="request",
        now=app.clock(),
        actor=who,
        status="draft" if draft else "published",
    )
    return ImportResult(
        created=report.created,
        updated=report.updated,
        unchanged=report.unchanged,
        suggested_languages=dict(report.suggestions),
    )


@router.get("/articles")
def list_articles(
    app: Application = Depends(application), acting: editorial.Writer = Depends(writing)
) -> list[dict[str, Any]]:
    """Every article, drafts, stories in review, scheduled, withdrawn and unpublished ones
    too, newest first (a contributor's session: their own only)."""
    now = app.clock()
    return [
        publish.article_json(v, now, app.settings.site_language)
        for v in publish.list_articles(app.engine)
        if editorial.may_see(acting, v)
    ]


@router.post("/articles")
def add_articles(
    articles: Annotated[list[dict[str, Any]], Body(description="Article objects (file keys)")],
    draft: Annotated[bool, Query(description="New articles are drafts, for an editor")] = False,
    app: Application = Depends(application),
    who: str = Depends(actor),
) -> ImportResult:
    """Create or update articles by slug, all or nothing (the article file keys); new ones
    are published (at their ``published_at``) unless ``draft``; updated ones keep their
    state."""
    return _imported(app, who, articles, draft=draft)


@router.put("/articles/{slug}")
def put_article(
    slug: str,
    article: Annotated[dict[str, Any], Body()],
    app: Application = Depends(application),
    who: str = Depends(actor),
) -> ImportResult:
    """Create or update the article with this slug."""
    if article.get("slug", slug) != slug:
        raise InputError("the slug in the body differs from the one in the URL")
    return _imported(app, who, [{**article, "slug": slug}])


@router.post("/articles/{slug}/corrections")
def correct(
    slug: str,
    correction: Correction,
    app: Application = Depends(application),
    who: str = Depends(actor),
) -> dict[str, Any]:
    """Record a correction; the article's updated time moves."""
    publish.correct_article(app.engine, slug, correction.note, now=app.clock(), actor=who)
    return _article(app, slug)


@router.post("/articles/{slug}/unpublish")
def unpublish(
    slug: str, app: Application = Depends(application), acting: editorial.Writer = Depends(writing)
) -> dict[str, Any]:
    """Take a story nobody has seen (a draft, in review or scheduled) off everything, with no
    page left; 409 for one readers saw: withdraw it instead
    (``POST /api/articles/{slug}/withdraw``)."""
    view = publish.article_any(app.engine, slug)
    if not editorial.may_see(acting, view):
        raise NotFoundError(f"no article with slug {slug!r}")
    try:
        editorial.unpublish(app.engine, view, acting, now=app.clock())
    except editorial.ReadersSawIt as exc:
        if exc.state != "published":
            raise
        raise ConflictError(
            f'{exc.message}: POST /api/articles/{slug}/withdraw with {{"note": "why"}}'
        ) from None
    return _article(app, slug)


@router.post("/articles/{slug}/publish")
def republish(
    slug: str, app: Application = Depends(application), who: str = Depends(actor)
) -> dict[str, Any]:
    """Publish a draft or a story in review (now, or at its time if that is ahead), or put
    an unpublished or withdrawn article back on the site and the feeds."""
    publish.set_article_status(app.engine, slug, "published", now=app.clock(), actor=who)
    return _article(app, slug)


def _changed(
    app: Application, slug: str, action: str, acting: editorial.Writer, note: str = ""
) -> dict[str, Any]:
    view = publish.article_any(app.engine, slug)
    if not editorial.may_see(acting, view):
        raise NotFoundError(f"no article with slug {slug!r}")
    editorial.change(app.engine, view, action, acting, now=app.clock(), note=note)
    return _article(app, slug)


@router.post("/articles/{slug}/review")
def review(
    slug: str,
    app: Application = Depends(application),
    acting: editorial.Writer = Depends(writing),
) -> dict[str, Any]:
    """Send a draft for review: it waits in the editors' queue (409 unless a draft)."""
    return _changed(app, slug, "review", acting)


@router.post("/articles/{slug}/send-back")
def send_back(
    slug: str,
    given: Note,
    app: Application = Depends(application),
    acting: editorial.Writer = Depends(writing),
) -> dict[str, Any]:
    """Send a story in review back to its writer as a draft, with a note."""
    return _changed(app, slug, "send-back", acting, given.note)


@router.post("/articles/{slug}/withdraw")
def withdraw(
    slug: str,
    given: Note,
    app: Application = Depends(application),
    acting: editorial.Writer = Depends(writing),
) -> dict[str, Any]:
    """Withdraw a published story: its page stays at its address with the reason and no
    body; it leaves the feeds, search, the sitemaps and the archive. The article, with
    ``editions``: how many editions carried it (their mail is not taken back)."""
    done = _changed(app, slug, "withdraw", acting, given.note)
    view = publish.article_any(app.engine, slug)
    return {**done, "editions": editorial.editions_carrying(app.engine, view.article.id or 0)}


# -------------------------------------------------------------------------- subscribers


@router.get("/subscribers")
def subscribers(app: Application = Depends(application)) -> list[dict[str, Any]]:
    """Every subscriber, with their digests and topics."""
    return [
        {
            "email": v.subscriber.email,
            "name": v.subscriber.name,
            "status": v.subscriber.status,
            "digests": list(v.digests),
            "categories": list(v.categories),
            "created_at": v.subscriber.created_at.isoformat(),
        }
        for v in subscriptions.list_subscribers(app.engine)
    ]


@router.get("/subscribers/export", response_class=PlainTextResponse)
def export(app: Application = Depends(application)) -> PlainTextResponse:
    """Every subscriber as CSV (the columns `subscribers import` takes)."""
    out = io.StringIO()
    csv_files.export_subscribers(app.engine, out)
    return PlainTextResponse(out.getvalue(), media_type="text/csv; charset=utf-8")


@router.post("/subscribers/import")  # IMPORT_PATH
async def import_csv(
    request: Request, app: Application = Depends(application), who: str = Depends(actor)
) -> dict[str, int]:
    """Import a CSV body (the `subscribers export` columns), all or nothing; up to
    PUBLISHER_MAX_IMPORT_BYTES."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "request.csv"
        with path.open("wb") as out:
            async for chunk in request.stream():  # to disk as it comes, not into memory
                out.write(chunk)
        done = await run_in_threadpool(
            csv_files.import_subscribers,
            app.engine,
            path,
            known_digests=list(app.timetable.digests),
            zone=app.settings.zone,
            actor=who,
            now=app.clock(),
            label="POST /api/subscribers/import",
        )
    return {"created": done.created, "updated": done.updated, "merged": done.merged}


# ------------------------------------------------------------------------------ reports


@router.get("/reports")
def reports(
    include_resolved: bool = False, app: Application = Depends(application)
) -> list[dict[str, Any]]:
    """Readers' error reports, open ones only unless ``include_resolved``."""
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
        for r in subscriptions.list_reports(app.engine, include_resolved=include_resolved)
    ]


@router.post("/reports/{report_id}/resolve")
def resolve(
    report_id: Annotated[int, PathParam(ge=1, le=MAX_ID)],
    resolution: Annotated[Resolution | None, Body()] = None,
    app: Application = Depends(application),
    who: str = Depends(actor),
) -> dict[str, bool]:
    """Resolve a report; with a ``correction``, add it to the report's article too."""
    changed = publish.resolve_report(
        app.engine,
        report_id,
        now=app.clock(),
        actor=who,
        correction=resolution.correction if resolution else None,
    )
    return {"changed": changed}


# ------------------------------------------------------------- editions (issue 13)


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def edition_json(edition: Any, **extra: Any) -> dict[str, Any]:
    """What the API says of an edition: its state and who did what to it when."""
    return {
        "id": edition.id,
        "digest": edition.digest,
        "period_key": edition.period_key,
        "status": edition.status,
        "subject": edition.subject,
        "intro": edition.intro,
        "article_count": edition.article_count,
        "review_deadline_at": _when(edition.review_deadline_at),
        "approved_by": edition.approved_by or None,
        "approved_at": _when(edition.approved_at),
        "paused_by": edition.paused_by or None,
        "paused_at": _when(edition.paused_at),
        "resumed_by": edition.resumed_by or None,
        "resumed_at": _when(edition.resumed_at),
        "cancelled_by": edition.cancelled_by or None,
        "cancelled_at": _when(edition.cancelled_at),
        "kind": edition.kind,
        "audience": edition.audience or None,
        "in_archive": edition.in_archive,
        **extra,
    }


@router.post("/editions/{edition_id}/approve")
def approve(
    edition_id: EditionId,
    approval: Annotated[Approval | None, Body()] = None,
    app: Application = Depends(application),
    who: str = Depends(actor),
) -> dict[str, Any]:
    """Approve an edition awaiting review (optionally with stories taken out or reordered,
    another subject or intro line); sending starts. 409 unless it awaits review."""
    given = approval or Approval()
    edition = sends.approve(
        app.engine,
        app.settings,
        app.timetable,
        app.env,
        edition_id,
        actor=who,
        now=app.clock(),
        subject=given.subject,
        intro=given.intro,
        article_ids=given.article_ids,
    )
    return edition_json(edition)


@router.post("/editions/{edition_id}/pause")
def pause(
    edition_id: EditionId, app: Application = Depends(application), who: str = Depends(actor)
) -> dict[str, Any]:
    """Pause an edition while it sends (409 if it is not sending, or paused already)."""
    return edition_json(sends.pause(app.engine, edition_id, actor=who, now=app.clock()))


@router.post("/editions/{edition_id}/resume")
def resume(
    edition_id: EditionId, app: Application = Depends(application), who: str = Depends(actor)
) -> dict[str, Any]:
    """Resume a paused edition: what is still owed, nobody twice (409 unless paused)."""
    return edition_json(sends.resume(app.engine, edition_id, actor=who, now=app.clock()))


@router.post("/editions/{edition_id}/cancel")
def cancel(
    edition_id: EditionId, app: Application = Depends(application), who: str = Depends(actor)
) -> dict[str, Any]:
    """Cancel an edition: what is still owed is cancelled, never sent; how many."""
    count = sends.cancel(app.engine, edition_id, actor=who, now=app.clock())
    return edition_json(sends.find(app.engine, edition_id), cancelled=count)


@router.post("/editions/{edition_id}/test")
def test(
    edition_id: EditionId,
    body: TestSendRequest,
    app: Application = Depends(application),
    who: str = Depends(actor),
) -> dict[str, Any]:
    """Send a [Test] copy to at most 20 addresses; counted nowhere."""
    count = sends.test_send(
        app.engine,
        app.settings,
        app.timetable,
        app.env,
        str(edition_id),
        body.to,
        actor=who,
        now=app.clock(),
        reader=sends.AsReader(tuple(body.categories), body.language, tuple(body.stories_in)),
    )
    return {"sent": count, "to": len(body.to)}


@router.get("/editions")
def editions(
    digest: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    app: Application = Depends(application),
) -> list[dict[str, Any]]:
    """The newest editions, each with its status and delivery counts."""
    return [s.as_json() for s in stats.overview(app.engine, limit=limit, digest=digest)]


@router.get("/editions/{edition_id}")
def edition(
    edition_id: Annotated[int, PathParam(ge=1, le=MAX_ID)],
    app: Application = Depends(application),
) -> dict[str, Any]:
    """One edition: its figures, its progress (rate, time left) and its send rate over
    time (``series``: [time, messages] per interval)."""
    now = app.clock()
    figures = stats.figures(app.engine, app.settings, edition_id, now=now)
    return {
        **figures.as_json(),
        "progress": stats.progress(app.engine, edition_id, now=now).as_json(),
        "series": [[when.isoformat(), n] for when, n in stats.rate_series(app.engine, edition_id)],
    }
