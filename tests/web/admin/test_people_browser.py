"""The newsroom's sign-in in Chromium at 390 and 1280 px against a real server: the
first-run link, a password, two-step sign-in set up from the account page, signing out and
in again with a code; an editor refused the people page."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy import Engine

from publisher import store
from publisher.newsroom import otp, staff
from publisher.tokens import Signer
from publisher.web import create_app
from tests.browser import ARTIFACTS, DESKTOP, PHONE, free_port, widest
from tests.newsroom import PASSWORD, add_person
from tests.support import NOW, make_settings

SCREENSHOTS = Path(__file__).resolve().parents[3] / "docs" / "screenshots"


class Newsroom:
    def __init__(self, tmp_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.settings = make_settings(
            tmp_path,
            PUBLISHER_DATABASE_URL=f"sqlite:///{tmp_path}/n.db",
            PUBLISHER_SITE_URL=self.url,
        )
        self.engine: Engine = store.make_engine(self.settings.database_url)
        store.migrate(self.engine)
        self.now = [NOW]  # moved on by the test: a TOTP code is taken once per 30 s step
        app = create_app(
            self.settings, self.engine, clock=lambda: self.now[0], feed_upkeep_every=None
        )
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.engine.dispose()


@pytest.fixture
def newsroom(tmp_path: Path) -> Iterator[Newsroom]:
    room = Newsroom(tmp_path)
    yield room
    room.stop()


def shot(page: Any, name: str, width: int) -> None:
    folder = ARTIFACTS / "admin"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}-{width}.png"
    page.screenshot(path=str(path), full_page=True)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, SCREENSHOTS / f"admin-{name}-{width}.png")


@pytest.mark.slow
@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_first_run_password_two_step_sign_in_and_an_editor_refused(
    browser: Any, newsroom: Newsroom, viewport: dict[str, int]
) -> None:
    width = viewport["width"]
    signer = Signer.of(newsroom.settings.secret_key)
    link = staff.first_run_link(newsroom.engine, newsroom.url, signer, now=NOW)
    assert link is not None
    page = browser.new_page(viewport=viewport)
    page.goto(link)
    page.get_by_label("Your email address").fill("chief@example.com")
    page.get_by_label("New password").fill(PASSWORD)
    page.get_by_label("The same password again").fill(PASSWORD)
    page.get_by_role("button", name="Set the password and sign in").click()
    page.wait_for_url(newsroom.url + "/admin/")

    page.goto(newsroom.url + "/admin/account")
    page.get_by_role("button", name="Set up two-step sign-in").click()
    page.wait_for_selector(".qr svg")
    assert widest(page) <= width
    shot(page, "account-setup", width)
    secret = page.locator("code.secret").inner_text().replace(" ", "")
    page.get_by_label("The code your app shows").fill(otp.code_at(secret, newsroom.now[0]))
    page.get_by_role("button", name="Turn two-step sign-in on").click()
    assert page.locator("ol.codes li").count() == 10
    shot(page, "recovery-codes", width)
    page.get_by_role("link", name="I have kept them").click()
    assert "On" in page.locator("#totp .badge").inner_text()

    page.get_by_role("button", name="Sign out", exact=True).click()
    page.wait_for_url(newsroom.url + "/admin/login")
    page.get_by_label("Email address").fill("chief@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    shot(page, "login", width)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_selector("#code")
    newsroom.now[0] += timedelta(seconds=otp.STEP_SECONDS)
    page.get_by_label("Code", exact=True).fill(otp.code_at(secret, newsroom.now[0]))
    shot(page, "code", width)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(newsroom.url + "/admin/")

    page.get_by_role("link", name="People").click()
    page.get_by_label("Their email address").fill("ed@example.com")
    page.get_by_role("button", name="Add them and show their link").click()
    assert "/admin/welcome/" in page.get_by_label("Their link").input_value()
    assert widest(page) <= width
    shot(page, "people", width)
    page.close()

    add_person(newsroom.engine, newsroom.settings, "editor@example.com", "editor")
    editor = browser.new_page(viewport=viewport)
    editor.goto(newsroom.url + "/admin/login")
    editor.get_by_label("Email address").fill("editor@example.com")
    editor.get_by_label("Password", exact=True).fill(PASSWORD)
    editor.get_by_role("button", name="Sign in", exact=True).click()
    editor.wait_for_url(newsroom.url + "/admin/")
    assert editor.get_by_role("link", name="People").count() == 0
    answer = editor.goto(newsroom.url + "/admin/people")
    assert answer is not None and answer.status == 403
    assert "Only an admin" in editor.inner_text("body")
    editor.close()
