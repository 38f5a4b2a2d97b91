"""Helpers for newsroom tests: add a person with a password, sign a test client in."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from publisher.newsroom import staff
from publisher.settings import Settings
from publisher.tokens import Signer
from tests.conftest import NOW

PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def add_person(
    engine: Engine, settings: Settings, email: str, role: str = "editor", password: str = PASSWORD
) -> None:
    """``email`` can sign in with ``password`` as ``role``."""
    signer = Signer.of(settings.secret_key)
    link = staff.add_user(engine, settings.site_url, signer, email, role, actor="test", now=NOW)
    staff.set_password(engine, signer, link.rsplit("/", 1)[1], password, now=NOW)


def form_token(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "the page has no form token"
    return found[1]


def sign_in(client: TestClient, email: str, password: str = PASSWORD) -> str:
    """Sign ``client`` in through the login form; the session's form token."""
    login = client.get("/admin/login")
    answer = client.post(
        "/admin/login",
        data={"email": email, "password": password, "csrf": form_token(login.text)},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    return form_token(client.get("/admin/").text)


def newsroom_client(app: object, settings: Settings) -> TestClient:
    """A client at the site's own address (its session cookie is Secure on https)."""
    return TestClient(app, base_url=settings.site_url)  # type: ignore[arg-type]
