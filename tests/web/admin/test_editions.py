"""The newsroom's editions (web/admin/editions.py, edition_actions.py, edition_view.py), on
both databases: the list's filters and paging, an edition as a reader sees it (whole and per
category, inside a sandboxed frame with its own policy), the review form, test sends, pause,
resume and cancel from the admin, the progress the page polls, and bad input answered on an
admin page."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, update

from publisher import store
from publisher.articles import publish
from publisher.models import Edition
from publisher.settings import Settings
from publisher.web import create_app
from publisher.web.admin.chart import rate_chart
from publisher.web.admin.edition_actions import review_form
from publisher.web.admin.edition_view import duration
from publisher.web.admin.session import EXPIRED_FORM
from tests.mailing import daily_edition
from tests.newsroom import add_person, newsroom_client, sign_in
from tests.smtp import SmtpServer
from tests.support import NOW, make_settings

EDITOR = "ed@example.com"


class Clock:
    """The app's only "now": a test moves it on instead of waiting."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _client(engine: Engine, settings: Settings, clock: Any = lambda: NOW) -> TestClient:
    return newsroom_client(
        create_app(settings, engine, clock=clock, feed_upkeep_every=None), settings
    )


def _editor(engine: Engine, settings: Settings, clock: Any = lambda: NOW) -> tuple[TestClient, str]:
    add_person(engine, settings, EDITOR)
    client = _client(engine, settings, clock)
    return client, sign_in(client, EDITOR)


def _stories(engine: Engine, settings: Settings) -> None:
    """Three stories of the last hours: two on politics, one on culture (newest first)."""
    publish.import_objects(
        engine,
        settings,
        [
            {
                "title": f"Story <{n}>",
                "slug": f"story-{n}",
                "published_at": (NOW - timedelta(hours=n)).isoformat(),
                "categories": ["Culture"] if n == 2 else ["Politics"],
            }
            for n in (1, 2, 3)
        ],
        source="test",
        actor="test",
        now=NOW,
    )


def _readers(engine: Engine, count: int) -> None:
    with store.writing(engine) as session:
        for n in range(count):
            store.upsert_subscriber(
                session,
                f"reader{n}@example.com",
                name="",
                status="confirmed",
                digests=["daily"],
                now=NOW,
            )


def _edition(engine: Engine, settings: Settings, *, nominal: datetime = NOW) -> Edition:
    """Today's daily edition, made as the daemon makes it."""
    return daily_edition(engine, settings, nominal)


def _sending(engine: Engine, edition: Edition) -> None:
    with store.writing(engine) as session:
        store.start_deliveries(session, store.edition_by_id(session, edition.id or 0), now=NOW)


def _set(engine: Engine, edition_id: int, **values: object) -> None:
    with store.writing(engine) as session:
        session.execute(
            update(store.editions_t).where(store.editions_t.c.id == edition_id).values(**values)
        )


def _figure(html: str, name: str) -> str:
    found = re.search(rf'id="live-{name}">([^<]*)<', html)
    assert found, f"no {name} figure"
    return found[1]


# ---------------------------------------------------------------- the list


