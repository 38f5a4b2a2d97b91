"""The admin API, on both databases: the bearer token, and the same validation as the CLI."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from publisher.web import create_app
from tests.support import make_settings

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
TOKEN = "editor-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def client(engine: Engine, tmp_path: Path, database_url: str) -> TestClient:
    settings = make_settings(
        tmp_path, PUBLISHER_DATABASE_URL=database_url, PUBLISHER_API_TOKEN=TOKEN
    )
    return TestClient(create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None))


def test_without_a_configured_token_the_api_is_not_there(
    engine: Engine, tmp_path: Path, database_url: str
) -> None:
    settings = make_settings(tmp_path, PUBLISHER_DATABASE_URL=database_url)
    client = TestClient(create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None))
    assert client.get("/api/articles", headers=AUTH).status_code == 404


def test_a_wrong_or_missing_token_is_refused(client: TestClient) -> None:
    assert client.get("/api/articles").status_code == 401
    wrong = client.get("/api/articles", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"


def test_articles_through_the_api(client: TestClient) -> None:
    created = client.post(
        "/api/articles",
        headers=AUTH,
        json=[
            {
                "title": "Rail freight opens",
                "body": "**Bold** news",
                "categories": ["Trade"],
                "published_at": "2026-11-30T08:00:00+08:00",
            },
        ],
    )
    assert created.status_code == 200, created.text
    assert created.json() == {
        "created": 1,
        "updated": 0,
        "unchanged": 0,
        "suggested_languages": {},
    }
    bad = client.post("/api/articles", headers=AUTH, json=[{"title": "ok"}, {"headline": "x"}])
    assert bad.status_code == 400
    assert (
        bad.json()["problems"] == ["request:2: title: is required"]
        or "request:2" in bad.json()["problems"][0]
    )
    put = client.put(
        "/api/articles/rail-freight-opens", headers=AUTH, json={"title": "Rail freight opens today"}
    )
    assert put.json()["updated"] == 1
    corrected = client.post(
        "/api/articles/rail-freight-opens/corrections",
        headers=AUTH,
        json={"note": "The line opens at 9, not 8."},
    )
    assert corrected.status_code == 200
    assert corrected.json()["corrections"][0]["note"] == "The line opens at 9, not 8."
    # Readers saw it: unpublishing (no page left) is refused, naming the withdraw endpoint.
    refused = client.post("/api/articles/rail-freight-opens/unpublish", headers=AUTH)
    assert refused.status_code == 409, refused.text
    assert "readers have seen 'rail-freight-opens'" in refused.text
    assert "POST /api/articles/rail-freight-opens/withdraw" in refused.text
    assert client.get("/articles/rail-freight-opens").status_code == 200
    assert client.post("/api/articles/nope/unpublish", headers=AUTH).status_code == 404
    [listed] = client.get("/api/articles", headers=AUTH).json()
    assert listed["id"].startswith("tag:") and listed["title"] == "Rail freight opens today"
    assert listed["status"] == "published"
    withdrawn = client.post(
        "/api/articles/rail-freight-opens/withdraw",
        headers=AUTH,
        json={"note": "the opening was postponed"},
    )
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["status"] == "withdrawn" and withdrawn.json()["editions"] == 0
    assert withdrawn.json()["withdrawn_reason"] == "the opening was postponed"
    page = client.get("/articles/rail-freight-opens")
    assert page.status_code == 200 and "the opening was postponed" in page.text
    again = client.post("/api/articles/rail-freight-opens/unpublish", headers=AUTH)
    assert again.status_code == 409 and "is withdrawn" in again.text
    # A story nobody saw (scheduled) is unpublished; asking twice changes nothing.
    client.post(
        "/api/articles",
        headers=AUTH,
        json=[{"title": "Later", "slug": "later", "published_at": "2026-12-30T08:00:00+08:00"}],
    )
    for _ in range(2):
        gone = client.post("/api/articles/later/unpublish", headers=AUTH)
        assert gone.status_code == 200 and gone.json()["status"] == "unpublished"


def test_subscribers_and_reports_through_the_api(client: TestClient) -> None:
    imported = client.post(
        "/api/subscribers/import",
        headers=AUTH,
        content=b"email,name\nA@Example.com,Aisyah\nb@example.com,\n",
    )
    assert imported.json() == {"created": 2, "updated": 0, "merged": 0}
    bad = client.post("/api/subscribers/import", headers=AUTH, content=b"email\nnope\n")
    assert bad.status_code == 400 and "request.csv:2" in bad.json()["problems"][0]
    assert [s["email"] for s in client.get("/api/subscribers", headers=AUTH).json()] == [
        "a@example.com",
        "b@example.com",
    ]
    export = client.get("/api/subscribers/export", headers=AUTH)
    assert export.headers["content-type"].startswith("text/csv")
    assert export.text.startswith(
        "email,name,status,digests,created_at,confirmed_at,categories,language,story_languages,"
        "breaking\n"
    )
    assert client.get("/api/reports", headers=AUTH).json() == []
    assert client.post("/api/reports/9/resolve", headers=AUTH).status_code == 404


def test_the_api_is_documented(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/api/articles" in spec["paths"] and "/api/subscribers/import" in spec["paths"]
    assert client.get("/docs").status_code == 200
