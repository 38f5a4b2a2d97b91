"""Signing in to the newsroom: links, passwords, sessions, form tokens and roles."""

from __future__ import annotations

import hashlib
import json
from base64 import b64decode
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from itsdangerous import TimestampSigner
from sqlalchemy import Engine, select

from publisher import store
from publisher.newsroom import staff
from publisher.settings import Settings
from publisher.tokens import Signer
from publisher.web import create_app
from publisher.web.admin import session
from tests.newsroom import PASSWORD, add_person, form_token, newsroom_client, sign_in
from tests.support import NOW, make_settings


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


# --- issue 24: sessions that die with what they name ---------------------------------


def _api_client(engine: Engine, settings: Settings, tmp_path: Path) -> TestClient:
    """A client of an app whose API has a token: without a session, /api/ answers 401."""
    with_api = make_settings(
        tmp_path, PUBLISHER_DATABASE_URL=settings.database_url, PUBLISHER_API_TOKEN="t" * 32
    )
    return _client(engine, with_api)


def _replay(client: TestClient, cookie: str) -> TestClient:
    """``client`` carrying only ``cookie``, as an attacker with a copy of it would."""
    client.cookies.clear()
    client.cookies.set(session.COOKIE, cookie)
    return client


def test_a_removed_editors_cookie_opens_nothing_for_the_admin_added_after(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    """Issue 24, item 1: on SQLite the new admin got the removed editor's id and epoch, and
    the editor's old cookie opened /admin/people and /api/subscribers as them."""
    add_person(engine, settings, "chief@example.com", "admin")
    add_person(engine, settings, "ed@example.com", "editor")
    editor = _api_client(engine, settings, tmp_path)
    sign_in(editor, "ed@example.com")
    assert editor.get("/api/articles").status_code == 200
    cookie = editor.cookies[session.COOKIE]
    removed_id = next(p.id for p in staff.people(engine) if p.email == "ed@example.com")
    staff.remove_user(engine, "ed@example.com", actor="chief@example.com", now=NOW)
    add_person(engine, settings, "new@example.com", "admin")
    new_id = next(p.id for p in staff.people(engine) if p.email == "new@example.com")
    assert new_id != removed_id  # never the removed person's id again
    old = _replay(_api_client(engine, settings, tmp_path), cookie)
    assert old.get("/admin/people", follow_redirects=False).status_code == 303
    assert old.get("/api/subscribers").status_code == 401
    assert old.get("/admin/", follow_redirects=False).status_code == 303


def test_a_copied_cookie_opens_nothing_after_sign_out(engine: Engine, settings: Settings) -> None:
    """Issue 24, item 8: sign-out cleared only the browser's cookie; a copy still worked."""
    add_person(engine, settings, "ed@example.com")
    client = _client(engine, settings)
    token = sign_in(client, "ed@example.com")
    cookie = client.cookies[session.COOKIE]
    copy = _replay(_client(engine, settings), cookie)
    assert copy.get("/admin/", follow_redirects=False).status_code == 200  # a working copy
    client.post("/admin/logout", data={"csrf": token})
    assert copy.get("/admin/", follow_redirects=False).status_code == 303


def test_a_new_role_ends_the_persons_sessions(engine: Engine, settings: Settings) -> None:
    add_person(engine, settings, "chief@example.com", "admin")
    add_person(engine, settings, "ed@example.com", "editor")
    editor = _client(engine, settings)
    sign_in(editor, "ed@example.com")
    staff.set_role(engine, "ed@example.com", "admin", actor="chief@example.com", now=NOW)
    assert editor.get("/admin/", follow_redirects=False).status_code == 303
    sign_in(editor, "ed@example.com")  # signed in again: with the new role
    assert editor.get("/admin/people").status_code == 200


def test_the_session_id_is_random_and_only_its_hash_is_kept(
    engine: Engine, settings: Settings
) -> None:
    add_person(engine, settings, "ed@example.com")
    first, second = _client(engine, settings), _client(engine, settings)
    sign_in(first, "ed@example.com")
    sign_in(second, "ed@example.com")
    with store.reading(engine) as s:
        kept = s.execute(select(store.sessions_t.c.id_hash)).scalars().all()
    assert len(kept) == 2 and all(len(h) == 64 for h in kept)
    for client in (first, second):
        options = session.middleware_options(settings)
        data = json.loads(
            b64decode(TimestampSigner(options["secret_key"]).unsign(client.cookies[session.COOKIE]))
        )
        assert len(data["sid"]) >= 43  # 256 bits, URL-safe base64
        assert hashlib.sha256(data["sid"].encode()).hexdigest() in kept
        assert data["sid"] not in kept and "uid" not in data


def test_htmx_polls_do_not_keep_a_session_from_going_idle(
    engine: Engine, settings: Settings
) -> None:
    add_person(engine, settings, "ed@example.com")
    now = [NOW]
    client = _client(engine, settings, clock=lambda: now[0])
    sign_in(client, "ed@example.com")
    idle = timedelta(minutes=settings.admin_idle_minutes)
    poll = {"HX-Request": "true"}
    for minutes in range(0, settings.admin_idle_minutes, 10):  # a dashboard left open
        now[0] = NOW + timedelta(minutes=minutes)
        assert client.get("/admin/live", headers=poll).status_code == 200
    now[0] = NOW + idle + timedelta(minutes=1)
    stopped = client.get("/admin/live", headers=poll)
    assert stopped.status_code == 286  # the poll stops: the session is over
    assert client.get("/admin/", follow_redirects=False).status_code == 303
    # a request that is not a poll is activity: the idle time starts again
    active = _client(engine, settings, clock=lambda: now[0])
    sign_in(active, "ed@example.com")
    now[0] += idle - timedelta(minutes=2)
    assert active.get("/admin/").status_code == 200
    now[0] += idle - timedelta(minutes=2)
    assert active.get("/admin/", follow_redirects=False).status_code == 200


def test_sessions_that_ended_are_forgotten_at_the_next_sign_in(
    engine: Engine, settings: Settings
) -> None:
    add_person(engine, settings, "ed@example.com")
    now = [NOW]
    sign_in(_client(engine, settings, clock=lambda: now[0]), "ed@example.com")
    now[0] = NOW + timedelta(hours=settings.admin_session_hours, minutes=1)
    sign_in(_client(engine, settings, clock=lambda: now[0]), "ed@example.com")
    with store.reading(engine) as s:
        assert len(s.execute(select(store.sessions_t.c.id_hash)).all()) == 1
