"""Helpers for newsroom tests: add a person with a password, sign a test client or a browser
page in, and a known newsroom's rows for the dashboard."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, update

from publisher import store
from publisher.articles import publish
from publisher.newsroom import staff
from publisher.settings import Settings
from publisher.tokens import Signer
from tests.support import NOW

__all__ = [
    "PASSWORD",
    "add_person",
    "form_token",
    "newsroom_client",
    "newsroom_rows",
    "set_delivery",
    "sign_in",
    "sign_in_page",
]

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
    """The form token (csrf) of the first form in ``html``."""
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


def sign_in_page(
    page: Any, url: str, email: str = "chief@example.com", path: str = "/admin/"
) -> None:
    """Sign a browser page in at ``url``'s newsroom as ``email``: it asks for ``path`` (the
    dashboard unless given), signs in on the form it is sent to, and is taken back there."""
    page.goto(url + path)
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(url + path)


def _subscriber(engine: Engine, email: str, status: str, created: datetime) -> int:
    with store.writing(engine) as session:
        row, _ = store.upsert_subscriber(
            session, email, name="", status=status, digests=["daily"], now=NOW, created_at=created
        )
    return row.id or 0


def _edition(engine: Engine, period: str, nominal: datetime) -> int:
    """An edition of the daily digest, sending to every confirmed subscriber."""
    with store.writing(engine) as session:
        edition, _ = store.create_edition(session, "daily", period, nominal_at=nominal, now=NOW)
        store.save_rendering(
            session,
            edition.id or 0,
            subject=f"Briefing {period}",
            html="<p>x</p>",
            text="x",
            count=2,
        )
        store.start_deliveries(session, store.edition_by_id(session, edition.id or 0), now=NOW)
    return edition.id or 0


def set_delivery(
    engine: Engine, edition_id: int, subscriber_id: int, status: str, **values: object
) -> None:
    """The delivery of ``edition_id`` to ``subscriber_id`` set to ``status`` and ``values``."""
    with store.writing(engine) as session:
        session.execute(
            update(store.deliveries_t)
            .where(store.deliveries_t.c.edition_id == edition_id)
            .where(store.deliveries_t.c.subscriber_id == subscriber_id)
            .values(status=status, **values)
        )


def newsroom_rows(engine: Engine, settings: Settings) -> dict[str, int]:
    """A known dashboard, at NOW (20:00 in Singapore, the site's zone, on 30 November)."""
    ids = {
        "today": _subscriber(
            engine, "a@example.com", "confirmed", datetime(2026, 11, 30, 3, tzinfo=UTC)
        ),
        # 17:00 UTC on the 29th is 01:00 on the 30th in Singapore: a sign-up of the 30th.
        "early": _subscriber(
            engine, "b@example.com", "pending", datetime(2026, 11, 29, 17, tzinfo=UTC)
        ),
        # 15:00 UTC is 23:00 on the 29th there.
        "late": _subscriber(
            engine, "c@example.com", "unsubscribed", datetime(2026, 11, 29, 15, tzinfo=UTC)
        ),
        "october": _subscriber(
            engine, "d@example.com", "confirmed", datetime(2026, 10, 1, 10, tzinfo=UTC)
        ),
        "old": _subscriber(engine, "e@example.com", "bounced", datetime(2026, 1, 1, tzinfo=UTC)),
        "august": _subscriber(
            engine, "f@example.com", "confirmed", datetime(2026, 8, 1, tzinfo=UTC)
        ),
    }
    first = _edition(engine, "2026-11-29", datetime(2026, 11, 28, 23, tzinfo=UTC))
    set_delivery(engine, first, ids["today"], "sent", sent_at=NOW - timedelta(hours=20))
    set_delivery(engine, first, ids["october"], "failed", last_error="550 no such user")
    set_delivery(engine, first, ids["august"], "retry", next_attempt_at=NOW + timedelta(hours=1))
    second = _edition(engine, "2026-11-30", datetime(2026, 11, 29, 23, tzinfo=UTC))
    publish.import_objects(
        engine,
        settings,
        [
            {
                "title": "Bridge closes",
                "slug": "bridge",
                "published_at": "2026-11-29T09:00:00+08:00",
            },
            {
                "title": "Budget <b>day</b>",
                "slug": "budget",
                "published_at": "2026-12-01T09:00:00+08:00",
            },
            {"title": "Later still", "slug": "later", "published_at": "2026-12-03T09:00:00+08:00"},
        ],
        source="test",
        actor="test",
        now=NOW,
    )
    with store.writing(engine) as session:
        for n in range(3):
            store.add_report(session, "bridge", f"Typo number {n} <script>x</script>", "", now=NOW)
        store.resolve_report(session, 1, now=NOW, actor="cli:test")
        store.queue_mail(session, "g@example.com", b"Subject: hi\r\n\r\nhi", now=NOW)
        store.register_worker(session, "here:1:aa", host="here", pid=1, proc_start="", now=NOW)
        store.register_worker(
            session, "gone:2:bb", host="gone", pid=2, proc_start="", now=NOW - timedelta(hours=1)
        )
    return {**ids, "first": first, "second": second}
