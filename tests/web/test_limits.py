"""Request bodies (issue 16, item 1): the API's token is checked before a byte of body is
read, every body is capped while it streams, and forms take no files. The app is called as
ASGI with a body that counts what was pulled from it, so "not read" is measured, not timed."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from publisher.web import create_app
from publisher.web.admin import signin
from publisher.web.limits import UNSIGNED_ADMIN_BYTES
from tests.newsroom import add_person, sign_in
from tests.support import NOW, make_settings

TOKEN = "editor-token-0123456789"
MIB = 1024 * 1024
CHUNK = b"[" + b" " * (MIB - 1)  # the start of a JSON list, then white space


class Body:
    """A request body of ``total`` bytes in 1 MiB chunks, made as it is pulled."""

    def __init__(self, total: int, chunk: bytes = CHUNK) -> None:
        self.total = total
        self.chunk = chunk
        self.pulled = 0

    async def receive(self) -> dict[str, Any]:
        if self.pulled >= self.total:
            await asyncio.Event().wait()  # a client that sent it all waits for the answer
        piece = self.chunk[: self.total - self.pulled]
        self.pulled += len(piece)
        return {"type": "http.request", "body": piece, "more_body": self.pulled < self.total}


def call(
    app: Any, method: str, path: str, body: Body, headers: dict[str, str]
) -> tuple[int, dict[bytes, bytes], bytes]:
    """Status, headers and body of ``app``'s answer to one request."""
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("203.0.113.9", 40000),
        "server": ("news.example.com", 80),
        "state": {},
    }
    # In a thread of its own: a running event loop in this one (Playwright's, say) must not
    # stop asyncio.run.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, asyncio.wait_for(app(scope, body.receive, send), 60)).result()
    start = next(m for m in sent if m["type"] == "http.response.start")
    content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], dict(start["headers"]), content


@pytest.fixture
def app(engine: Engine, tmp_path: Path, database_url: str) -> Iterator[Any]:
    settings = make_settings(
        tmp_path, PUBLISHER_DATABASE_URL=database_url, PUBLISHER_API_TOKEN=TOKEN
    )
    yield create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None)


def test_a_huge_api_body_without_a_token_is_refused_unread(app: Any) -> None:
    # The attack: 72 MB to POST /api/articles with no token (or a wrong one, or the token
    # without its "Bearer " scheme) was read and parsed before the 401.
    for headers in (
        {"content-type": "application/json", "content-length": str(72 * MIB)},
        {"content-type": "application/json", "transfer-encoding": "chunked"},
        {"content-type": "application/json", "authorization": "Bearer wrong"},
        {"content-type": "application/json", "authorization": TOKEN},
    ):
        body = Body(72 * MIB)
        status, answer, _ = call(app, "POST", "/api/articles", body, headers)
        assert status == 401, headers
        assert body.pulled == 0, headers
        assert answer[b"www-authenticate"] == b"Bearer" and answer[b"connection"] == b"close"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_with_the_api_off_every_api_path_is_a_404(
    engine: Engine, tmp_path: Path, database_url: str
) -> None:
    settings = make_settings(tmp_path, PUBLISHER_DATABASE_URL=database_url)
    app = create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None)
    body = Body(72 * MIB)
    status, _, _ = call(app, "POST", "/api/articles", body, {"content-type": "application/json"})
    assert (status, body.pulled) == (404, 0)  # not a 422 for the unparsable body
    client = TestClient(app)
    assert client.post("/api/articles", content=b"{nope").status_code == 404
    assert client.get("/api").status_code == 404
    # Nor is the API described where there is none.
    assert client.get("/docs").status_code == 404
    assert client.get("/openapi.json").status_code == 404


def test_every_body_is_capped_as_it_streams(app: Any) -> None:
    auth = {"authorization": f"Bearer {TOKEN}", "content-type": "application/json"}
    declared = Body(72 * MIB)
    status, answer, _ = call(
        app, "POST", "/api/articles", declared, {**auth, "content-length": str(72 * MIB)}
    )
    assert (status, declared.pulled) == (413, 0)  # refused on its Content-Length alone
    assert answer[b"connection"] == b"close"
    chunked = Body(72 * MIB)
    status, answer, text = call(app, "POST", "/api/articles", chunked, auth)
    assert status == 413 and b"larger than 2 MB" in text
    assert chunked.pulled <= 2 * MIB + len(CHUNK)  # stopped at the default limit
    assert answer[b"connection"] == b"close"


def test_a_huge_form_is_refused_before_it_is_parsed(app: Any) -> None:
    # The attack: a 150 MB form of 150 fields of 1 MB, parsed whole. A field is refused past
    # 64 KiB (a 400), long before the body limit.
    headers = {"content-type": "application/x-www-form-urlencoded"}
    big_fields = Body(150 * MIB, chunk=b"email=a%40example.com&f=" + b"x" * (MIB - 24))
    status, _, _ = call(app, "POST", "/subscribe", big_fields, headers)
    assert status == 400 and big_fields.pulled <= MIB
    # Fields under that, and fewer than the 300 a form may have: the body limit stops it.
    field = b"&f=" + b"x" * 60_000
    small_fields = Body(150 * MIB, chunk=b"email=a%40example.com" + field * 17)
    status, answer, page = call(app, "POST", "/subscribe", small_fields, headers)
    assert status == 413 and small_fields.pulled <= 2 * MIB + MIB
    assert b"larger than 2 MB" in page and b"<!doctype html>" in page.lower()
    assert b"content-security-policy" in answer  # an error page carries the headers too


