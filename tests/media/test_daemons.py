"""Two daemons on one PostgreSQL database (`publisher run`, real processes): a picture
uploaded through one is served by the other, byte for byte, with the same immutable headers;
an imported story's image address is fetched by the daemons' keepers and kept once, and both
show it on the story's page."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from publisher.articles import publish
from publisher.media import library
from tests.browser import free_port
from tests.feedserver import FeedServer
from tests.newsroom import PASSWORD, add_person
from tests.pictures import picture
from tests.processes import daemon_env, start_daemon, stop_daemons
from tests.smtp import SmtpServer
from tests.support import make_settings, wait_for

EDITOR = "desk@example.com"
TOKEN = re.compile(r'name="csrf" value="([^"]+)"')


def _signed_in(base: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=base, timeout=30)
    login = client.get("/admin/login")
    token = TOKEN.search(login.text)
    assert token, login.text
    answer = client.post("/admin/login", data={"email": EDITOR, "password": PASSWORD,
                                               "csrf": token[1]})  # fmt: skip
    assert answer.status_code == 303, answer.text
    found = TOKEN.search(client.get("/admin/").text)
    assert found
    return client, found[1]


@pytest.mark.slow  # processes
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_daemons_serve_what_either_kept(
    engine: Engine, tmp_path: Path, database_url: str
) -> None:
    settings = make_settings(tmp_path, PUBLISHER_DATABASE_URL=database_url)
    add_person(engine, settings, EDITOR)
    smtp = SmtpServer()
    smtp.start()
    ports = free_port(), free_port()
    envs = [daemon_env(tmp_path, database_url, smtp, settings.schedules, p) for p in ports]
    daemons = [start_daemon(env, port, tmp_path) for env, port in zip(envs, ports, strict=True)]
    one, two = (f"http://127.0.0.1:{p}" for p in ports)
    try:
        client, token = _signed_in(one)
        uploaded = client.post(
            "/admin/media",
            data={"csrf": token, "picture_alt": "Boats at the pier", "picture_credit": "Mei"},
            files={"picture_file": ("boats.jpg", picture(1700, 1000), "image/jpeg")},
        )
        assert uploaded.status_code == 303, uploaded.text
        picture_id = int(uploaded.headers["location"].split("?")[0].rsplit("/", 1)[1])
        kept = library.picture(engine, picture_id)
        for f in kept.files:
            here = httpx.get(f"{one}/media/{f.name}")
            there = httpx.get(f"{two}/media/{f.name}")
            assert there.status_code == 200 and there.content == here.content
            assert there.headers["etag"] == here.headers["etag"] == f'"{f.name}"'
            assert there.headers["cache-control"].endswith("immutable")
            assert int(there.headers["content-length"]) == f.length
        # An imported story's address: the daemons' keepers fetch it; both show our copy.
        with FeedServer() as server:
            address = server.serve("/ferry.png", picture(900, 600, "PNG"),
                                   content_type="image/png")  # fmt: skip
            publish.import_objects(
                engine, settings, [{"title": "Ferry", "slug": "ferry", "image": address}],
                source="test", now=datetime.now(UTC), actor="test",
            )  # fmt: skip
            shown = wait_for(lambda: publish.article_any(engine, "ferry").picture, "a picture")
            assert shown.source_url == address
        assert library.find(engine, "", offset=0, limit=10)[1] == 2  # kept once
        for base in (one, two):
            page = httpx.get(f"{base}/articles/ferry").text
            assert f"/media/{shown.pick(960).name}" in page and "127.0.0.1:" in page
            assert address not in page
    finally:
        stop_daemons(*daemons)
        smtp.stop()
