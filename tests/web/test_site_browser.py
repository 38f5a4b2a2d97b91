"""The reader's site as a news site (issue 30) in Chromium on a phone (390 px) and a desktop
(1280 px): from a story to its section, page 2 and back, to its author, page 2 and back,
with no horizontal scroll on any page."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from publisher import store
from publisher.articles import publish
from publisher.web import create_app
from tests.browser import DESKTOP, PHONE, SCREENSHOTS, LiveServer, screenshot, widest
from tests.support import EXAMPLES, NOW, make_settings

STORY = "/articles/amphawa-floating-market-boat-route"


@pytest.fixture
def news_site(tmp_path: Path) -> Iterator[LiveServer]:
    """The sample site and 30 more Thailand stories by the same author: two pages of each."""
    settings = make_settings(tmp_path, PUBLISHER_DATABASE_URL=f"sqlite:///{tmp_path}/b.db")
    engine = store.make_engine(settings.database_url)
    store.migrate(engine)
    more = tmp_path / "more.jsonl"
    more.write_text(
        "\n".join(
            json.dumps(
                {
                    "title": f"เรื่องจากกรุงเทพฯ ตอนที่ {n}: the river ferries at dawn",
                    "summary": "Commuters on the Chao Phraya Express, morning by morning.",
                    "published_at": (NOW - timedelta(days=2, hours=n)).isoformat(),
                    "author": "Somchai Srisuk",
                    "categories": ["Thailand"],
                }
            )
            for n in range(30)
        )
    )
    publish.import_articles(engine, settings, [EXAMPLES, more], now=NOW, actor="test")
    server = LiveServer(create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None))
    yield server
    server.stop()
    engine.dispose()


def check_width(page: Any, viewport: dict[str, int]) -> None:
    assert widest(page) <= viewport["width"], page.url


@pytest.mark.slow
@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_from_a_story_to_its_section_author_page_two_and_back(
    browser: Any, news_site: LiveServer, viewport: dict[str, int]
) -> None:
    page = browser.new_page(viewport=viewport)
    page.goto(news_site.url + STORY)
    check_width(page, viewport)
    page.locator("article.article .sections a", has_text="Thailand").click()
    page.wait_for_url("**/categories/thailand/")
    assert page.get_by_role("heading", level=1).inner_text() == "Thailand"
    check_width(page, viewport)
    shot = screenshot(page, f"section-{viewport['width']}")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, SCREENSHOTS / shot.name)  # the README shows these
    first = page.locator("li.story h2 a").all_inner_texts()
    page.get_by_role("link", name="Older stories").click()
    page.wait_for_url("**/categories/thailand/?page=2")
    check_width(page, viewport)
    second = page.locator("li.story h2 a").all_inner_texts()
    assert second and not set(first) & set(second)
    page.go_back()
    page.wait_for_url("**/categories/thailand/")
    page.go_back()
    page.wait_for_url("**" + STORY)

    page.locator("article.article a.byline").click()
    page.wait_for_url("**/authors/somchai-srisuk/")
    assert page.get_by_role("heading", level=1).inner_text() == "Somchai Srisuk"
    check_width(page, viewport)
    page.get_by_role("link", name="Older stories").click()
    page.wait_for_url("**/authors/somchai-srisuk/?page=2")
    check_width(page, viewport)
    page.get_by_role("link", name="Newer stories").click()
    page.wait_for_url("**/authors/somchai-srisuk/")
    page.locator("li.story h2 a").first.click()
    page.wait_for_url("**/articles/**")
    assert page.locator("section.related li.story").count() > 0
    check_width(page, viewport)
    page.close()