def test_the_list_shows_each_edition_newest_first_with_filters_and_pages(
    engine: Engine, settings: Settings
) -> None:
    _stories(engine, settings)
    _readers(engine, 2)
    first = _edition(engine, settings)
    _sending(engine, first)
    with store.writing(engine) as session:
        session.execute(
            update(store.deliveries_t)
            .where(store.deliveries_t.c.edition_id == first.id)
            .where(store.deliveries_t.c.email == "reader0@example.com")
            .values(status="failed", last_error="550 no such user")
        )
    second = _edition(engine, settings, nominal=NOW + timedelta(days=1))  # nothing new: skipped
    client, _ = _editor(engine, settings)
    page = client.get("/admin/editions")
    assert page.status_code == 200
    assert page.text.index(f"/admin/editions/{second.id}") < page.text.index(
        f"/admin/editions/{first.id}"
    )
    assert 'aria-current="page">Editions<' in page.text  # the nav entry
    row = page.text[page.text.index(f'<a href="/admin/editions/{first.id}"') :]
    row = row[: row.index("</tr>")]
    assert '0<span class="hint"> / 2</span>' in row  # sent / total
    assert '<span class="badge bad">1</span>' in row  # failed
    # Filters: by status, by digest; an unknown one is said, and everything is shown.
    only = client.get("/admin/editions?status=skipped&digest=daily")
    assert f'/admin/editions/{first.id}"' not in only.text
    assert f'/admin/editions/{second.id}"' in only.text
    assert "No edition matches these filters." in client.get("/admin/editions?status=paused").text
    wrong = client.get("/admin/editions?status=%3Cb%3E&digest=nope&page=-1")
    assert wrong.status_code == 400
    assert "There is no status &#39;&lt;b&gt;&#39;" in wrong.text
    assert "There is no digest &#39;nope&#39;" in wrong.text
    assert "There is no page &#39;-1&#39;" in wrong.text
    assert f"/admin/editions/{first.id}" in wrong.text


def test_the_list_pages_on(engine: Engine, settings: Settings) -> None:
    with store.writing(engine) as session:
        for day in range(30):
            store.create_edition(
                session,
                "daily",
                f"2026-10-{day + 1:02d}",
                nominal_at=NOW - timedelta(days=60 - day),
                now=NOW,
            )
    client, _ = _editor(engine, settings)
    page = client.get("/admin/editions")
    assert page.text.count('<a href="/admin/editions/') == 25
    assert 'rel="next"' in page.text and 'rel="prev"' not in page.text
    older = client.get("/admin/editions?page=2")
    assert older.text.count('<a href="/admin/editions/') == 5
    assert "2026-10-01" in older.text and "2026-10-30" not in older.text
    assert 'rel="prev"' in older.text and 'rel="next"' not in older.text


def test_the_dashboard_links_each_edition_to_its_page(engine: Engine, settings: Settings) -> None:
    _stories(engine, settings)
    edition = _edition(engine, settings)
    client, _ = _editor(engine, settings)
    board = client.get("/admin/")
    assert f'<a href="/admin/editions/{edition.id}">' in board.text
    assert '<a href="/admin/editions">Last editions</a>' in board.text


# ---------------------------------------------------------------- an edition's page


def test_an_edition_as_a_reader_sees_it_whole_and_per_category(
    engine: Engine, settings: Settings
) -> None:
    _stories(engine, settings)
    edition = _edition(engine, settings)
    client, _ = _editor(engine, settings)
    page = client.get(f"/admin/editions/{edition.id}")
    assert page.status_code == 200
    # The admin page keeps its strict policy; the mail is framed, sandboxed, without script.
    assert "style-src 'self';" in page.headers["content-security-policy"]
    frame = re.search(r"<iframe [^>]*>", page.text)
    assert frame and 'sandbox=""' in frame[0]
    assert f'src="/admin/editions/{edition.id}/preview"' in frame[0]
    assert '>Culture <span class="badge">1</span>' in page.text
    assert '>Politics <span class="badge">2</span>' in page.text
    whole = client.get(f"/admin/editions/{edition.id}/preview")
    policy = whole.headers["content-security-policy"]
    assert "sandbox" in policy and "script-src" not in policy and "default-src 'none'" in policy
    assert "frame-ancestors 'self'" in policy and whole.headers["x-frame-options"] == "SAMEORIGIN"
    assert all(f"Story &lt;{n}&gt;" in whole.text for n in (1, 2, 3))
    assert "{{" not in whole.text and "https://news.example.com/" in whole.text  # no placeholder
    culture = client.get(f"/admin/editions/{edition.id}/preview?variant=culture")
    assert "Story &lt;2&gt;" in culture.text and "Story &lt;1&gt;" not in culture.text
    phone = client.get(f"/admin/editions/{edition.id}?variant=culture&width=phone")
    assert 'class="preview-frame preview-phone"' in phone.text
    assert f'src="/admin/editions/{edition.id}/preview?variant=culture"' in phone.text
    unknown = client.get(f"/admin/editions/{edition.id}?variant=sport")
    assert unknown.status_code == 200 and "showing it whole" in unknown.text
    bad = client.get(f"/admin/editions/{edition.id}/preview?variant=sport")
    assert bad.status_code == 400 and "Unknown category &#39;sport&#39;" in bad.text


