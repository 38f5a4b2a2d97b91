"""A story's picture in Chromium at 390 and 1280 px, against a real server: write a story,
upload a picture with its alt text and caption, save, and see it on the story's page with a
srcset of the site's own /media/ renditions, loaded; the library lists it as used."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from publisher import store
from publisher.articles import publish
from publisher.web import create_app
from tests.browser import DESKTOP, PHONE, SCREENSHOTS, LiveServer, free_port, screenshot, widest
from tests.newsroom import add_person, sign_in_page
from tests.pictures import picture
from tests.support import EXAMPLES, NOW, make_settings

EDITOR = "desk@example.com"


@pytest.mark.slow
@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_upload_a_picture_with_its_words_and_read_it_on_the_story_page(
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
    photo = tmp_path / "boats.jpg"
    photo.write_bytes(picture(2000, 1250, orientation=1, gps=True))
    server = LiveServer(create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None),
                        port)  # fmt: skip
    page = browser.new_page(viewport=viewport)
    width = viewport["width"]
    try:
        sign_in_page(page, base, EDITOR, "/admin/articles/new")
        page.get_by_label("Title").fill("Long-tail boats return to Amphawa")
        page.get_by_label("Body (Markdown)").fill("The boats are back on the canal.")
        page.get_by_label("Upload a picture").set_input_files(str(photo))
        # Without alt text the picture is refused beside its field, the rest kept.
        page.get_by_role("button", name="Save draft").click()
        page.locator("#f-picture_alt-error").wait_for()
        assert "alt text is required" in page.locator("#f-picture_alt-error").inner_text()
        assert page.get_by_label("Title").input_value() == "Long-tail boats return to Amphawa"
        page.get_by_label("Upload a picture").set_input_files(str(photo))
        page.get_by_label("Alt text (required with a picture)").fill(
            "Long-tail boats moored along a canal"
        )
        page.get_by_label("Caption").fill("Boats wait for the evening market.")
        page.get_by_label("Credit").fill("Photo: Mei Lin")
        page.get_by_label("Editor").fill("Ed Lim")  # publishing names the editor
        page.get_by_role("button", name="Publish", exact=True).click()
        page.locator("#picture-now img").wait_for()
        assert page.locator("[role=status]").first.inner_text() == "Published."
        assert widest(page) <= width
        page.locator("#picture-field").scroll_into_view_if_needed()
        shot = screenshot(page, f"picture-form-{width}")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, SCREENSHOTS / f"picture-form-{width}.png")  # the docs show it

        page.goto(base + "/articles/long-tail-boats-return-to-amphawa")
        img = page.locator("figure.story-image img")
        img.wait_for()
        srcset = img.get_attribute("srcset") or ""
        assert srcset.startswith(f"{base}/media/") and "480w" in srcset and "1600w" in srcset
        assert page.locator("figure.story-image source[type='image/webp']").count() == 1
        assert img.get_attribute("sizes") and img.get_attribute("width") == "960"
        assert img.get_attribute("alt") == "Long-tail boats moored along a canal"
        page.wait_for_function(
            "() => { const i = document.querySelector('figure.story-image img');"
            " return i.complete && i.naturalWidth > 0; }"
        )
        chosen = page.evaluate("() => document.querySelector('figure.story-image img').currentSrc")
        assert chosen.startswith(f"{base}/media/") and chosen.endswith(".webp")
        caption = page.locator("figure.story-image figcaption").text_content() or ""
        assert "Boats wait for the evening market." in caption and "Photo: Mei Lin" in caption
        assert widest(page) <= width
        screenshot(page, f"picture-story-{width}")

        page.goto(base + "/admin/media")
        page.get_by_role("link").filter(has=page.locator("img[alt^='Long-tail']")).click()
        assert page.locator("#media-uses").inner_text() == "Long-tail boats return to Amphawa"
    finally:
        page.close()
        server.stop()
        engine.dispose()
