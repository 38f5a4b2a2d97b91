"""The HTTP app: pages for readers. Each route parses, calls one use case, renders."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine

from publisher import publish, store
from publisher.errors import PublisherError
from publisher.settings import Settings
from publisher.templating import TEMPLATES, make_environment

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def create_app(settings: Settings, engine: Engine, *, clock: Clock = _utcnow) -> FastAPI:
    """The web app over ``engine``; ``clock`` is the only source of "now"."""
    app = FastAPI(title=settings.site_title, docs_url="/docs", redoc_url=None)
    env = make_environment()
    app.mount("/static", StaticFiles(directory=TEMPLATES / "static"), name="static")

    def page(name: str, status: int = 200, **values: Any) -> HTMLResponse:
        html = env.get_template(f"pages/{name}").render(settings=settings, **values)
        return HTMLResponse(html, status_code=status)

    @app.exception_handler(PublisherError)
    async def _publisher_error(request: Request, exc: PublisherError) -> Response:
        return page("error.html", exc.http_status, message=exc.message)

    @app.get("/", response_class=HTMLResponse)
    def index() -> HTMLResponse:
        articles = publish.latest(engine, settings, now=clock())
        return page("index.html", articles=articles)

    @app.get("/articles/{slug}", response_class=HTMLResponse)
    def article(slug: str) -> HTMLResponse:
        view = publish.article(engine, slug, now=clock())
        return page("article.html", view=view, article=view.article)

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        try:
            store.ping(engine)
        except PublisherError as exc:
            return JSONResponse({"status": "error", "database": exc.message}, status_code=503)
        return JSONResponse({"status": "ok", "database": "ok"})

    return app


class _Server(uvicorn.Server):
    """uvicorn re-raises SIGTERM after a graceful stop, so the process would die of the
    signal; ops (and systemd) expect a clean exit 0 after a clean shutdown."""

    def handle_exit(self, sig: int, frame: Any) -> None:
        super().handle_exit(sig, frame)
        self._captured_signals.clear()


def serve(app: FastAPI, *, host: str, port: int) -> None:
    """Serve ``app`` until SIGTERM or SIGINT, then return normally."""
    config = uvicorn.Config(app, host=host, port=port, log_level="info", proxy_headers=True)
    _Server(config).run()
