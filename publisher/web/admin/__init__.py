"""The newsroom (``/admin/``): one module per area, each with its module-level router, all
gathered here under ``/admin``; every page takes the signed-in person through
``session.editor`` or ``session.admin`` (which also check the form token)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.middleware.sessions import SessionMiddleware

from publisher.settings import Settings
from publisher.templating import make_environment
from publisher.web.admin import (
    account,
    articles,
    audiences,
    audit,
    dashboard,
    editions,
    inbox,
    look,
    media_library,
    people,
    reports,
    sending_now,
    session,
    signin,
    subscriber_files,
    subscribers,
)

__all__ = ["IMPORT_PATH", "PICTURE_PATHS", "api_session", "install", "router", "signed_in"]

api_session = session.api_caller
signed_in = session.signed_in
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
IMPORT_PATH = subscriber_files.IMPORT_PATH
# Forms that take a picture (issue 26): the article form (new, and each story's) and the
# media library's upload, each up to PUBLISHER_PICTURE_MAX_BYTES besides its text.
PICTURE_PATHS = ("/admin/articles/new", "/admin/articles/{id}", media_library.UPLOAD_PATH)


router = APIRouter(prefix="/admin", include_in_schema=False)
"""Every newsroom page, under /admin."""
router.include_router(signin.router)
router.include_router(dashboard.router)
router.include_router(articles.router)
router.include_router(inbox.router)
router.include_router(reports.router)
router.include_router(media_library.router)  # /admin/media: the media library (issue 26)
router.include_router(editions.router)
router.include_router(sending_now.router)  # breaking news and messages (issue 27)
router.include_router(audiences.router)
router.include_router(account.router)
router.include_router(people.router)
router.include_router(look.router)
# subscriber_files before subscribers: its /subscribers/import is not a subscriber's id.
router.include_router(subscriber_files.router)
router.include_router(subscribers.router)
router.include_router(audit.router)


def install(app: FastAPI, settings: Settings) -> None:
    """The session cookie and the sign-in redirect on ``app`` (call before the outer
    middleware, so that the session is read inside them)."""
    env = make_environment(zone=settings.zone)

    async def sign_in_first(request: Request, exc: Exception) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": "not signed in"}, status_code=401)
        if request.method in session.SAFE_METHODS:
            query = f"?{request.url.query}" if request.url.query else ""
            target = quote(request.url.path + query)
            return RedirectResponse(f"/admin/login?next={target}", status_code=303)
        if not request.headers.get("content-type", "").startswith(FORM_TYPES):
            return RedirectResponse("/admin/login", status_code=303)
        # A form sent after the session ended (idle too long): nothing is done, and nothing
        # typed is lost either. The sign-in form carries it, and after signing in a page
        # offers to send it again (with the new session's form token).
        form = await request.form()
        html = env.get_template("admin/login.html").render(
            settings=settings,
            staff=None,
            csrf=session.csrf_token(request),
            path=request.url.path,
            email="",
            error="",
            next=signin.safe_next(request.url.path),
            kept=signin.kept_fields(form, prefixed=False),
        )
        return HTMLResponse(html, status_code=401)

    app.add_middleware(SessionMiddleware, **session.middleware_options(settings))
    app.add_exception_handler(session.SignInNeeded, sign_in_first)
