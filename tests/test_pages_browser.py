"""Pages and feeds as a reader sees them in Chromium, on a phone and on a desktop."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from publisher import publish, store
from publisher.settings import Settings
from publisher.web import create_app
from tests.browser import LiveServer, browser, screenshot
from tests.conftest import NOW, make_settings

__all__ = ["browser"]
EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "articles"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
def site(tmp_path: Path) -> Iterator[LiveServer]:
    """The sample site on SQLite (the store itself is tested on both databases elsewhere)."""
    settings: Settings = make_settings(
        tmp_path, PUBLISHER_DATABASE_URL=f"sqlite:///{tmp_path}/b.db"
    )
    engine: Engine = store.make_engine(settings.database_url)
    store.migrate(engine)
    publish.import_articles(engine, settings, [EXAMPLES], now=NOW)
    server = LiveServer(create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None))
    yield server
    server.stop()
    engine.dispose()


def widest(page: Any) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth"))


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_index_and_article_fit_the_screen(
    browser: Any, site: LiveServer, viewport: dict[str, int]
) -> None:
    page = browser.new_page(viewport=viewport)
    page.goto(site.url + "/")
    assert page.locator("h2 a").first.inner_text() == "ตลาดน้ำอัมพวาเปิดเส้นทางเรือใหม่ 🚤"
    assert widest(page) <= viewport["width"]
    screenshot(page, f"index-{viewport['width']}")
    page.get_by_role("link", name="Second Link bridge lane closures moved to the weekend").click()
    assert (
        page.locator("h1").inner_text() == "Second Link bridge lane closures moved to the weekend"
    )
    assert "They start at 11 pm" in page.locator(".corrections").inner_text()
    assert page.get_by_role("link", name="Spot an error? Report it here").is_visible()
    assert widest(page) <= viewport["width"]
    screenshot(page, f"article-{viewport['width']}")
    page.close()


@pytest.mark.parametrize("path", ["/feed.xml", "/atom.xml"])
def test_a_feed_opened_in_the_browser_reads_as_a_page(
    browser: Any, site: LiveServer, path: str
) -> None:
    page = browser.new_page(viewport=PHONE)
    page.goto(site.url + path)
    page.wait_for_selector("li.story")
    assert "This is a web feed." in page.inner_text("body")
    titles = page.locator("li.story h2").all_inner_texts()
    assert "Durian exporters switch to rail as the new freight corridor opens" in titles
    assert widest(page) <= PHONE["width"]
    screenshot(page, f"feed-{path.strip('/').replace('.', '-')}")
    page.close()


WIDEST_ELEMENT = """() => Math.max(...Array.from(document.querySelectorAll('body *'))
    .filter(e => e.getClientRects().length)
    .map(e => e.getBoundingClientRect().right))"""


@pytest.mark.parametrize("width", [390, 1024])
def test_the_digest_fits_a_phone_and_a_desktop(browser: Any, tmp_path: Path, width: int) -> None:
    from publisher.digest import greeting, render_edition
    from publisher.templating import Personaliser, make_environment
    from tests.test_digest import context, stories

    rendered = render_edition(make_environment(), context(), stories(12))
    values = {
        "greeting": greeting("Aisyah"),
        "unsubscribe": "https://news.example.com/u/T",
        "preferences": "https://news.example.com/p/T",
    }
    html = Personaliser(rendered.html, escape_html=True).fill(values).decode()
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.set_content(html)
    assert page.locator(".story-title").count() == 12
    assert widest(page) <= width
    assert page.evaluate(WIDEST_ELEMENT) <= width
    screenshot(page, f"digest-{width}")
    dark = browser.new_page(viewport={"width": width, "height": 900}, color_scheme="dark")
    dark.set_content(html)
    background = dark.evaluate(
        "getComputedStyle(document.querySelector('.container')).backgroundColor"
    )
    assert background == "rgb(24, 28, 32)"
    screenshot(dark, f"digest-{width}-dark")
    page.close()
    dark.close()


def test_report_and_unsubscribe_pages_on_a_phone(browser: Any, site: LiveServer) -> None:
    page = browser.new_page(viewport=PHONE)
    page.goto(site.url + "/articles/durian-exports-rail")
    page.get_by_role("link", name="Spot an error? Report it here").click()
    page.get_by_label("What is wrong?").fill("The train carried 42 containers, not 24.")
    page.get_by_label("Your email (optional, if you would like an answer)").fill(
        "reader@example.com"
    )
    assert widest(page) <= PHONE["width"]
    screenshot(page, "report-390")
    page.get_by_role("button", name="Send to the editors").click()
    assert page.locator("h1").inner_text() == "Thank you"
    page.goto(site.url + "/unsubscribe/forged.token")
    assert "not valid" in page.inner_text("body")
    screenshot(page, "unsubscribe-forged-390")
    page.close()