def test_bad_addresses_get_an_admin_page(engine: Engine, settings: Settings) -> None:
    client, _ = _editor(engine, settings)
    for address in (
        "/admin/editions/abc",
        "/admin/editions/0",
        "/admin/editions/99999999999",
        "/admin/editions/999",
        "/admin/editions/abc/preview",
        "/admin/editions/999/live",
    ):
        answer = client.get(address)
        assert answer.status_code == 404, address
        assert "text/html" in answer.headers["content-type"]
        assert 'aria-label="Newsroom"' in answer.text, address  # the newsroom's own page
        assert "There is no" in answer.text or "No edition" in answer.text


def test_no_session_no_edition_page(engine: Engine, settings: Settings) -> None:
    _stories(engine, settings)
    edition = _edition(engine, settings)
    client = _client(engine, settings)
    for address in (f"/admin/editions/{edition.id}", f"/admin/editions/{edition.id}/preview"):
        answer = client.get(address, follow_redirects=False)
        assert answer.status_code == 303 and "/admin/login" in answer.headers["location"]


def test_the_progress_stops_polling_once_finished_or_signed_out(
    engine: Engine, settings: Settings
) -> None:
    _stories(engine, settings)
    _readers(engine, 3)
    edition = _edition(engine, settings)
    _sending(engine, edition)
    _set(engine, edition.id or 0, status="sending")
    client, _ = _editor(engine, settings)
    live = client.get(f"/admin/editions/{edition.id}/live", headers={"HX-Request": "true"})
    assert live.status_code == 200 and 'hx-trigger="every 3s"' in live.text
    assert _figure(live.text, "owed") == "3" and _figure(live.text, "sent") == "0"
    # The status and the buttons come with it, swapped in out of band.
    assert 'id="edition-status" hx-swap-oob="true">sending<' in live.text
    assert f'action="/admin/editions/{edition.id}/pause"' in live.text
    with store.writing(engine) as session:
        session.execute(
            update(store.deliveries_t)
            .where(store.deliveries_t.c.edition_id == edition.id)
            .values(status="sent", sent_at=NOW)
        )
    _set(engine, edition.id or 0, status="sent")
    done = client.get(f"/admin/editions/{edition.id}/live", headers={"HX-Request": "true"})
    assert done.status_code == 286 and "hx-trigger" not in done.text
    assert 'hx-swap-oob="true">sent<' in done.text and "/pause" not in done.text
    assert _figure(done.text, "sent") == "3" and _figure(done.text, "owed") == "0"
    other = _client(engine, settings)  # no session
    ended = other.get(f"/admin/editions/{edition.id}/live", headers={"HX-Request": "true"})
    assert ended.status_code == 286 and "Your session has ended" in ended.text


# ---------------------------------------------------------------- review and control

REVIEWED = """\
timezone: Asia/Singapore
digests:
  daily:
    title: "Today's Briefing"
    cron: "0 7 * * *"
    review: true
    review_deadline: 3h
    unreviewed: send
"""


def _reviewed(engine: Engine, settings: Settings) -> Edition:
    """Today's daily edition of a digest held for review, with three stories and 3 readers."""
    settings.schedules.write_text(REVIEWED)
    _stories(engine, settings)
    _readers(engine, 3)
    return _edition(engine, settings)


