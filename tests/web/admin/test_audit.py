"""The newsroom's audit page: the whole trail newest first, its filters and pages, links to
each subject's page, and what an editor may not see."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from publisher import store
from publisher.newsroom import dashboard
from publisher.settings import Settings
from publisher.web import create_app
from tests.newsroom import add_person, newsroom_client, sign_in
from tests.support import NOW

ENTRY = re.compile(r'<tr id="entry-(\d+)">')


def _record(
    engine: Engine,
    *,
    kind: str,
    action: str,
    subject_id: int | None = 1,
    actor: str = "ed@example.com",
    label: str = "",
    at: datetime = NOW,
    before: dict[str, object] | None = None,
    after: dict[str, object] | None = None,
) -> None:
    with store.writing(engine) as session:
        store.record(
            session,
            actor=actor,
            action=action,
            kind=kind,
            subject_id=subject_id,
            label=label,
            before=before,
            after=after,
            now=at,
        )


def _client(engine: Engine, settings: Settings, email: str, role: str) -> TestClient:
    add_person(engine, settings, email, role)
    client = newsroom_client(
        create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None), settings
    )
    sign_in(client, email)
    return client


def _ids(html: str) -> list[int]:
    return [int(found) for found in ENTRY.findall(html)]


def _trail(engine: Engine) -> None:
    """An article corrected, a report resolved, a subscriber unsubscribed, at known times."""
    _record(
        engine,
        kind="article",
        action="article.correct",
        subject_id=7,
        label="bridge",
        at=NOW - timedelta(days=2),
        before={"title": "Brigde"},
        after={"title": "Bridge"},
    )
    _record(engine, kind="report", action="report.resolve", subject_id=3, actor="cli:ana")
    _record(
        engine,
        kind="subscriber",
        action="subscriber.unsubscribe",
        subject_id=12,
        label="reader@example.com",
        actor="api-token",
        before={"status": "confirmed"},
        after={"status": "unsubscribed"},
    )


def test_an_admin_sees_the_whole_trail_newest_first_with_links(
    engine: Engine, settings: Settings
) -> None:
    _trail(engine)
    client = _client(engine, settings, "chief@example.com", "admin")
    page = client.get("/admin/audit")
    assert page.status_code == 200
    ids = _ids(page.text)
    # People entries too: adding the admin and their password made two.
    assert ids == sorted(ids, reverse=True) and len(ids) == 5
    assert 'href="/admin/articles/7">bridge</a>' in page.text
    assert 'href="/admin/subscribers/12">reader@example.com</a>' in page.text
    assert 'href="/admin/reports#report-3">' in page.text
    assert "<del>Brigde</del> → <ins>Bridge</ins>" in page.text
    assert "<del>confirmed</del> → <ins>unsubscribed</ins>" in page.text


def test_an_editor_sees_no_subscriber_or_people_entries(engine: Engine, settings: Settings) -> None:
    _trail(engine)
    client = _client(engine, settings, "ed@example.com", "editor")
    page = client.get("/admin/audit")
    assert page.status_code == 200
    assert len(_ids(page.text)) == 2
    assert "reader@example.com" not in page.text and "subscriber.unsubscribe" not in page.text
    assert "staff." not in page.text
    assert '<option value="subscriber"' not in page.text
    for kind in ("subscriber", "staff", "import"):
        refused = client.get(f"/admin/audit?kind={kind}")
        assert refused.status_code == 403
        assert "Only an admin can see" in refused.text and 'aria-invalid="true"' in refused.text
        assert "reader@example.com" not in refused.text
    # Another filter cannot reach them either.
    for query in ("actor=api-token", "action=subscriber.unsubscribe"):
        found = client.get(f"/admin/audit?{query}")
        assert found.status_code == 200 and _ids(found.text) == []


def test_the_filters(engine: Engine, settings: Settings) -> None:
    _trail(engine)
    client = _client(engine, settings, "chief@example.com", "admin")

    def shown(query: str) -> list[str]:
        page = client.get(f"/admin/audit?{query}")
        assert page.status_code == 200, page.text
        return re.findall(r'title="Only ([\w.-]+)"', page.text)

    assert shown("kind=article") == ["article.correct"]
    assert shown("kind=report") == ["report.resolve"]
    assert shown("actor=cli:ana") == ["report.resolve"]
    assert shown("action=subscriber.unsubscribe") == ["subscriber.unsubscribe"]
    assert shown("kind=article&actor=cli:ana") == []
    # Days in the site's zone (Singapore): NOW is 20:00 on 30 November there.
    assert shown("from=2026-11-28&to=2026-11-28") == ["article.correct"]
    assert "article.correct" not in shown("from=2026-11-29")
    assert shown("to=2026-11-29") == ["article.correct"]
    assert "No change matches these filters." in client.get("/admin/audit?actor=nobody").text
    page = client.get("/admin/audit?actor=cli:ana")
    assert 'value="cli:ana"' in page.text and "Clear the filters" in page.text


def test_an_entry_just_after_local_midnight_is_on_that_day(
    engine: Engine, settings: Settings
) -> None:
    # 16:30 UTC on the 29th is 00:30 on the 30th in Singapore.
    _record(
        engine, kind="article", action="article.add", at=datetime(2026, 11, 29, 16, 30, tzinfo=UTC)
    )
    query, errors = dashboard.AuditQuery.parse(
        {"from": "2026-11-30", "to": "2026-11-30"}, admin=True
    )
    assert errors == {}
    found = dashboard.audit(engine, query, admin=True, zone=settings.zone)
    assert [e.action for e in found.entries] == ["article.add"]
    query, _ = dashboard.AuditQuery.parse({"to": "2026-11-29"}, admin=True)
    assert dashboard.audit(engine, query, admin=True, zone=settings.zone).entries == []


def test_the_trail_is_paged_on_id(engine: Engine, settings: Settings) -> None:
    with store.writing(engine) as session:
        for n in range(120):
            store.record(
                session,
                actor="ed@example.com",
                action="article.add",
                kind="article",
                subject_id=n,
                label=f"story-{n}",
                now=NOW,
            )
    client = _client(engine, settings, "ed@example.com", "editor")
    seen: list[int] = []
    url = "/admin/audit?kind=article"
    pages = 0
    while url:
        page = client.get(url)
        assert page.status_code == 200
        ids = _ids(page.text)
        assert len(ids) <= dashboard.AUDIT_PAGE and ids == sorted(ids, reverse=True)
        seen += ids
        pages += 1
        older = re.search(r'href="(\?[^"]+)" rel="next"', page.text)
        if older:
            target = older[1].replace("&amp;", "&")
            assert parse_qs(urlsplit(target).query)["kind"] == ["article"]  # filters kept
            url = "/admin/audit" + target
        else:
            url = ""
        if pages > 1:
            assert "Newest entries" in page.text
    assert pages == 3 and len(seen) == 120 and len(set(seen)) == 120


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("from=yesterday", "from", "A date such as"),
        ("to=2026-13-01", "to", "A date such as"),
        ("from=2026-11-30&to=2026-11-01", "to", "The end comes before the start."),
        (f"actor={'a' * 401}", "actor", "At most 400 characters."),
        (f"action={'a' * 61}", "action", "At most 60 characters."),
    ],
)
def test_bad_filters_are_said_beside_their_field(
    engine: Engine, settings: Settings, query: str, field: str, message: str
) -> None:
    _trail(engine)
    client = _client(engine, settings, "chief@example.com", "admin")
    page = client.get(f"/admin/audit?kind=article&{query}")
    assert page.status_code == 400
    assert f'id="{field}-error">{message}' in page.text
    assert f'aria-describedby="{field}-error"' in page.text
    assert '<option value="article" selected>' in page.text  # nothing typed is lost
    assert _ids(page.text) == []


@pytest.mark.parametrize("before", ["abc", "0", "-5", "99999999999999999999", "１２"])
def test_a_page_that_does_not_exist(engine: Engine, settings: Settings, before: str) -> None:
    client = _client(engine, settings, "ed@example.com", "editor")
    page = client.get("/admin/audit", params={"before": before})
    assert page.status_code == 400
    assert "This page of the trail does not exist" in page.text


def test_the_last_days_of_the_calendar_are_no_trouble(engine: Engine, settings: Settings) -> None:
    _trail(engine)
    client = _client(engine, settings, "chief@example.com", "admin")
    page = client.get("/admin/audit?from=0001-01-01&to=9999-12-31")
    assert page.status_code == 200 and len(_ids(page.text)) == 5


def test_what_was_typed_into_the_trail_is_shown_as_text(engine: Engine, settings: Settings) -> None:
    _record(
        engine,
        kind="article",
        action="article.add",
        actor='cli:<img src=x onerror="alert(1)">',
        label="<script>alert(1)</script>",
        after={"title": "<b>bold</b>"},
    )
    client = _client(engine, settings, "ed@example.com", "editor")
    page = client.get("/admin/audit")
    assert "<script>alert(1)" not in page.text and "<img src=x" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "&lt;b&gt;bold&lt;/b&gt;" in page.text
    # The actor is a filter link: quoted in the URL, escaped in the text.
    assert "actor=cli%3A%3Cimg" in page.text


def test_no_session_means_sign_in_first(engine: Engine, settings: Settings) -> None:
    client = newsroom_client(
        create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None), settings
    )
    answer = client.get("/admin/audit?kind=article", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/admin/login?next=/admin/audit%3Fkind%3Darticle"


def test_a_rare_filter_looks_through_a_stretch_of_the_trail_a_page(
    engine: Engine, settings: Settings
) -> None:
    """At the real stretch (AUDIT_SCAN): the one people entry is older than all of it."""
    client = _client(engine, settings, "chief@example.com", "admin")  # two staff entries
    with store.writing(engine) as session:
        for n in range(dashboard.AUDIT_SCAN + 10):
            store.record(
                session,
                actor="cli:bulk",
                action="article.add",
                kind="article",
                subject_id=n,
                now=NOW,
            )
    page = client.get("/admin/audit?kind=staff")
    assert page.status_code == 200 and _ids(page.text) == []
    assert "among these entries" in page.text and 'id="searched"' in page.text
    older = re.search(r'href="(\?[^"]+)" rel="next"', page.text)
    assert older is not None
    more = client.get("/admin/audit" + older[1].replace("&amp;", "&"))
    assert _ids(more.text) == [2, 1]
    assert 'rel="next"' not in more.text
    # Without a filter there is nothing to look for: a full page, then the next.
    assert len(_ids(client.get("/admin/audit").text)) == dashboard.AUDIT_PAGE
