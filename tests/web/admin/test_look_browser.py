"""The Look page in Chromium at 390 and 1280 px, under the newsroom's Content Security
Policy: an admin types a colour too light for links and the live preview says so; a darker
one and a sponsor show in the preview as typed; a logo uploaded shows in both frames; saved,
the page says so and its history shows the change. The preview is shown at phone and at
desktop width."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from publisher import store
from publisher.articles import publish
from publisher.web import create_app
from tests.browser import DESKTOP, PHONE, LiveServer, free_port, keep, watched, widest
from tests.newsroom import add_person, sign_in_page
from tests.pictures import png
from tests.support import EXAMPLES, NOW, make_settings


@pytest.fixture
def room(tmp_path: Path) -> Iterator[LiveServer]:
    """The sample site with an admin, its site address the server's own (the logo is
    fetched from there)."""
    port = free_port()
    settings = make_settings(
        tmp_path,
        PUBLISHER_DATABASE_URL=f"sqlite:///{tmp_path}/look.db",
        PUBLISHER_SITE_URL=f"http://127.0.0.1:{port}",
    )
    engine = store.make_engine(settings.database_url)
    store.migrate(engine)
    publish.import_articles(engine, settings, [EXAMPLES], now=NOW, actor="test")
    add_person(engine, settings, "chief@example.com", "admin")
    server = LiveServer(
        create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None), port
    )
    yield server
    server.stop()
    engine.dispose()


def _frame_has(page: Any, selector: str) -> None:
    """Waits until the preview's frame shows ``selector``."""
    expect(page.frame_locator("#look-preview iframe").locator(selector)).to_be_visible()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_an_admin_gives_the_digest_a_look_with_a_live_preview(
    browser: Any, room: LiveServer, viewport: dict[str, int], tmp_path: Path
) -> None:
    width = viewport["width"]
    page, said = watched(browser, viewport)
    sign_in_page(page, room.url)
    page.get_by_role("link", name="Look").click()
    expect(page.get_by_role("heading", name="The digest's look")).to_be_visible()
    _frame_has(page, "a.brand")

    page.get_by_label("Accent colour").fill("#ffcc00")  # htmx asks for the frames again
    expect(page.locator("#look-preview-waits")).to_contain_text("contrast of 1.5:1")
    page.get_by_label("Accent colour").fill("#0b5fff")
    expect(page.locator("#look-contrast")).to_contain_text("contrast 5.1:1")
    page.get_by_label("Show a sponsor under the introduction").check()
    page.get_by_label("Sponsor's name").fill("Harbour Bank")
    page.get_by_label("Their link").fill("https://bank.example.com/")
    _frame_has(page, "text=Harbour Bank")
    page.get_by_label("Phone (390 px)").check()  # the same look at a phone's width
    expect(page.locator("#look-preview .preview-phone")).to_be_visible()
    _frame_has(page, "text=Harbour Bank")

    picture = tmp_path / "logo.png"
    picture.write_bytes(png(480, 120, (11, 95, 255)))
    page.get_by_label("A logo").set_input_files(str(picture))
    page.get_by_role("button", name="Preview", exact=True).click()
    expect(page.get_by_label("Phone (390 px)")).to_be_checked()  # kept without script too
    if width == DESKTOP["width"]:
        page.get_by_label("Desktop").check()
        expect(page.locator("#look-preview .preview-desktop")).to_be_visible()
    _frame_has(page, "img.logo")
    logo = page.frame_locator("#look-preview iframe").locator("img.logo")
    assert logo.evaluate("img => img.complete && img.naturalWidth") == 480  # fetched from us
    assert widest(page) <= width
    keep(page, f"look-{width}")

    page.get_by_role("button", name="Save the look").click()
    expect(page.get_by_role("status")).to_contain_text("Saved: editions made from now on")
    expect(page.locator(".audit")).to_contain_text("look.change")
    assert page.get_by_label("Accent colour").input_value() == "#0b5fff"
    assert not [
        line
        for line in said
        if "Content Security Policy" in line or "pageerror" in line or "htmx:" in line
    ]
    page.close()