def _trail(engine: Engine, edition_id: int) -> list[str]:
    with store.reading(engine) as session:
        return [
            e.action for e in store.audit_entries(session, kind="edition", subject_id=edition_id)
        ]


def _ids(engine: Engine, edition_id: int) -> list[int]:
    with store.reading(engine) as session:
        return [v.article.id or 0 for v in store.edition_articles(session, edition_id)]


def _status(engine: Engine, edition_id: int) -> str:
    with store.reading(engine) as session:
        return store.edition_by_id(session, edition_id).status


def test_review_then_approve_from_the_admin(engine: Engine, settings: Settings) -> None:
    edition = _reviewed(engine, settings)
    assert edition.status == "awaiting_review"
    first, second, third = _ids(engine, edition.id or 0)
    client, token = _editor(engine, settings)
    listing = client.get("/admin/editions")
    top = listing.text[listing.text.index('id="review-heading"') :]
    assert f'href="/admin/editions/{edition.id}"' in top[: top.index("</section>")]
    assert "; if nobody does, it is sent as it is." in top  # unreviewed: send
    page = client.get(f"/admin/editions/{edition.id}")
    assert f'action="/admin/editions/{edition.id}/review"' in page.text
    assert "Approve by" in page.text and "if nobody does, it is sent as it is" in page.text
    assert "Nothing goes out until an editor approves it." in page.text
    # Take the second story out, put the third first, change the subject and the intro.
    form = {
        "csrf": token,
        "subject": "Hand-picked <today>",
        "intro": "Three things, then two.",
        f"keep-{first}": "on",
        f"position-{first}": "2",
        f"position-{second}": "2",
        f"keep-{third}": "on",
        f"position-{third}": "1",
    }
    shown = client.post(f"/admin/editions/{edition.id}/review", data={**form, "do": "preview"})
    assert shown.status_code == 200 and "nothing is saved until you approve" in shown.text
    assert 'value="Hand-picked &lt;today&gt;"' in shown.text  # what was typed, kept
    frame = re.search(r'<iframe [^>]*src="([^"]+)"', shown.text)
    assert frame and "stories=" in frame[1]
    draft = client.get(frame[1].replace("&amp;", "&"))
    assert draft.status_code == 200 and "Three things, then two." in draft.text
    assert "Story &lt;2&gt;" not in draft.text
    assert draft.text.index("Story &lt;3&gt;") < draft.text.index("Story &lt;1&gt;")
    assert _status(engine, edition.id or 0) == "awaiting_review"  # nothing saved
    assert _trail(engine, edition.id or 0) == []
    # "Approve and send" asks first, saying how many readers get it; nothing is saved yet.
    asked = client.post(f"/admin/editions/{edition.id}/review", data={**form, "do": "approve"})
    assert asked.status_code == 200 and "Send this edition now?" in asked.text
    assert "It goes to 3 readers of daily as soon as you confirm" in asked.text
    assert "Send to 3 readers" in asked.text
    assert (
        _status(engine, edition.id or 0) == "awaiting_review"
        and _trail(engine, edition.id or 0) == []
    )
    approved = client.post(
        f"/admin/editions/{edition.id}/review",
        data={**form, "do": "send"},
        follow_redirects=False,
    )
    assert approved.status_code == 303
    page = client.get(approved.headers["location"])
    assert "Approved: sending has started." in page.text
    assert f"<dt>Approved</dt><dd>{EDITOR}, " in page.text
    assert _status(engine, edition.id or 0) == "sending"
    assert _ids(engine, edition.id or 0) == [third, first]
    with store.reading(engine) as session:
        saved = store.edition_by_id(session, edition.id or 0)
        assert saved.subject == "Hand-picked <today>" and saved.approved_by == EDITOR
        owed = store.delivery_counts(session, [edition.id or 0])[edition.id or 0]
    assert owed == {"pending": 3}
    assert _trail(engine, edition.id or 0) == ["edition.approve"]
    assert "edition.approve" in page.text  # the history on the page
    # The same form again, from a page left open: a clear answer, nothing changed.
    again = client.post(f"/admin/editions/{edition.id}/review", data={**form, "do": "send"})
    assert again.status_code == 409
    assert "is already sending by ed@example.com" in again.text
    assert 'aria-label="Newsroom"' in again.text and _trail(engine, edition.id or 0) == [
        "edition.approve"
    ]


