"""The editorial day in Chromium at 390 and 1280 px, against a real server (issue 26): a
contributor writes a draft, autosave survives a reload, sends it for review; an editor
previews the page, sends it back with a note, then publishes it; it is on the site and in
the three feeds; a restore; a withdrawal, and the page a reader of an old digest then sees.
Screenshots of each step for the README."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from publisher import store
from publisher.articles import publish
from publisher.web import create_app
from tests.browser import DESKTOP, PHONE, LiveServer, free_port, keep, widest
from tests.newsroom import add_person, sign_in_page
from tests.support import EXAMPLES, NOW, Clock, make_settings, wait_for

CONTRIBUTOR = "mina@example.com"
EDITOR = "desk@example.com"
TITLE = "Ferry line to Pulau Ubin resumes"
FEEDS = ("/feed.xml", "/atom.xml", "/feed.json")


def _shot(page: Any, name: str, width: int) -> None:
    assert widest(page) <= width, f"{name} is wider than {width} px"
    keep(page, f"{name}-{width}")


def _in_feeds(base: str) -> list[bool]:
    return [TITLE in httpx.get(base + path).text for path in FEEDS]


@pytest.mark.slow
@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_from_a_contributors_draft_to_publication_restore_and_withdrawal(
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
    add_person(engine, settings, CONTRIBUTOR, "contributor")
    add_person(engine, settings, EDITOR, "editor")
    clock = Clock(NOW)
    server = LiveServer(create_app(settings, engine, clock=clock, feed_upkeep_every=None), port)
    width = viewport["width"]
    writer = browser.new_context(viewport=viewport)
    desk = browser.new_context(viewport=viewport)
    try:
        # The contributor writes; what they type is kept in the browser as they type.
        page = writer.new_page()
        sign_in_page(page, base, CONTRIBUTOR)
        assert page.get_by_role("heading", name="Your stories").is_visible()
        page.get_by_role("link", name="Write an article").first.click()
        page.get_by_label("Title").fill(TITLE)
        page.get_by_label("Body (Markdown)").fill("Boats leave **every 15 minutes** again.")
        page.locator("#word-count").filter(has_text="6 words").wait_for()
        page.locator("#autosave-state").filter(has_text="Kept in this browser at").wait_for()
        page.reload()  # a closed tab or a crash: nothing typed is lost
        page.locator("#autosave-note").filter(has_text="had not saved").wait_for()
        assert page.get_by_label("Title").input_value() == TITLE
        assert "every 15 minutes" in page.get_by_label("Body (Markdown)").input_value()
        page.get_by_role("button", name="Save draft").click()
        page.locator("#article-status").filter(has_text="draft").wait_for()
        assert "every 15 minutes" in page.get_by_label("Body (Markdown)").input_value()
        article_path = page.url.split("?")[0]
        slug = publish.article_by_id(engine, int(article_path.rsplit("/", 1)[1])).article.slug
        assert httpx.get(f"{base}/articles/{slug}").status_code == 404
        page.get_by_role("button", name="Send for review").click()
        page.locator("#article-status").filter(has_text="in review").wait_for()
        _shot(page, "article-in-review", width)

        # The editor finds it in the queue, previews the page, and sends it back.
        ed = desk.new_page()
        sign_in_page(ed, base, EDITOR)
        ed.locator("#review-heading").wait_for()
        ed.get_by_role("link", name=TITLE).click()
        with ed.expect_popup() as opened:
            ed.get_by_role("button", name="Preview the page").click()
        preview = opened.value
        phone = preview.frame_locator("#preview-phone")
        assert phone.locator("h1").inner_text() == TITLE
        assert "every 15 minutes" in phone.locator(".body").inner_text()
        assert phone.locator(".preview-banner").is_visible()
        _shot(preview, "article-preview", width)
        preview.close()
        ed.get_by_label("A note for the writer").fill("Say which jetty the boats leave from.")
        ed.get_by_role("button", name="Send back with this note").click()
        ed.locator("#article-status").filter(has_text="draft").wait_for()

        # The writer sees the note, edits, sends it again; the editor publishes it.
        page.goto(base + "/admin/")
        assert "Say which jetty" in page.locator("main").inner_text()
        page.get_by_role("link", name=TITLE).click()
        page.get_by_label("Body (Markdown)").fill(
            "Boats leave **every 15 minutes** again, from Changi Point jetty."
        )
        page.get_by_role("button", name="Send for review").click()
        page.locator("#article-status").filter(has_text="in review").wait_for()
        ed.goto(article_path)
        ed.get_by_label("Editor", exact=True).fill("Daniel Tan")
        ed.get_by_role("button", name="Publish", exact=True).click()
        ed.locator("#article-status").filter(has_text="published").wait_for()
        ed.goto(f"{base}/articles/{slug}")
        assert ed.locator("h1").first.inner_text() == TITLE
        assert (
            "Selected and published by a human editor: Daniel Tan."
            in ed.locator(".provenance").inner_text()
        )
        wait_for(lambda: all(_in_feeds(base)), "the story in the three feeds")

        # An edit, then the earlier text restored (readers saw it: with a correction note).
        ed.goto(article_path)
        ed.get_by_label("Body (Markdown)").fill("Boats leave every hour.")
        ed.get_by_role("button", name="Save changes").click()
        ed.get_by_role("status").filter(has_text="Saved.").wait_for()
        ed.get_by_role("button", name="Compare the two chosen").click()
        ed.locator(".diff-added").filter(has_text="Boats leave every hour.").wait_for()
        _shot(ed, "article-revisions", width)
        ed.get_by_label("A correction note for readers").first.fill(
            "An edit wrongly said boats leave every hour; they leave every 15 minutes."
        )
        ed.get_by_role("button", name="Restore revision").first.click()
        ed.get_by_role("status").filter(has_text="Restored").wait_for()
        restored = publish.article_any(engine, slug)
        assert "Changi Point jetty" in restored.article.body_markdown
        assert len(restored.corrections) == 1

        # It went out in a digest; then it is withdrawn, with a reason readers see.
        with store.writing(engine) as session:
            edition, _ = store.create_edition(
                session, "daily", "2026-11-30T19:00", nominal_at=NOW, now=NOW
            )
            store.carry_articles(session, edition, [restored.article.id or 0])
        clock.now = NOW + timedelta(minutes=5)
        ed.goto(article_path)
        ed.get_by_role("link", name="Withdraw…").click()
        assert ed.locator("#withdraw-editions").inner_text() == "1 edition"
        ed.get_by_label("Why it is withdrawn (readers see this)").fill(
            "the ferry operator postponed the restart."
        )
        _shot(ed, "article-withdraw", width)
        ed.get_by_role("button", name="Withdraw it").click()
        ed.locator("#article-status").filter(has_text="withdrawn").wait_for()
        wait_for(lambda: not any(_in_feeds(base)), "the story out of the three feeds")
        assert TITLE not in httpx.get(base + "/").text
        assert slug not in httpx.get(base + "/sitemap.xml").text

        # A reader of the old digest follows its link: the page is there and says why.
        reader = browser.new_page(viewport=viewport)
        answer = reader.goto(f"{base}/articles/{slug}")
        assert answer is not None and answer.status == 200
        said = reader.locator(".withdrawal").inner_text()
        assert "This story was withdrawn on" in said
        assert "because the ferry operator postponed the restart." in said
        assert "every 15 minutes" not in reader.locator("main").inner_text()
        _shot(reader, "story-withdrawn", width)
        reader.close()
    finally:
        writer.close()
        desk.close()
        server.stop()
        engine.dispose()
