"""HEAD on every GET route (web/head.py): the routes are taken from the app's own table, so a
new GET route is covered without a change here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from publisher import store
from publisher.articles import publish
from publisher.web import create_app
from tests.newsroom import add_person, newsroom_client, sign_in
from tests.support import EXAMPLES, NOW, make_settings

# A value for each path parameter the routes use; a route with a new one fails below until
# it has one here.
EXAMPLE_PARAMS = {
    "slug": "durian-exports-rail",
    "token": "not-a-real-token",
    "key": "not-a-real-key",
    "edition_id": "1",
    "raw_id": "1",
    "article_id": "1",
    "item_id": "1",
    "report_id": "1",
    "person_id": "1",
    "subscriber_id": "1",
    "number": "1",
    "name": f"{'0' * 32}-480.jpg",  # /media/{name}: one that is not there (test_media.py)
    "picture_id": "1",
}
# Headers that may differ between two answers to the same request.
VOLATILE = {"date", "set-cookie", "content-length", "etag", "last-modified"}


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    token = "t" * 40
    settings = make_settings(
        tmp_path, PUBLISHER_DATABASE_URL=f"sqlite:///{tmp_path}/h.db", PUBLISHER_API_TOKEN=token
    )
    engine: Engine = store.make_engine(settings.database_url)
    store.migrate(engine)
    publish.import_articles(engine, settings, [EXAMPLES], now=NOW, actor="test")
    add_person(engine, settings, "chief@example.com", role="admin")
    client = newsroom_client(
        create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None), settings
    )
    sign_in(client, "chief@example.com")
    return client


def get_paths(client: TestClient) -> list[str]:
    """Every GET route of the app, its parameters filled in."""
    paths = []
    for route in iter_route_contexts(client.app.routes):  # type: ignore[attr-defined]
        if not route.methods or "GET" not in route.methods or route.path is None:
            continue
        names = re.findall(r"{(\w+)(?::\w+)?}", route.path)
        missing = [name for name in names if name not in EXAMPLE_PARAMS]
        assert not missing, f"{route.path}: add an example value for {missing} above"
        paths.append(re.sub(r"{(\w+)(?::\w+)?}", lambda m: EXAMPLE_PARAMS[m[1]], route.path))
    return paths


def test_every_get_route_answers_head_with_the_get_headers_and_no_body(
    client: TestClient,
) -> None:
    paths = get_paths(client)
    assert {"/", "/healthz", "/articles/durian-exports-rail", "/admin/", "/digests/"} <= set(paths)
    for path in paths:
        head = client.head(path, follow_redirects=False)
        get = client.get(path, follow_redirects=False)
        assert head.status_code == get.status_code, (path, head.status_code, get.status_code)
        assert head.content == b"", path
        assert {k: v for k, v in head.headers.items() if k not in VOLATILE} == {
            k: v for k, v in get.headers.items() if k not in VOLATILE
        }, path
        if "content-length" in get.headers and path != "/metrics":
            assert head.headers["content-length"] == get.headers["content-length"], path


def test_head_answers_the_pages_a_check_asks_for_and_nothing_more(client: TestClient) -> None:
    for path in ("/", "/healthz", "/articles/durian-exports-rail", "/feed.xml", "/static/site.css"):
        answer = client.head(path)
        assert answer.status_code == 200 and answer.content == b"", path
        assert int(answer.headers["content-length"]) > 0, path
    assert client.head("/no-such-page").status_code == 404
    # A path that only takes posts still says so.
    assert client.head("/admin/logout").status_code == 405