def test_a_review_with_a_bad_position_or_no_story_loses_nothing(
    engine: Engine, settings: Settings
) -> None:
    edition = _reviewed(engine, settings)
    first = _ids(engine, edition.id or 0)[0]
    client, token = _editor(engine, settings)
    typed = {"csrf": token, "subject": "Kept", "intro": "", f"keep-{first}": "on"}
    bad = client.post(
        f"/admin/editions/{edition.id}/review",
        data={**typed, f"position-{first}": "first", "do": "approve"},
    )
    assert (
        bad.status_code == 400 and "The position &#39;first&#39; is not a whole number." in bad.text
    )
    none = client.post(
        f"/admin/editions/{edition.id}/review",
        data={"csrf": token, "subject": "Kept", "intro": "", "do": "approve"},
    )
    assert none.status_code == 400 and "Keep at least one story" in none.text
    assert 'value="Kept"' in none.text
    assert (
        _status(engine, edition.id or 0) == "awaiting_review"
        and _trail(engine, edition.id or 0) == []
    )


def test_a_forged_or_old_form_token_changes_nothing(engine: Engine, settings: Settings) -> None:
    edition = _reviewed(engine, settings)
    client, token = _editor(engine, settings)
    for action in ("review", "pause", "cancel", "test"):
        answer = client.post(
            f"/admin/editions/{edition.id}/{action}",
            data={"csrf": "forged" + token[6:], "do": "approve", "to": EDITOR},
        )
        assert answer.status_code == 403, action
        assert EXPIRED_FORM.replace(":", ":") in answer.text.replace("&#39;", "'")
        assert f'href="/admin/editions/{edition.id}"' in answer.text  # the way back
        assert 'aria-label="Newsroom"' in answer.text
    assert (
        _status(engine, edition.id or 0) == "awaiting_review"
        and _trail(engine, edition.id or 0) == []
    )
    unknown = client.post("/admin/editions/abc/pause", data={"csrf": token})
    assert unknown.status_code == 404 and "There is no edition &#39;abc&#39;" in unknown.text


