"""The newsroom's subscribers in Chromium on a phone and a desktop, against a real server:
sign in, import a CSV with a bad row and read the error, import a good one, export it, find
a subscriber, unsubscribe them and see it in their page's trail."""

from __future__ import annotations

import csv
import io
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from publisher import store
from publisher.settings import Settings
from publisher.web import create_app
from tests.browser import ARTIFACTS, DESKTOP, PHONE, LiveServer, free_port, screenshot, widest
from tests.newsroom import PASSWORD, add_person
from tests.support import NOW, make_settings

SCREENSHOTS = Path(__file__).resolve().parents[3] / "docs" / "screenshots"
ADMIN = "chief@example.com"
LIMIT = 4096  # bytes: small, so that the too-large file is small too


@pytest.fixture
def newsroom(tmp_path: Path) -> Iterator[tuple[LiveServer, Settings]]:
    """The app on SQLite (the use cases are tested on both databases elsewhere), at a site
    URL naming the server's own port, so that its session cookie goes back to it."""
    port = free_port()
    settings = make_settings(
        tmp_path,
        PUBLISHER_DATABASE_URL=f"sqlite:///{tmp_path}/n.db",
        PUBLISHER_SITE_URL=f"http://127.0.0.1:{port}",
        PUBLISHER_MAX_IMPORT_BYTES=str(LIMIT),
    )
    engine: Engine = store.make_engine(settings.database_url)
    store.migrate(engine)
    add_person(engine, settings, ADMIN, "admin")
    app = create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None)
    server = LiveServer(app, port)
    yield server, settings
    server.stop()
    engine.dispose()


def _shot(page: Any, name: str, *, readme: bool = False) -> None:
    (ARTIFACTS / "admin").mkdir(parents=True, exist_ok=True)
    path = screenshot(page, f"admin/{name}")
    if readme:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, SCREENSHOTS / f"admin-{name}.png")


@pytest.mark.slow
@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_import_export_find_and_unsubscribe(
    browser: Any, newsroom: tuple[LiveServer, Settings], tmp_path: Path, viewport: dict[str, int]
) -> None:
    server, _settings = newsroom
    width = viewport["width"]
    page = browser.new_page(viewport=viewport, accept_downloads=True)
    page.goto(server.url + "/admin/login?next=/admin/subscribers")
    page.get_by_label("Email address").fill(ADMIN)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Subscribers").wait_for()

    page.get_by_role("link", name="Import a CSV").click()
    bad = tmp_path / "members.csv"
    bad.write_text("email,name\nann@example.com,Ann\nnot-an-address,Bob\n")
    page.get_by_label("CSV file").set_input_files(str(bad))
    page.evaluate(
        "window.uploaded = [];"
        "document.addEventListener('htmx:xhr:progress', e => window.uploaded.push(e.detail.loaded))"
    )
    page.get_by_role("button", name="Import").click()
    error = page.locator("#import-result [role=alert]")
    error.wait_for()
    assert "nothing imported: 1 problem(s)" in error.inner_text()
    assert "members.csv:3:" in error.inner_text()
    assert page.evaluate("window.uploaded.length") > 0  # the bar followed the upload
    assert page.locator(".import-progress").is_hidden()  # and went once it was answered
    _shot(page, f"subscribers-import-error-{width}", readme=width == DESKTOP["width"])

    huge = tmp_path / "huge.csv"
    huge.write_text("email\n" + "".join(f"r{n}@example.com\n" for n in range(400)))
    page.get_by_label("CSV file").set_input_files(str(huge))
    page.get_by_role("button", name="Import").click()
    assert "Nothing was sent" in page.locator("#import-result").inner_text()

    good = tmp_path / "good.csv"
    good.write_text(
        "email,name,status\nann@example.com,Ann,confirmed\n"
        'bob@example.com,"=HYPERLINK(""http://evil"")",confirmed\nwei@example.org,Wei,pending\n'
    )
    page.get_by_label("CSV file").set_input_files(str(good))
    page.get_by_role("button", name="Import").click()
    page.locator("#import-result .notice").wait_for()
    assert "3 added, 0 updated" in page.locator("#import-result").inner_text()
    assert widest(page) <= width

    page.get_by_role("link", name="← Subscribers").click()
    with page.expect_download() as download:
        page.get_by_role("link", name="Export all as CSV").click()
    exported = Path(download.value.path()).read_text(encoding="utf-8")
    names = {r["email"]: r["name"] for r in csv.DictReader(io.StringIO(exported))}
    assert names["bob@example.com"] == '\'=HYPERLINK("http://evil")'  # never run as a formula

    page.get_by_label("Address or name").fill("wei")
    page.get_by_role("button", name="Find").click()
    assert "1 subscriber matches" in page.locator("#matching").inner_text()
    assert widest(page) <= width
    _shot(page, f"subscribers-{width}", readme=True)
    page.get_by_role("link", name="wei@example.org").click()
    page.get_by_label("Status").select_option("unsubscribed")
    page.get_by_role("button", name="Save").click()
    assert page.get_by_role("status").inner_text() == "Saved."
    trail = page.locator("table.audit tbody tr").first
    assert "subscriber.change" in trail.inner_text() and ADMIN in trail.inner_text()
    assert "unsubscribed" in page.locator(".facts").inner_text()
    assert widest(page) <= width
    _shot(page, f"subscriber-{width}", readme=True)
    page.close()
