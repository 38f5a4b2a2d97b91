"""The story page as the seed's site has it (issue 17), in Chromium on a phone and a desktop:
the story, its provenance and report link, the Brand Studio block, then Join The Community;
and joining from a story page against a real `publisher run` and a real SMTP server."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from publisher.articles.publish import STARTER_SCHEDULES
from tests.browser import ARTIFACTS, DESKTOP, PHONE, SCREENSHOTS, free_port, screenshot, widest
from tests.processes import daemon_env
from tests.smtp import SmtpServer
from tests.support import wait_for

ORDER = [".provenance", ".provenance a[href^='/report']", ".brand-studio", "form.signup"]


@pytest.mark.slow
@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_a_story_page_ends_with_provenance_report_brand_studio_and_join(
    browser: Any, site: Any, viewport: dict[str, int]
) -> None:
    page = browser.new_page(viewport=viewport)
    page.goto(site.url + "/articles/penang-culture-forum")
    tops = [page.locator(selector).first.bounding_box()["y"] for selector in ORDER]
    assert tops == sorted(tops), dict(zip(ORDER, tops, strict=True))
    assert "human editor" in page.locator(".provenance").inner_text()
    studio = page.locator(".brand-studio")
    assert studio.is_visible() and "advertisement" in studio.inner_text().lower()
    assert page.locator("article .brand-studio").count() == 0  # never inside the story
    assert page.get_by_role("heading", name="Join The Community").is_visible()
    assert page.get_by_label("Email").is_visible()
    # The account icon: a link a screen reader names, on the phone and the desktop.
    account = page.get_by_role("link", name="Your subscription")
    assert account.is_visible() and account.get_attribute("href") == "/subscription"
    # The story's image is on an unreachable host: it goes, leaving no empty box.
    page.wait_for_function("() => document.querySelectorAll('.story-image').length === 0")
    assert widest(page) <= viewport["width"]
    shot = screenshot(page, f"story-{viewport['width']}")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, SCREENSHOTS / shot.name)  # docs/index.md shows these
    page.close()


@pytest.mark.slow
def test_a_sponsored_story_keeps_the_house_advert_apart(browser: Any, site: Any) -> None:
    page = browser.new_page(viewport=PHONE)
    page.goto(site.url + "/articles/brand-studio-sabah-coffee")
    assert "not part of the sponsored story above" in page.locator(".brand-studio").inner_text()
    assert page.locator("article .brand-studio").count() == 0
    page.close()


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_joining_from_a_story_page_works_end_to_end(
    browser: Any, tmp_path: Path, database_url: str
) -> None:
    """Against `publisher run --demo`: whoever sends the confirmation (the request or the
    daemon's outbox), the test waits for it at the SMTP server."""
    smtp = SmtpServer()
    smtp.start()
    port = free_port()
    schedules = tmp_path / "schedules.yaml"
    schedules.write_text(STARTER_SCHEDULES)
    env = daemon_env(tmp_path, database_url, smtp, schedules, port)
    proc = subprocess.Popen(
        [sys.executable, "-m", "publisher", "run", "--demo", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(base + "/healthz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    page = browser.new_page(viewport=PHONE)
    try:
        wait_for(up, "daemon")
        page.goto(base + "/articles/durian-exports-rail")
        page.get_by_label("Email").fill("Reader@Example.com")
        page.get_by_label("Name (optional)").fill("Priya")
        page.get_by_role("button", name="Join").click()
        assert page.locator("h1").inner_text() == "Check your inbox"
        [mail] = wait_for(lambda: smtp.recorder.received, "confirmation mail")
        assert mail.parsed()["To"] == "reader@example.com"
        text = mail.parsed().get_body(("plain",)).get_content()
        link = re.search(re.escape(base) + r"(/confirm/[\w.-]+)", text)
        assert link is not None, text
        page.goto(base + link.group(1))
        page.get_by_role("button", name="Yes, send me the newsletter").click()
        assert page.locator("h1").inner_text() == "Welcome to the community"
        # Back on a story: a member's browser sees no join form, the advert still.
        page.goto(base + "/articles/durian-exports-rail")
        assert page.locator(".brand-studio").is_visible()
        assert page.locator("form.signup").count() == 0
        # Another browser (no cookie) still gets the form: nothing tells who is a member.
        stranger = browser.new_page(viewport=PHONE)
        stranger.goto(base + "/articles/durian-exports-rail")
        assert stranger.locator("form.signup").count() == 1
        stranger.close()
    finally:
        page.close()
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=20)
        smtp.stop()
    assert proc.returncode == 0, output


APSCHEDULER_LINES = re.compile(r"apscheduler|Running job|executed successfully|Added job")


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_minute_of_publisher_run_logs_no_scheduler_chatter(
    tmp_path: Path, database_url: str
) -> None:
    """Sixty seconds of the daemon with its default settings (the feeds job runs every 10 s,
    its default period): a few lines an operator wants, no APScheduler or Alembic lines."""
    smtp = SmtpServer()
    port = free_port()
    schedules = tmp_path / "schedules.yaml"
    schedules.write_text(STARTER_SCHEDULES)
    env = daemon_env(tmp_path, database_url, smtp, schedules, port)
    for tuned in ("PUBLISHER_SEND_LEASE", "PUBLISHER_SEND_RETRY_BASE"):
        env.pop(tuned)  # every setting at its default
    proc = subprocess.Popen(
        [sys.executable, "-m", "publisher", "run", "--demo", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    with pytest.raises(subprocess.TimeoutExpired):
        proc.wait(timeout=60)  # watching the log for a minute, as the issue says
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, output
    assert f"serving Newsflash Asia on http://127.0.0.1:{port}" in output
    assert "feeds changed:" in output  # the feed rebuilt, said once
    assert not APSCHEDULER_LINES.search(output), output
    assert "alembic" not in output and "Context impl" not in output, output
    assert len(output.splitlines()) <= 12, output


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_debug_log_level_brings_the_scheduler_lines_back(tmp_path: Path, database_url: str) -> None:
    smtp = SmtpServer()
    schedules = tmp_path / "schedules.yaml"
    schedules.write_text(STARTER_SCHEDULES)
    env = daemon_env(tmp_path, database_url, smtp, schedules, free_port())
    env["PUBLISHER_LOG_LEVEL"] = "DEBUG"
    proc = subprocess.Popen(
        [sys.executable, "-m", "publisher", "run", "--no-web"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        for line in proc.stdout:  # the first feeds job runs at start
            lines.append(line)
            if "Running job" in line:
                break
    finally:
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=20)
    output = "".join(lines) + rest
    # (Alembic speaks only when it migrates: a database at the newest migration is not
    # handed to it at all, see store.engine.migrate.)
    assert "[apscheduler" in output, output


def test_screenshots_named_in_the_docs_exist() -> None:
    index = (Path(__file__).resolve().parents[2] / "docs" / "index.md").read_text()
    for name in ("story-390.png", "story-1280.png"):
        assert f"(screenshots/{name})" in index
        assert (SCREENSHOTS / name).exists() or (ARTIFACTS / name).exists()
