"""The dashboard and the audit page in Chromium on a phone and a desktop, under the admin's
Content Security Policy, and the live figures polled at their real 10-second interval."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from playwright.sync_api import expect
from sqlalchemy import Engine, update
from starlette.routing import Mount

from publisher import store
from publisher.settings import Settings
from publisher.web import create_app
from tests.browser import (
    DESKTOP,
    PHONE,
    LiveServer,
    keep,
    watched,
    widest,
)
from tests.newsroom import add_person, newsroom_rows, sign_in_page
from tests.support import NOW, make_settings


class Newsroom:
    def __init__(self, server: LiveServer, engine: Engine, rows: dict[str, int]) -> None:
        self.server, self.engine, self.rows = server, engine, rows
        self.url = server.url


@pytest.fixture
def room(tmp_path: Path) -> Iterator[Newsroom]:
    """A known newsroom on SQLite, served at its own address (http on loopback, so that the
    session cookie is not Secure-only): the address is known only once the server listens,
    so the app is mounted into it then."""
    outer = FastAPI()
    server = LiveServer(outer)
    settings: Settings = make_settings(
        tmp_path, PUBLISHER_DATABASE_URL=f"sqlite:///{tmp_path}/n.db", PUBLISHER_SITE_URL=server.url
    )
    engine = store.make_engine(settings.database_url)
    store.migrate(engine)
    rows = newsroom_rows(engine, settings)
    add_person(engine, settings, "chief@example.com", "admin")
    with store.writing(engine) as session:
        store.record(
            session,
            actor="ed@example.com",
            action="article.correct",
            kind="article",
            subject_id=1,
            label="bridge",
            before={"title": "Bridge closes on Sunday"},
            after={"title": "Bridge closes on Saturday"},
            now=NOW,
        )
        store.record(
            session,
            actor="cli:ana",
            action="subscriber.unsubscribe",
            kind="subscriber",
            subject_id=rows["late"],
            label="c@example.com",
            before={"status": "confirmed"},
            after={"status": "unsubscribed"},
            now=NOW,
        )
    app = create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None)
    outer.router.routes.append(Mount("/", app=app))
    yield Newsroom(server, engine, rows)
    server.stop()
    engine.dispose()


@pytest.mark.slow
@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_the_dashboard_and_the_trail_render_under_the_csp(
    browser: Any, room: Newsroom, viewport: dict[str, int]
) -> None:
    page, said = watched(browser, viewport)
    sign_in_page(page, room.url)
    # The keyboard: the first Tab reaches the skip link, before anything else.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to the content"
    page.evaluate("() => document.activeElement.blur()")
    chart = page.get_by_role("img", name="Subscribers over the last 90 days")
    assert chart.is_visible()
    assert chart.bounding_box()["width"] > viewport["width"] / 2
    assert page.locator("svg .days circle").count() == 90
    assert "6 subscribers on 30 Nov 2026" in page.locator("figure.growth figcaption").inner_text()
    assert page.get_by_role("heading", name="Sending now").is_visible()
    assert page.get_by_role("link", name="Open error reports").is_visible()
    keep(page, f"dashboard-{viewport['width']}")
    page.get_by_text("The figures, day by day").click()  # the table behind the chart
    assert page.get_by_role("cell", name="Mon 30 Nov 2026").is_visible()
    assert widest(page) <= viewport["width"]

    page.get_by_role("navigation", name="Newsroom").get_by_role("link", name="Audit").click()
    page.wait_for_selector("h1:text('Audit trail')")
    # The admin's staff.add and staff.set-password, the two entries above, three article.create
    # and the resolved report.
    assert page.locator("table.trail tbody tr").count() == 8
    assert page.get_by_role("link", name="c@example.com").get_attribute("href") == (
        f"/admin/subscribers/{room.rows['late']}"
    )
    assert widest(page) <= viewport["width"]
    keep(page, f"audit-{viewport['width']}")
    page.get_by_label("Kind").select_option("staff")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**kind=staff**")
    assert page.locator("table.trail tbody tr").count() == 2  # the admin's own two entries
    assert page.get_by_label("Kind").input_value() == "staff"
    page.close()
    assert not [line for line in said if "Content Security Policy" in line], said
    assert not [line for line in said if line.startswith("pageerror")], said


@pytest.mark.slow
def test_the_live_figures_follow_the_queue_every_10_seconds(browser: Any, room: Newsroom) -> None:
    """At the page's own interval (10 s): the test waits for the change, never a fixed time."""
    page, said = watched(browser, DESKTOP)
    sign_in_page(page, room.url)
    live = page.locator("#live")
    assert "4 deliveries in the queue" in " ".join(live.inner_text().split())
    with store.writing(room.engine) as session:
        session.execute(
            update(store.deliveries_t)
            .where(store.deliveries_t.c.edition_id == room.rows["second"])
            .values(status="sent")
        )
    # Three polls' time at most: the first poll after the change shows it.
    expect(page.locator("#live .card .figure").first).to_have_text("1", timeout=35_000)
    assert page.locator("#live").get_attribute("hx-trigger") == "every 10s"  # still polling
    page.close()
    assert not [line for line in said if "Content Security Policy" in line], said
