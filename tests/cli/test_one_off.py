"""`publisher audiences ...` and `publisher send story|message` in a process of their own, to a
real SMTP server, on both databases; and the same through the admin API."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from publisher import store
from publisher.web import create_app
from tests.processes import cli
from tests.smtp import SmtpServer
from tests.support import make_settings

TOKEN = "editor-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
STORY = "---\ntitle: Bridges closed\nslug: bridges\ncategories: [Culture]\n---\nThe river rose.\n"


def _site(tmp_path: Path, database_url: str) -> None:
    (tmp_path / "bridges.md").write_text(STORY)
    assert cli(tmp_path, database_url, "init").returncode == 0
    assert cli(tmp_path, database_url, "articles", "add", "bridges.md").returncode == 0
    for address in ("a@example.com", "b@example.com"):
        added = cli(tmp_path, database_url, "subscribers", "add", address, "--confirmed")
        assert added.returncode == 0, added.stderr


@pytest.mark.slow
def test_audiences_and_sends_from_the_command_line(
    tmp_path: Path, database_url: str, smtp: SmtpServer
) -> None:
    _site(tmp_path, database_url)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return cli(tmp_path, database_url, *args, PUBLISHER_SMTP_URL=smtp.url)

    bad = run("audiences", "add", "culture", "--category", "nope")
    assert bad.returncode == 2 and "unknown category 'nope'" in bad.stderr
    bad = run("audiences", "add", "culture", "--joined-from", "yesterday")
    assert bad.returncode == 2 and "is not a date" in bad.stderr
    added = run("audiences", "add", "everyone")
    assert added.returncode == 0 and "everyone  2 member(s)" in added.stdout
    assert run("audiences", "add", "everyone").returncode == 2  # taken
    assert "everyone  2 member(s)" in run("audiences", "list").stdout
    asked = run("send", "story", "bridges", "--audience", "everyone")
    assert asked.returncode == 2 and "add --yes" in asked.stderr  # no terminal to confirm in
    tested = run("send", "story", "bridges", "--audience", "everyone", "--test", "me@example.com")
    assert tested.returncode == 0 and "[Test] copy went to 1" in tested.stdout
    sent = run("send", "story", "bridges", "--audience", "everyone", "--yes")
    assert sent.returncode == 0, sent.stderr
    assert "2 member(s) would get it" in sent.stdout and "sending to 2 member(s)" in sent.stdout
    assert smtp.recorder.counts() == {"me@example.com": 1, "a@example.com": 1, "b@example.com": 1}
    again = run("send", "story", "bridges", "--audience", "everyone", "--yes")
    assert again.returncode == 0 and "already sent: edition 1 (sent)" in again.stdout
    (tmp_path / "down.md").write_text("We are **down** tonight.\n")
    message = run(
        "send", "message", "down.md", "--audience", "everyone", "--subject", "Down", "--yes"
    )
    assert message.returncode == 0, message.stderr
    assert smtp.recorder.counts()["a@example.com"] == 2
    listing = run("digest", "list")
    assert listing.returncode == 0, listing.stderr
    missing = run("send", "story", "nope", "--audience", "everyone", "--yes")
    assert missing.returncode == 1 and "no story 'nope'" in missing.stderr
    assert run("audiences", "remove", "everyone").returncode == 0
    kept = run("audiences", "remove", "Everyone who wants breaking news")
    assert kept.returncode == 2 and "is built in" in kept.stderr
    assert "Everyone who wants breaking news  2 member(s)" in run("audiences", "list").stdout
    gone = run("send", "message", "down.md", "--audience", "everyone", "--subject", "X", "--yes")
    assert gone.returncode == 1 and "no audience named 'everyone'" in gone.stderr


def test_sends_and_audiences_through_the_api(
    engine: Engine, tmp_path: Path, database_url: str, smtp: SmtpServer
) -> None:
    settings = make_settings(
        tmp_path,
        PUBLISHER_DATABASE_URL=database_url,
        PUBLISHER_API_TOKEN=TOKEN,
        PUBLISHER_SMTP_URL=smtp.url,
    )
    client = TestClient(create_app(settings, engine, feed_upkeep_every=None))
    story = {"title": "Bridges", "categories": ["Culture"]}
    put = client.put("/api/articles/bridges", json=story, headers=AUTH)
    assert put.status_code == 200, put.text
    with store.writing(engine) as session:
        for address in ("a@example.com", "b@example.com"):
            store.upsert_subscriber(
                session, address, name="", status="confirmed", digests=["daily"], now=_now()
            )
    bad = client.post(
        "/api/audiences", json={"name": "x", "filter": {"status": "sure"}}, headers=AUTH
    )
    assert bad.status_code == 400 and "unknown status" in bad.json()["detail"]
    # The built-in audience is there from the start, first, and stays as it is.
    built_in = client.get("/api/audiences", headers=AUTH).json()[0]
    assert built_in["name"] == "Everyone who wants breaking news" and built_in["built_in"]
    assert built_in["filter"] == {"breaking": True} and built_in["members"] == 2
    gone = client.delete("/api/audiences/Everyone who wants breaking news", headers=AUTH)
    assert gone.status_code == 409 and "is built in" in gone.json()["detail"]
    over = client.post(
        "/api/audiences",
        json={"name": "Everyone who wants breaking news", "filter": {}, "replace": True},
        headers=AUTH,
    )
    assert over.status_code == 409 and "is built in" in over.json()["detail"]
    saved = client.post("/api/audiences", json={"name": "all", "filter": {}}, headers=AUTH)
    assert saved.status_code == 201 and saved.json()["members"] == 2
    assert client.get("/api/audiences/all", headers=AUTH).json()["breaking"] == 2
    moved = client.post(
        "/api/sends/story",
        json={"slug": "bridges", "audience": "all", "expected": 40},
        headers=AUTH,
    )
    assert moved.status_code == 409 and "now counts 2" in moved.json()["detail"]
    sent = client.post(
        "/api/sends/story", json={"slug": "bridges", "audience": "all", "expected": 2}, headers=AUTH
    )
    assert sent.status_code == 201, sent.text
    assert sent.json()["kind"] == "story" and sent.json()["started"] == 2
    again = client.post(
        "/api/sends/story", json={"slug": "bridges", "audience": "all"}, headers=AUTH
    )
    assert again.status_code == 200 and not again.json()["created"]
    listed = client.get("/api/editions", headers=AUTH).json()
    assert listed[0]["kind"] == "story" and listed[0]["audience"] == "all"
    tested = client.post(
        "/api/sends/test",
        json={"kind": "message", "to": ["me@example.com"], "subject": "Hi", "body": "Hello."},
        headers=AUTH,
    )
    assert tested.status_code == 200 and tested.json() == {"sent": 1, "to": 1}
    assert client.delete("/api/audiences/all", headers=AUTH).status_code == 200
    assert client.get("/api/audiences/all", headers=AUTH).status_code == 404


def _now() -> datetime:
    return datetime.now(UTC)
