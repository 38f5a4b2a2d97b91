"""Breaking news in Chromium, on a phone and a desktop, under the newsroom's Content Security
Policy: an editor goes from a published story's page to "Send this story now", chooses an
audience (its count follows, htmx), sends a test, sends it, and watches the edition go out
to aiosmtpd through a real sender, to its figures."""

from __future__ import annotations

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
from publisher.community import subscriptions
from publisher.delivery.sending import Sender
from publisher.settings import Settings
from publisher.store import SubscriberFilter
from publisher.web import create_app
from tests.browser import DESKTOP, PHONE, LiveServer, keep, watched, widest
from tests.newsroom import add_person, sign_in_page
from tests.smtp import SmtpServer
from tests.support import make_settings

CULTURE = 12  # members of culture who want breaking news


@dataclass
class Room:
    url: str
    engine: Engine
    settings: Settings
    story_id: int
    smtp: SmtpServer


def _now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def room(tmp_path: Path, smtp: SmtpServer) -> Iterator[Room]:
    """A newsroom on SQLite: a published culture story, CULTURE members of culture and some
    others, two audiences, an editor; served at its own address."""
    outer = FastAPI()
    server = LiveServer(outer)
    settings: Settings = make_settings(
        tmp_path,
        PUBLISHER_DATABASE_URL=f"sqlite:///{tmp_path}/n.db",
        PUBLISHER_SITE_URL=server.url,
        PUBLISHER_SMTP_URL=smtp.url,
    )
    engine = store.make_engine(settings.database_url)
    store.migrate(engine)
    now = _now()
    publish.import_objects(
        engine,
        settings,
        [
            {
                "title": "Floodwater closes the old town's bridges",
                "slug": "bridges",
                "summary": "The river rose a metre overnight; the ferries run instead.",
                "published_at": (now - timedelta(minutes=5)).isoformat(),
                "categories": ["Culture"],
            }
        ],
        source="test",
        actor="test",
        now=now,
    )
    everyone = [(f"culture{n}@example.com", ["culture"]) for n in range(CULTURE)]
    everyone += [(f"other{n}@example.com", []) for n in range(5)]
    for address, categories in everyone:
        subscriptions.add_subscriber(
            engine,
            address,
            confirmed=True,
            digests=[],
            known_digests=["daily"],
            categories=categories,
            now=now,
        )
    with store.writing(engine) as session:
        for name, chosen in (
            ("All members", SubscriberFilter()),
            ("Culture readers", SubscriberFilter(category="culture")),
        ):
            store.save_audience(session, name, chosen, actor="test", now=now)
        story = store.article_by_slug(session, "bridges").article.id or 0
    add_person(engine, settings, "chief@example.com", "editor")
    app = create_app(settings, engine, clock=_now, feed_upkeep_every=None)
    outer.router.routes.append(Mount("/", app=app))
    yield Room(server.url, engine, settings, story, smtp)
    server.stop()
    engine.dispose()


def _shot(page: Any, name: str) -> None:
    """The whole page (a full-page screenshot leaves the sandboxed frame blank, so the
    viewport is made as tall instead)."""
    size = page.viewport_size
    height = int(page.evaluate("document.documentElement.scrollHeight"))
    page.set_viewport_size({"width": size["width"], "height": height})
    try:
        keep(page, name)
    finally:
        page.set_viewport_size(size)


@pytest.mark.slow
@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["390", "1280"])
def test_an_editor_sends_a_story_now_from_its_page_to_the_figures(
    browser: Any, room: Room, viewport: dict[str, int]
) -> None:
    stop = threading.Event()
    failures: list[BaseException] = []

    def deliver() -> None:
        try:
            Sender(room.engine, room.settings, clock=_now).run(stop)
        except BaseException as exc:  # the test fails with it, below
            failures.append(exc)

    thread = threading.Thread(target=deliver, daemon=True)
    thread.start()
    try:
        _send_now(browser, room, viewport)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not failures, failures
    wanted = {f"culture{n}@example.com": 1 for n in range(CULTURE)}
    assert room.smtp.recorder.counts() == {"chief@example.com": 1, **wanted}


def _send_now(browser: Any, room: Room, viewport: dict[str, int]) -> None:
    width = viewport["width"]
    page, said = watched(browser, viewport)
    sign_in_page(page, room.url)
    page.goto(f"{room.url}/admin/articles/{room.story_id}")
    page.get_by_role("link", name="Send this story now").click()
    page.wait_for_selector("h1:text('Send this story now')")
    expect(page.locator("#send-now")).to_have_text("Send now to 17 members")
    page.get_by_label("Audience").select_option("Culture readers")
    expect(page.locator("#send-now")).to_have_text(f"Send now to {CULTURE} members")
    inner = page.frame_locator(".preview-frame iframe")
    expect(
        inner.get_by_role("link", name="Floodwater closes the old town's bridges")
    ).to_be_visible()
    assert widest(page) <= width
    _shot(page, f"breaking-send-{width}")
    page.get_by_role("button", name="Send a test to me").click()
    page.wait_for_selector("text=A test went to chief@example.com")
    expect(page.get_by_label("Audience")).to_have_value("Culture readers")
    page.get_by_role("button", name=f"Send now to {CULTURE} members").click()
    page.wait_for_selector("text=Sending now: its progress and figures are below.")
    assert "breaking news, sent now" in page.locator("#edition-kind").inner_text()
    # The progress is polled; once all went, the status says sent, and the figures follow.
    expect(page.locator("#edition-status")).to_have_text("sent", timeout=60_000)
    page.reload()
    expect(page.locator("#fig-sent")).to_have_text(str(CULTURE), timeout=15_000)
    assert widest(page) <= width
    _shot(page, f"breaking-sent-{width}")
    page.get_by_role("link", name="← Editions").click()
    page.wait_for_selector("h1:text('Editions')")
    expect(page.get_by_text("breaking news to Culture readers")).to_be_visible()
    page.close()
    assert not [line for line in said if "Content Security Policy" in line], said
    assert not [line for line in said if line.startswith("pageerror")], said
