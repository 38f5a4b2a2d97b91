"""Readers in their own language (issue 29), in Chromium on a phone: a story's page, the
sign-up page (the browser's Accept-Language) and the digest, in Thai, Korean and English,
each fitting a 390 px screen; the screenshots go to docs/languages.md."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from publisher import store
from publisher.editions import making
from publisher.schedules import load_timetable
from publisher.settings import Settings
from publisher.templating import make_environment
from tests.browser import PHONE, SCREENSHOTS, screenshot, widest
from tests.support import NOW, make_settings

STORIES = {
    "th": "/articles/amphawa-floating-market-boat-route",
    "ko": "/articles/busan-independent-film-section",
    "en": "/articles/durian-exports-rail",
}
WORDS = {  # the search button, the sign-up heading and the digest's "Read the story"
    "th": ("ค้นหา", "ร่วมเป็นส่วนหนึ่งของชุมชน", "อ่านข่าว"),
    "ko": ("검색", "커뮤니티 가입", "기사 읽기"),
    "en": ("Search", "Join The Community", "Read the story"),
}
ACCEPT = {"th": "th-TH", "ko": "ko-KR", "en": "en-GB"}


def keep(page: Any, name: str) -> None:
    shot = screenshot(page, name)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, SCREENSHOTS / shot.name)  # docs/languages.md shows these


def digest_html(tmp_path: Path, language: str) -> str:
    """The next digest of the sample site (the ``site`` fixture's database in ``tmp_path``)
    as a member who reads ``language`` gets it."""
    settings: Settings = make_settings(
        tmp_path, PUBLISHER_DATABASE_URL=f"sqlite:///{tmp_path}/b.db"
    )
    (tmp_path / "schedules.yaml").write_text(
        'timezone: Asia/Singapore\ndigests:\n  daily:\n    title: "Join The Community"\n'
        '    cron: "0 7 * * *"\n'
    )
    engine = store.make_engine(settings.database_url)
    timetable = load_timetable(settings.schedules)
    rendered = making.preview(
        engine,
        settings,
        timetable,
        make_environment(zone=settings.zone),
        timetable.digest("daily"),
        now=NOW + timedelta(days=1),
        language=language,
    )
    engine.dispose()
    return rendered.html


@pytest.mark.slow
def test_a_reader_lives_in_their_language_on_a_phone(
    browser: Any, site: Any, tmp_path: Path
) -> None:
    for tag, (search, join, read) in WORDS.items():
        page = browser.new_page(viewport=PHONE, locale=ACCEPT[tag])
        page.goto(site.url + STORIES[tag])
        assert page.locator("html").get_attribute("lang") == tag
        assert page.locator("form.site-search button").inner_text() == search
        assert widest(page) <= PHONE["width"]
        keep(page, f"language-story-{tag}-390")
        page.goto(site.url + "/subscribe")
        assert page.get_by_role("heading", name=join).is_visible()
        assert page.locator("select[name=language]").input_value() == tag
        assert widest(page) <= PHONE["width"]
        keep(page, f"language-signup-{tag}-390")
        page.set_content(digest_html(tmp_path, tag))
        assert page.locator("html").get_attribute("lang") == tag
        assert page.get_by_role("link", name=read).first.is_visible()
        assert widest(page) <= PHONE["width"]
        keep(page, f"language-digest-{tag}-390")
        page.close()
