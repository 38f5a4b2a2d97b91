"""The newsroom's articles and reports in Chromium at 390 and 1280 px, against a real server:
sign in, write and schedule an article, see it on the site and in /feed.xml at its time,
correct it from a reader's report; a screenshot of each page."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from publisher import store
from publisher.articles import publish
from publisher.web import create_app
from tests.browser import (
    ARTIFACTS,
    DESKTOP,
    PHONE,
    SCREENSHOTS,
    LiveServer,
    free_port,
    screenshot,
    widest,
)
from tests.newsroom import PASSWORD, add_person
from tests.support import EXAMPLES, NOW, Clock, make_settings, wait_for

EDITOR = "desk@example.com"


def _shot(page: Any, name: str, width: int) -> None:
    (ARTIFACTS / "admin").mkdir(parents=True, exist_ok=True)
    shot = screenshot(page, f"admin/{name}-{width}")
    assert widest(page) <= width, f"{name} is wider than {width} px"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, SCREENSHOTS / f"admin-{name}-{width}.png")  # the README shows these


@pytest.mark.slow
@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_write_schedule_publish_and_correct_from_a_report(
    browser: Any, tmp_path: Path, viewport: dict[str, int]
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = make_settings(
        tmp_path, PUBLISHER_DATABASE_URL=f"sqlite:///{tmp_path}/b.db", PUBLISHER_SITE_URL=base
    )
    engine = store.make_engine(settings.database_url)
    store.migrate(engine)
    publish.import_articles(engine, settings, [EXAMPLES], now=NOW, actor="test")
    add_person(engine, settings, EDITOR)
    clock = Clock(NOW)  # the app's only "now": moved on below instead of waiting
    server = LiveServer(create_app(settings, engine, clock=clock, feed_upkeep_every=None), port)
    page = browser.new_page(viewport=viewport)
    width = viewport["width"]
    try:
        page.goto(base + "/admin/articles")
        page.get_by_label("Email address").fill(EDITOR)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(base + "/admin/articles")
        assert page.get_by_role("heading", name="Articles").is_visible()
        _shot(page, "articles", width)

        page.get_by_role("link", name="Write an article").click()
        page.get_by_label("Title").fill("Night market reopens")
        page.get_by_label("Summary").fill("Stalls are back on Jalan Alor.")
        page.get_by_label("Body (Markdown)").fill("The market reopens with **120 stalls**.")
        # The live preview: rendered by the server, swapped in by htmx.
        page.locator("#preview strong").filter(has_text="120 stalls").wait_for()
        # within PUBLISHER_ADMIN_IDLE_MINUTES of the app's clock: the editor stays signed in
        when = (NOW + timedelta(minutes=40)).astimezone(settings.zone)
        page.get_by_label(f"Publish time ({settings.zone.key})").fill(
            when.strftime("%Y-%m-%dT%H:%M:%S")
        )
        page.get_by_label("Categories").fill("Food, Kuala Lumpur")
        page.get_by_label("Author").fill("Aisha Rahman")
        _shot(page, "article-form", width)
        page.get_by_label("Editor").fill("Daniel Tan")
        page.get_by_role("button", name="Publish", exact=True).click()
        page.locator("#article-status").filter(has_text="scheduled").wait_for()
        assert page.get_by_role("status").inner_text() == "Published."
        _shot(page, "article-scheduled", width)
        assert httpx.get(base + "/articles/night-market-reopens").status_code == 404
        assert "Night market reopens" not in httpx.get(base + "/feed.xml").text

        clock.now = NOW + timedelta(minutes=40)  # its time has come
        wait_for(lambda: "Night market reopens" in httpx.get(base + "/feed.xml").text, "feed item")
        page.goto(base + "/articles/night-market-reopens")
        assert page.locator("h1").first.inner_text() == "Night market reopens"

        # A reader reports an error from the story page, some minutes later...
        clock.now = NOW + timedelta(minutes=45)
        page.get_by_role("link", name="Spot an error? Report it here").click()
        page.get_by_label("What is wrong?").fill("There are 210 stalls, not 120.")
        page.get_by_role("button", name="Send to the editors").click()
        # ...and an editor resolves it with a correction, in one step.
        page.goto(base + "/admin/reports")
        assert "There are 210 stalls, not 120." in page.locator(".report-queue").inner_text()
        _shot(page, "reports", width)
        page.get_by_role("link", name="Resolve with a correction").first.click()
        page.get_by_label("Correction for readers").fill("The market has 210 stalls, not 120.")
        _shot(page, "report", width)
        page.get_by_role("button", name="Resolve with this correction").click()
        page.locator("#report-status").filter(has_text="resolved").wait_for()
        wait_for(
            lambda: "210 stalls, not 120" in httpx.get(base + "/feed.xml").text, "corrected feed"
        )
        page.goto(base + "/articles/night-market-reopens")
        assert "210 stalls, not 120" in page.locator("body").inner_text()
        page.goto(base + "/admin/articles?q=night")
        page.get_by_role("link", name="Night market reopens").click()
        assert "from report #" in page.locator(".corrections").inner_text()
        trail = page.locator("table.audit").inner_text()
        assert "article.correct" in trail and "article.create" in trail and EDITOR in trail
        _shot(page, "article", width)
    finally:
        page.close()
        server.stop()
        engine.dispose()
