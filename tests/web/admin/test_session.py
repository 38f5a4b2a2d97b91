"""Signing in to the newsroom: links, passwords, sessions, form tokens and roles."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from publisher.newsroom import staff
from publisher.settings import Settings
from publisher.tokens import Signer
from publisher.web import create_app
from tests.newsroom import PASSWORD, add_person, form_token, newsroom_client, sign_in
from tests.support import NOW


def _client(
    engine: Engine, settings: Settings, clock: Callable[[], datetime] = lambda: NOW
) -> TestClient:
    return newsroom_client(
        create_app(settings, engine, clock=clock, feed_upkeep_every=None), settings
    )


def test_the_first_run_link_makes_the_first_admin_once(engine: Engine, settings: Settings) -> None:
    signer = Signer.of(settings.secret_key)
    link = staff.first_run_link(engine, settings.site_url, signer, now=NOW)
    assert link is not None and link.startswith("https://news.example.com/admin/welcome/")
    client = _client(engine, settings)
    path = link.removeprefix(settings.site_url)
    page = client.get(path)
    assert page.status_code == 200 and "first admin" in page.text
    short = client.post(
        path,
        data={
            "email": "chief@example.com",
            "password": "short",
            "again": "short",
            "csrf": form_token(page.text),
        },
    )
    assert short.status_code == 400 and "at least 10 characters" in short.text
    assert 'value="chief@example.com"' in short.text  # nothing typed is lost
    done = client.post(
        path,
        data={
            "email": "chief@example.com",
            "password": PASSWORD,
            "again": PASSWORD,
            "csrf": form_token(page.text),
        },
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert "chief@example.com" in client.get("/admin/").text
    assert client.get(path).status_code == 400  # used once
    assert staff.first_run_link(engine, settings.site_url, signer, now=NOW) is None


def test_no_newsroom_page_without_a_session(engine: Engine, settings: Settings) -> None:
    client = _client(engine, settings)
    answer = client.get("/admin/", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/admin/login?next=/admin/"
    assert answer.headers["x-robots-tag"] == "noindex, nofollow"
    assert answer.headers["cache-control"] == "no-store"


def test_a_wrong_password_is_refused_with_one_message(engine: Engine, settings: Settings) -> None:
    add_person(engine, settings, "ed@example.com")
    client = _client(engine, settings)
    token = form_token(client.get("/admin/login").text)
    for email, password in (
        ("ed@example.com", "wrong password!"),
        ("nobody@example.com", PASSWORD),
    ):
        answer = client.post(
            "/admin/login", data={"email": email, "password": password, "csrf": token}
        )
        assert answer.status_code == 403 and "wrong address or password" in answer.text
        assert client.get("/admin/", follow_redirects=False).status_code == 303


def test_a_form_without_its_token_changes_nothing(engine: Engine, settings: Settings) -> None:
    add_person(engine, settings, "ed@example.com")
    client = _client(engine, settings)
    sign_in(client, "ed@example.com")
    for data in ({}, {"csrf": "forged" * 8}):
        answer = client.post("/admin/logout", data=data, follow_redirects=False)
        assert answer.status_code == 403
    assert client.get("/admin/", follow_redirects=False).status_code == 200


def test_sign_out_everywhere_ends_other_sessions(engine: Engine, settings: Settings) -> None:
    add_person(engine, settings, "ed@example.com")
    first, second = _client(engine, settings), _client(engine, settings)
    sign_in(first, "ed@example.com")
    token = sign_in(second, "ed@example.com")
    second.post("/admin/sign-out-everywhere", data={"csrf": token})
    assert first.get("/admin/", follow_redirects=False).status_code == 303


def test_a_session_ends_after_its_longest_life(engine: Engine, settings: Settings) -> None:
    add_person(engine, settings, "ed@example.com")
    now = [NOW]
    client = _client(engine, settings, clock=lambda: now[0])
    sign_in(client, "ed@example.com")
    now[0] = NOW + timedelta(hours=settings.admin_session_hours, seconds=1)
    assert client.get("/admin/", follow_redirects=False).status_code == 303


def test_an_editor_is_refused_admin_pages(engine: Engine, settings: Settings) -> None:
    add_person(engine, settings, "ed@example.com", "editor")
    client = _client(engine, settings)
    sign_in(client, "ed@example.com")
    page = client.get("/admin/")
    assert "/admin/subscribers" not in page.text  # not offered


def test_a_newsroom_address_that_names_nothing_gets_a_newsroom_page(
    engine: Engine, settings: Settings
) -> None:
    add_person(engine, settings, "amir@news.example.com", "admin")
    client = _client(engine, settings)
    sign_in(client, "amir@news.example.com")
    for address in ("/admin/people/abc", "/admin/subscribers/0", "/admin/articles/999999"):
        answer = client.get(address)
        assert answer.status_code == 404, address
        assert "Back to the newsroom" in answer.text and "/static/admin.css" in answer.text
        assert "script-src 'self'" in answer.headers["content-security-policy"]
        assert answer.headers["cache-control"] == "no-store"
    assert client.get("/admin/articles?page=abc").status_code == 400
    # The API keeps its JSON answer, for programs.
    api = client.get("/api/articles/abc")
    assert api.headers["content-type"].startswith("application/json")