def test_pause_resume_and_cancel_from_the_admin(engine: Engine, settings: Settings) -> None:
    _stories(engine, settings)
    _readers(engine, 4)
    edition = _edition(engine, settings)
    _sending(engine, edition)
    _set(engine, edition.id or 0, status="sending")
    with store.writing(engine) as session:
        session.execute(
            update(store.deliveries_t)
            .where(store.deliveries_t.c.edition_id == edition.id)
            .where(store.deliveries_t.c.email == "reader0@example.com")
            .values(status="sent", sent_at=NOW)
        )
    client, token = _editor(engine, settings)
    page = client.get(f"/admin/editions/{edition.id}")
    assert f'action="/admin/editions/{edition.id}/pause"' in page.text
    assert f'action="/admin/editions/{edition.id}/resume"' not in page.text
    paused = client.post(f"/admin/editions/{edition.id}/pause", data={"csrf": token})
    assert "Paused: each sending process finishes the message in hand" in paused.text
    assert f"<dt>Paused</dt><dd>{EDITOR}, " in paused.text
    assert _status(engine, edition.id or 0) == "paused"
    twice = client.post(f"/admin/editions/{edition.id}/pause", data={"csrf": token})
    assert twice.status_code == 409 and "is already paused (by ed@example.com" in twice.text
    resumed = client.post(f"/admin/editions/{edition.id}/resume", data={"csrf": token})
    assert "Resumed:" in resumed.text and f"<dt>Resumed</dt><dd>{EDITOR}, " in resumed.text
    # Cancel: first the confirmation, saying how many still wait.
    confirm = client.get(f"/admin/editions/{edition.id}/cancel")
    said = " ".join(re.sub(r"<[^>]+>", " ", confirm.text).split())
    assert "3 of 4 readers still wait for it: none of them will get it. 1 already have it." in said
    cancelled = client.post(f"/admin/editions/{edition.id}/cancel", data={"csrf": token})
    assert "Cancelled: nothing more of this edition goes out. (3 messages)" in cancelled.text
    assert f"<dt>Cancelled</dt><dd>{EDITOR}, " in cancelled.text
    assert _status(engine, edition.id or 0) == "cancelled"
    again = client.post(f"/admin/editions/{edition.id}/resume", data={"csrf": token})
    assert again.status_code == 409 and "cannot be resumed" in again.text
    assert client.get(f"/admin/editions/{edition.id}/cancel").status_code == 409
    assert _trail(engine, edition.id or 0) == [
        "edition.cancel",
        "edition.resume",
        "edition.pause",
    ]
    with store.reading(engine) as session:
        counts = store.delivery_counts(session, [edition.id or 0])[edition.id or 0]
    assert counts == {"sent": 1, "cancelled": 3}
    # Done: its figures, and the page no longer polls.
    done = client.get(f"/admin/editions/{edition.id}")
    assert 'id="fig-cancelled">3<' in done.text and 'id="fig-sent">1<' in done.text
    assert 'hx-trigger="every 3s"' not in done.text


def test_test_sends_reach_only_the_test_addresses(
    tmp_path: Path, database_url: str, smtp: SmtpServer
) -> None:
    settings = make_settings(
        tmp_path, PUBLISHER_DATABASE_URL=database_url, PUBLISHER_SMTP_URL=smtp.url
    )
    engine = store.make_engine(settings.database_url)
    store.migrate(engine)
    try:
        edition = _reviewed(engine, settings)
        client, token = _editor(engine, settings)
        mine = client.post(
            f"/admin/editions/{edition.id}/test",
            data={"csrf": token, "to": EDITOR, "mine": "1"},
            follow_redirects=False,
        )
        assert mine.status_code == 303
        assert "The test is on its way. (1 message)" in client.get(mine.headers["location"]).text
        [received] = smtp.recorder.wait_for(1)
        assert received.recipient == EDITOR
        assert received.parsed()["Subject"].startswith("[Test] ")
        several = client.post(
            f"/admin/editions/{edition.id}/test",
            data={"csrf": token, "to": "a@example.com, b@example.com\nc@example.com"},
        )
        assert "(3 messages)" in several.text
        assert sorted(r.recipient for r in smtp.recorder.wait_for(4)[1:]) == [
            "a@example.com", "b@example.com", "c@example.com",
        ]  # fmt: skip
        many = "\n".join(f"t{n}@example.com" for n in range(21))
        refused = client.post(
            f"/admin/editions/{edition.id}/test", data={"csrf": token, "to": many}
        )
        assert refused.status_code == 400 and "21 test addresses: at most 20" in refused.text
        assert "t20@example.com</textarea>" in refused.text  # what was typed, kept
        bad = client.post(
            f"/admin/editions/{edition.id}/test", data={"csrf": token, "to": "not-an-address"}
        )
        assert bad.status_code == 400 and "is not an email address" in bad.text
        assert len(smtp.recorder.received) == 4
        # Counted nowhere: no delivery, the edition still waiting; the trail has each test.
        with store.reading(engine) as session:
            assert store.delivery_counts(session, [edition.id or 0])[edition.id or 0] == {}
        assert _status(engine, edition.id or 0) == "awaiting_review"
        assert _trail(engine, edition.id or 0).count("edition.test") == 2
        # The next edition of a digest, from the list: the one awaiting review, to me.
        nxt = client.post("/admin/editions/test-next", data={"csrf": token, "digest": "daily"})
        assert "A test of the next daily edition is on its way to ed@example.com." in nxt.text
        assert smtp.recorder.wait_for(5)[-1].recipient == EDITOR
        unknown = client.post("/admin/editions/test-next", data={"csrf": token, "digest": "<x>"})
        assert (
            unknown.status_code == 400 and "There is no digest &#39;&lt;x&gt;&#39;" in unknown.text
        )
        # Past 50 addresses an hour (5 so far), a test is refused with how many are left.
        for batch in range(2):
            to = "\n".join(f"b{batch}.{n}@example.com" for n in range(20))
            data = {"csrf": token, "to": to}
            assert client.post(f"/admin/editions/{edition.id}/test", data=data).status_code == 200
        over = client.post(f"/admin/editions/{edition.id}/test", data={"csrf": token, "to": many})
        assert over.status_code == 400  # 21 addresses: that check comes first
        to = "\n".join(f"c{n}@example.com" for n in range(20))
        over = client.post(f"/admin/editions/{edition.id}/test", data={"csrf": token, "to": to})
        assert over.status_code == 429
        assert "limited to 50 addresses an hour per person" in over.text
        assert "45 in the last hour, so 5 more now, not 20" in over.text
        assert "c19@example.com</textarea>" in over.text  # what was typed, kept
        assert len(smtp.recorder.wait_for(45)) == 45  # the refused test sent nothing
    finally:
        engine.dispose()


