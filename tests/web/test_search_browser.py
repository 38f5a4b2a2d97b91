"""Searching from the header's box in Chromium, on a phone (390 px) and a desktop (1280 px):
a Thai word inside unspaced text and a two-syllable Korean word, each found, marked and
opened, with no sideways scrolling (issue 30). Slow: they open Chromium."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser import LiveServer, screenshot, watched, widest

VIEWPORTS = [{"width": 390, "height": 844}, {"width": 1280, "height": 900}]


@pytest.mark.slow
@pytest.mark.parametrize("viewport", VIEWPORTS, ids=["390", "1280"])
def test_a_reader_searches_thai_and_korean_words_from_the_header(
    browser: Any, site: LiveServer, viewport: dict[str, int]
) -> None:
    page, said = watched(browser, viewport)
    page.goto(site.url + "/articles/durian-exports-rail")
    for word, headline in [
        ("อัมพวา", "ตลาดน้ำอัมพวาเปิดเส้นทางเรือใหม่ 🚤"),
        ("부산", "부산 국제 영화제, 아시아 독립영화 부문 신설"),
    ]:
        # Its name is in the page's language: the Thai story's header says it in Thai.
        box = page.get_by_role("searchbox")
        box.fill(word)
        box.press("Enter")
        page.wait_for_url("**/search?q=*")
        assert page.locator("h1").inner_text() == "Search"
        results = page.locator(".search-results h2")
        assert results.all_inner_texts() == [headline]
        assert page.locator(".search-results h2 mark").first.inner_text() == word
        assert page.get_by_role("searchbox", name="Search stories").input_value() == word
        assert widest(page) <= viewport["width"]
        screenshot(page, f"search-{word}-{viewport['width']}")
        results.get_by_role("link").click()
        assert page.locator("h1").inner_text() == headline
        assert widest(page) <= viewport["width"]
    # (The sample stories' pictures are not served here: only script errors count.)
    assert [line for line in said if line.startswith("pageerror")] == []
    page.close()
