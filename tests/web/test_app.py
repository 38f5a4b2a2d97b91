"""create_app assembles one router per area (web/app.py); each area's router stands alone."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from publisher.articles import publish
from publisher.settings import Settings
from publisher.web import create_app, errors, reader
from publisher.web.application import Application
from tests.support import EXAMPLES, NOW

READER_ROUTES = {
    ("GET", "/"),
    ("GET", "/articles/{slug}"),
    ("GET", "/subscribe"),
    ("POST", "/subscribe"),
    ("GET", "/confirm/{token}"),
    ("POST", "/confirm/{token}"),
    ("GET", "/subscription"),
    ("POST", "/subscription"),
    ("GET", "/subscription/{token}"),
    ("POST", "/subscription/{token}"),
    ("GET", "/unsubscribe/{token}"),
    ("POST", "/unsubscribe/{token}"),
    ("GET", "/preferences/{token}"),
    ("POST", "/preferences/{token}"),
    ("POST", "/preferences/{token}/sign-out"),
    ("GET", "/report"),
    ("POST", "/report"),
    ("GET", "/digests/"),
    ("GET", "/digests/{edition_id}"),
    ("GET", "/feed.xsl"),
    ("GET", "/metrics"),
    ("GET", "/healthz"),
}


def app_of(settings: Settings, engine: Engine) -> FastAPI:
    return create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None)


NO_ROUTE = "There is no page at this address."  # the routing's own 404 (web/errors.py)


def test_every_area_is_assembled(engine: Engine, settings: Settings) -> None:
    # Asked of the app, not of its route table: each route answers (an error of its own for a
    # token or slug that is not real), none falls through to "no page" or "method not allowed".
    client = TestClient(app_of(settings, engine))
    for method, path in sorted(READER_ROUTES):
        answer = client.request(method, path.replace("{edition_id}", "1").replace("{", "x{"))
        assert answer.status_code != 405 and NO_ROUTE not in answer.text, (method, path)
    assert NO_ROUTE in client.get("/no-such-page").text  # the check can fail
    assert client.post("/digests/").status_code == 405
    assert client.get("/docs").status_code == 404  # no API without its token
    assert client.get("/api/articles").status_code == 404


def test_an_area_router_stands_alone(engine: Engine, settings: Settings) -> None:
    # Its dependencies are passed in: no global state ties it to create_app.
    publish.import_articles(engine, settings, [EXAMPLES], now=NOW, actor="test")
    app = FastAPI(exception_handlers=errors.handlers())
    app.state.application = Application.of(settings, engine, clock=lambda: NOW)
    app.include_router(reader.router)
    client = TestClient(app)
    assert "Durian exporters switch to rail" in client.get("/").text
    missing = client.get("/articles/no-such-story")
    assert missing.status_code == 404 and "<html" in missing.text  # the error page
    assert client.get("/digests/").status_code == 404  # another area, not mounted here


def test_two_apps_share_no_state(engine: Engine, settings: Settings) -> None:
    # Each app has its own Application, so one app's per-client limit is not another's.
    def signups(client: TestClient) -> list[int]:
        bot = {"email": "x@example.com", "website": "bot"}  # the honeypot: counted, not stored
        return [client.post("/subscribe", data=bot).status_code for _ in range(11)]

    first, second = TestClient(app_of(settings, engine)), TestClient(app_of(settings, engine))
    assert signups(first)[-1] == 429
    assert signups(second) == [200] * 10 + [429]