def test_a_finished_editions_figures_group_the_servers_replies(
    engine: Engine, settings: Settings
) -> None:
    _stories(engine, settings)
    _readers(engine, 4)
    edition = _edition(engine, settings)
    _sending(engine, edition)
    with store.writing(engine) as session:
        for n in range(4):
            failed = n < 2
            session.execute(
                update(store.deliveries_t)
                .where(store.deliveries_t.c.edition_id == edition.id)
                .where(store.deliveries_t.c.email == f"reader{n}@example.com")
                .values(
                    status="failed" if failed else "sent",
                    sent_at=None if failed else NOW,
                    last_error=f"550 5.1.1 <reader{n}@example.com>: no such user" if failed else "",
                )
            )
    _set(engine, edition.id or 0, status="sent")
    client, _ = _editor(engine, settings)
    page = client.get(f"/admin/editions/{edition.id}")
    assert 'id="fig-recipients">4<' in page.text and 'id="fig-sent">2<' in page.text
    assert 'id="fig-failed">2<' in page.text
    replies = page.text[page.text.index('class="replies-table"') :]
    replies = replies[: replies.index("</table>")]
    assert "550 5.1.1 &lt;address&gt;: no such user</code></td><td>2<" in replies
    assert "reader0@example.com" not in replies  # grouped, without anyone's address
    assert "click tracking is off" in page.text


def test_clicks_per_link_when_tracking_is_on(tmp_path: Path, database_url: str) -> None:
    settings = make_settings(
        tmp_path, PUBLISHER_DATABASE_URL=database_url, PUBLISHER_TRACK_CLICKS="aggregate"
    )
    engine = store.make_engine(settings.database_url)
    store.migrate(engine)
    try:
        _stories(engine, settings)
        edition = _edition(engine, settings)
        _set(engine, edition.id or 0, status="sent")
        client, _ = _editor(engine, settings)
        page = client.get(f"/admin/editions/{edition.id}")
        table = page.text[page.text.index('class="clicks-table"') :]
        table = table[: table.index("</table>")]
        assert "https://news.example.com/articles/story-1</a></td><td>0<" in table
        assert "(click tracking: aggregate)" in page.text
    finally:
        engine.dispose()


