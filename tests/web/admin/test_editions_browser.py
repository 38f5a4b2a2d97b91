"""The editions pages in Chromium on a phone and a desktop, under the admin's Content
Security Policy: an edition held for review is previewed as its Thai reader gets it,
reviewed and approved from the admin, and its progress moves while a real sender delivers
it to aiosmtpd; pause and resume; every reader gets the approved edition once."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from playwright.sync_api import expect
from sqlalchemy import Engine
from starlette.routing import Mount

from publisher import store
from publisher.articles import publish
from publisher.delivery.sending import Sender
from publisher.settings import Settings
from publisher.web import create_app
from tests.browser import DESKTOP, PHONE, LiveServer, keep, watched, widest
from tests.mailing import daily_edition
from tests.newsroom import add_person, sign_in_page
from tests.smtp import SmtpServer
from tests.support import make_settings

READERS = 40
TIMETABLE = """\
timezone: Asia/Singapore
digests:
  daily:
    title: "Today's Briefing"
    cron: "0 7 * * *"
    review: true
    unreviewed: skip
"""


@dataclass
class Room:
    url: str
    engine: Engine
    settings: Settings
    edition_id: int
    smtp: SmtpServer


def _now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def room(tmp_path: Path, smtp: SmtpServer) -> Iterator[Room]:
    """A newsroom on SQLite with today's edition held for review: three stories, READERS
    readers (one of them reads Thai), a real SMTP server; served at its own address (see
    the dashboard's test)."""
    outer = FastAPI()
    server = LiveServer(outer)
    (tmp_path / "schedules.yaml").write_text(TIMETABLE)
    settings: Settings = make_settings(
        tmp_path,
        PUBLISHER_DATABASE_URL=f"sqlite:///{tmp_path}/n.db",
        PUBLISHER_SITE_URL=server.url,
        PUBLISHER_SMTP_URL=smtp.url,
        # Slowed to 8 messages a second so that a person (and the test) can watch the
        # progress move and pause it halfway; the default (no limit) is what the delivery
        # tests run at.
        PUBLISHER_SEND_RATE="8",
        PUBLISHER_SEND_CONCURRENCY="2",
    )
    engine = store.make_engine(settings.database_url)
    store.migrate(engine)
    now = _now()
    publish.import_objects(
        engine,
        settings,
        [
            {
                "title": title,
                "slug": f"story-{n}",
                "summary": "What happened, and what it means for the city.",
                "published_at": (now - timedelta(hours=n + 1)).isoformat(),
                "categories": [category],
            }
            for n, (title, category) in enumerate(
                [
                    ("Night trains return to the coast line", "Transport"),
                    ("A festival of street food opens on Friday", "Culture"),
                    ("Council votes on the harbour budget", "Politics"),
                ]
            )
        ],
        source="test",
        actor="test",
        now=now,
    )
    with store.writing(engine) as session:
        for n in range(READERS):
            row, _ = store.upsert_subscriber(
                session,
                f"reader{n}@example.com",
                name="",
                status="confirmed",
                digests=["daily"],
                now=now,
            )
        store.set_languages(session, row.id or 0, language="th", languages=None, now=now)
    edition = daily_edition(engine, settings, now)
    assert edition.status == "awaiting_review"
    add_person(engine, settings, "chief@example.com", "admin")
    app = create_app(settings, engine, clock=_now, feed_upkeep_every=None)
    outer.router.routes.append(Mount("/", app=app))
    yield Room(server.url, engine, settings, edition.id or 0, smtp)
    server.stop()
    engine.dispose()


def _keep(page: Any, name: str) -> None:
    """The whole page as a picture, the framed edition in it: a full-page screenshot leaves
    the sandboxed frame (another process) blank, so the viewport is made as tall instead."""
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": _height(page)})
    try:
        keep(page, name)
    finally:
        page.set_viewport_size(size)


def _height(page: Any) -> int:
    return int(page.evaluate("document.documentElement.scrollHeight"))


def _clean(said: list[str]) -> None:
    assert not [line for line in said if "Content Security Policy" in line], said
    assert not [line for line in said if line.startswith("pageerror")], said


@pytest.mark.slow
def test_review_on_a_phone(browser: Any, room: Room) -> None:
    page, said = watched(browser, PHONE)
    sign_in_page(page, room.url)
    page.get_by_role("navigation", name="Newsroom").get_by_role("link", name="Editions").click()
    page.wait_for_selector("h1:text('Editions')")
    assert page.get_by_role("heading", name="Awaiting review").is_visible()
    assert widest(page) <= PHONE["width"]
    _keep(page, "editions-390")
    page.locator("section.awaiting a").first.click()
    page.wait_for_selector("#review-heading")
    page.get_by_role("link", name="Phone (390 px)").click()
    page.wait_for_url("**width=phone**")
    frame = page.locator(".preview-frame iframe")
    assert frame.get_attribute("sandbox") == ""
    box = frame.bounding_box()
    assert box is not None and box["width"] <= PHONE["width"]
    inner = page.frame_locator(".preview-frame iframe")
    expect(inner.get_by_role("link", name="Night trains return to the coast line")).to_be_visible()
    assert widest(page) <= PHONE["width"]
    # As the Thai reader gets it: the digest's own words in Thai, the same stories.
    languages = page.locator("#preview-languages")
    expect(languages.get_by_role("link", name="Thai 1")).to_be_visible()
    languages.get_by_role("link", name="Thai 1").click()
    page.wait_for_url("**language=th**")
    assert "width=phone" in page.url
    thai = page.frame_locator(".preview-frame iframe")
    expect(thai.get_by_role("link", name="อ่านข่าว").first).to_be_visible()  # Read the story
    expect(thai.get_by_role("link", name="Night trains return to the coast line")).to_be_visible()
    assert languages.locator("[aria-current]").inner_text().startswith("Thai")
    assert page.locator("#preview-reader").inner_text() == "As a Thai reader gets it."
    box = frame.bounding_box()
    assert box is not None and box["width"] <= PHONE["width"]
    assert widest(page) <= PHONE["width"]
    _keep(page, "editions-thai-390")
    page.get_by_label("Position of Council votes on the harbour budget").fill("1")
    page.get_by_role("button", name="Preview these changes").click()
    page.wait_for_selector("text=nothing is saved until you approve")
    first = page.frame_locator(".preview-frame iframe").locator("h2.story-title").first
    expect(first).to_contain_text("Council votes on the harbour budget")
    _keep(page, "editions-review-390")
    page.close()
    _clean(said)


@pytest.mark.slow
def test_approve_watch_it_send_pause_and_resume(browser: Any, room: Room) -> None:
    stop = threading.Event()
    sender = Sender(room.engine, room.settings, clock=_now)
    failures: list[BaseException] = []

    def deliver() -> None:
        try:
            sender.run(stop)
        except BaseException as exc:  # the test fails with it, below
            failures.append(exc)

    thread = threading.Thread(target=deliver, daemon=True)
    thread.start()
    try:
        _review_and_send(browser, room)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not failures, failures


def _review_and_send(browser: Any, room: Room) -> None:
    page, said = watched(browser, DESKTOP)
    sign_in_page(page, room.url)
    page.goto(f"{room.url}/admin/editions/{room.edition_id}")
    _keep(page, "editions-awaiting-1280")
    page.get_by_label("Subject").fill("Three stories, hand-picked")
    page.get_by_role("checkbox", name="A festival of street food opens on Friday").uncheck()
    page.get_by_role("button", name="Approve and send").click()
    assert (
        "readers of daily as soon as you confirm" in page.locator("#confirm-readers").inner_text()
    )
    page.get_by_role("button", name=re.compile(r"^Send to [\d,]+ readers$")).click()
    page.wait_for_selector("text=Approved: sending has started.")
    assert page.locator("#edition-live").get_attribute("hx-trigger") == "every 3s"
    # The progress moves on its own (polled every 3 s): wait for some sent, not all.
    page.wait_for_function(
        "() => { const n = +document.getElementById('live-sent').textContent.replace(/,/g, '');"
        f" return n > 0 && n < {READERS}; }}",
        timeout=30_000,
    )
    _keep(page, "editions-sending-1280")
    page.get_by_role("button", name="Pause").click()
    page.wait_for_selector("text=Paused: each sending process finishes the message in hand")
    assert page.locator("#edition-status").inner_text() == "paused"
    assert page.get_by_text("Paused", exact=True).is_visible()  # who paused, and when
    held = int(page.locator("#live-sent").inner_text().replace(",", ""))
    assert held < READERS
    page.get_by_role("button", name="Resume").click()
    page.wait_for_selector("text=Resumed: what is still owed goes out")
    # Finished: the last poll shows everyone sent and stops (286); then the figures.
    expect(page.locator("#live-sent")).to_have_text(str(READERS), timeout=60_000)
    # The poll also brings the status and the buttons (out of band): no Pause once sent.
    expect(page.locator("#edition-status")).to_have_text("sent", timeout=15_000)
    expect(page.get_by_role("button", name="Pause")).to_have_count(0)
    page.reload()
    expect(page.locator("#fig-sent")).to_have_text(str(READERS), timeout=15_000)
    assert page.locator("#edition-live").get_attribute("hx-trigger") is None
    page.get_by_text("The figures,").click()  # the table behind the rate chart
    assert page.get_by_role("img", name="Messages sent per").is_visible()
    assert widest(page) <= DESKTOP["width"]
    _keep(page, "editions-sent-1280")
    page.get_by_role("link", name="← Editions").click()
    page.wait_for_selector("h1:text('Editions')")
    assert page.locator("table.edition-list tbody tr").count() == 1
    assert widest(page) <= DESKTOP["width"]
    _keep(page, "editions-1280")
    page.close()
    _clean(said)
    # What the mail server got: every reader once, the approved edition without the story
    # taken out.
    received = room.smtp.recorder.received
    assert room.smtp.recorder.counts() == {f"reader{n}@example.com": 1 for n in range(READERS)}
    message = received[0].parsed()
    assert message["Subject"] == "Three stories, hand-picked"
    body = message.get_body(("html",))
    assert body is not None
    html = body.get_content()
    assert "Night trains return" in html and "street food" not in html
    with store.reading(room.engine) as session:
        trail = [e.action for e in store.audit_entries(session, kind="edition")]
    assert trail == ["edition.resume", "edition.pause", "edition.approve"], json.dumps(trail)