def test_reader_forms_take_no_files(app: Any) -> None:
    client = TestClient(app)
    upload = client.post(
        "/subscribe",
        data={"email": "reader@example.com", "website": "bot"},
        files={"attachment": ("a.txt", b"hello", "text/plain")},
    )
    assert upload.status_code == 400
    assert client.post("/subscribe", data={"email": "reader@example.com"}).status_code == 200


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_csv_import_has_its_own_larger_limit(
    engine: Engine, tmp_path: Path, database_url: str
) -> None:
    # The general limit is lowered to its minimum so that a small CSV is over it: the import
    # must still take it (PUBLISHER_MAX_IMPORT_BYTES), and an article body of that size not.
    settings = make_settings(
        tmp_path,
        PUBLISHER_DATABASE_URL=database_url,
        PUBLISHER_API_TOKEN=TOKEN,
        PUBLISHER_MAX_BODY_BYTES="1024",
    )
    client = TestClient(create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None))
    auth = {"Authorization": f"Bearer {TOKEN}"}
    rows = "".join(f"reader{n}@example.com,Reader {n}\n" for n in range(100))
    csv = ("email,name\n" + rows).encode()
    assert len(csv) > 1024
    imported = client.post("/api/subscribers/import", headers=auth, content=csv)
    assert imported.status_code == 200 and imported.json()["created"] == 100
    articles = client.post("/api/articles", headers=auth, content=b"[" + b" " * 2000 + b"]")
    assert articles.status_code == 413


def test_an_out_of_range_date_is_a_clear_400(app: Any) -> None:
    # The attack: 9999-12-31T23:59:59-23:59 is past year 9999 in UTC, and was a bare 500.
    client = TestClient(app, raise_server_exceptions=False)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for when in ("9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"):
        answer = client.post(
            "/api/articles", headers=auth, json=[{"title": "Far", "published_at": when}]
        )
        assert answer.status_code == 400, answer.text
        assert "out of range" in answer.json()["problems"][0]
        assert "content-security-policy" in answer.headers


def test_an_admin_post_without_a_session_is_refused_unread(app: Any) -> None:
    """Issue 24, item 7: without a session, a 50 MB upload to /admin/subscribers/import was
    spooled and a 58 MB form parsed (and written back into the sign-in page) before the 401.
    Now the cookie is looked at first, and such a request gets UNSIGNED_ADMIN_BYTES."""
    multipart = {"content-type": "multipart/form-data; boundary=x"}
    declared = Body(5 * MIB)
    status, answer, page = call(
        app,
        "POST",
        "/admin/subscribers/import",
        declared,
        {**multipart, "content-length": str(5 * MIB), "cookie": "newsroom=forged"},
    )
    assert (status, declared.pulled) == (413, 0)  # refused on its Content-Length alone
    assert b"not signed in" in page and answer[b"connection"] == b"close"
    part = b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\n'
    form = {"content-type": "application/x-www-form-urlencoded"}
    for path, kind, piece in (  # each chunk goes on with the one part's data
        ("/admin/subscribers/import", multipart, part + b"x" * (16384 - len(part))),
        ("/admin/articles/new", form, b"body=" + b"x" * 16379),
        ("/admin/login", form, b"email=" + b"x" * 16378),
    ):
        chunked = Body(5 * MIB, chunk=piece)
        status, _, _ = call(app, "POST", path, chunked, kind)
        assert status == 413, path
        assert chunked.pulled <= UNSIGNED_ADMIN_BYTES + len(piece), path


def test_the_sign_in_page_writes_back_a_bounded_form(
    app: Any, engine: Engine, tmp_path: Path, database_url: str
) -> None:
    client = TestClient(app, base_url="https://news.example.com")
    fields = {f"f{n}": '"' * 80 for n in range(250)}  # 60 KB that escaping makes larger
    ended = client.post("/admin/articles/new", data=fields)
    assert ended.status_code == 401 and "Your session ended" in ended.text
    assert ended.text.count('name="kept:f') <= signin.MAX_KEPT
    assert len(ended.text) < 2 * signin.MAX_KEPT_CHARS * 6 // 5 + 20_000
    # a signed-in admin still sends more than that (the limit is only for no session)
    settings = make_settings(tmp_path, PUBLISHER_DATABASE_URL=database_url)
    add_person(engine, settings, "chief@example.com", "admin")
    signed = TestClient(app, base_url="https://news.example.com")
    token = sign_in(signed, "chief@example.com")
    long = signed.post("/admin/people", data={"csrf": token, "email": "x" * 100_000})
    assert long.status_code == 400