# ---------------------------------------------------------------- pieces


def test_the_review_form_reads_back_the_stories_kept_in_their_order() -> None:
    form = {
        "subject": " New subject ",
        "intro": "Hello",
        "keep-7": "on",
        "position-7": "2",
        "keep-8": "on",
        "position-8": "1",
        "position-9": "3",  # not kept
    }
    review = review_form(form, [7, 8, 9])
    assert review.subject == "New subject" and review.article_ids == [8, 7]
    tie = review_form({"keep-7": "on", "keep-8": "on", "position-8": "1"}, [7, 8])
    assert tie.article_ids == [8, 7]  # 8 was given 1, 7 kept its 1: the one moved leads
    kept = review_form({"keep-7": "on", "keep-8": "on", "keep-9": "on"}, [7, 8, 9])
    assert kept.article_ids == [7, 8, 9]  # no number typed: the edition's order


def test_a_time_left_reads_at_a_glance() -> None:
    assert [duration(s) for s in (0, 42.4, 600, 7500)] == ["0 s", "42 s", "10 min", "2 h 05 min"]


def test_the_rate_chart_fits_any_figures() -> None:
    start = datetime(2026, 11, 30, 12, 0, tzinfo=NOW.tzinfo)
    series = [(start + timedelta(minutes=m), c) for m, c in enumerate([0, 1200, 3400, 50])]
    chart = rate_chart(series)
    assert len(chart.samples) == 4
    assert all(12 <= s.y <= chart.baseline for s in chart.samples)
    assert chart.samples[0].y == chart.baseline  # 0 sits on the axis
    assert "4,650 messages sent from 12:00 to 12:03" in chart.summary
    assert rate_chart([]).samples == [] and rate_chart([(start, 5)]).samples[0].x == 64.0


def test_a_missed_edition_says_what_happened_and_is_made_and_sent_by_hand(
    engine: Engine, settings: Settings
) -> None:
    """Issue 25: a missed edition's page showed "No story of this edition is in this
    category" in an empty frame, and nothing could send it."""
    _stories(engine, settings)
    _readers(engine, 2)
    with store.writing(engine) as session:
        missed, _ = store.create_edition(
            session, "daily", "2026-11-29", nominal_at=NOW - timedelta(days=1), now=NOW
        )
        store.set_edition_status(session, missed.id or 0, "missed")
    client, token = _editor(engine, settings)
    page = client.get(f"/admin/editions/{missed.id}")
    assert page.status_code == 200
    assert "Missed: nothing was made or sent" in page.text
    assert "No story of this edition" not in page.text and "<iframe" not in page.text
    assert f'action="/admin/editions/{missed.id}/make"' in page.text
    made = client.post(
        f"/admin/editions/{missed.id}/make", data={"csrf": token}, follow_redirects=False
    )
    assert made.status_code == 303
    page = client.get(made.headers["location"])
    assert "Made now, by hand: review it, send yourself a test" in page.text
    assert _status(engine, missed.id or 0) == "awaiting_review"  # the same review as any
    assert len(_ids(engine, missed.id or 0)) == 3
    assert _trail(engine, missed.id or 0) == ["edition.send-missed"]
    # Made once: the button on a page left open says why nothing more happens.
    again = client.post(f"/admin/editions/{missed.id}/make", data={"csrf": token})
    assert again.status_code == 409 and "only a missed edition is sent by hand" in again.text
    form = {"csrf": token, "subject": "By hand"} | {
        f"keep-{i}": "on" for i in _ids(engine, missed.id or 0)
    }
    asked = client.post(f"/admin/editions/{missed.id}/review", data={**form, "do": "approve"})
    assert "It goes to 2 readers of daily as soon as you confirm" in asked.text
    client.post(f"/admin/editions/{missed.id}/review", data={**form, "do": "send"})
    assert _status(engine, missed.id or 0) == "sending"
