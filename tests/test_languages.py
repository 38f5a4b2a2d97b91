"""Languages (issue 29): every catalog in locales/ holds every reader-facing message that
pybabel extracts from the code and templates, translated, with each placeholder and HTML tag
kept; tags, Accept-Language, the script guess and CLDR's dates and numbers."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from publisher import languages

ROOT = Path(__file__).resolve().parents[1]
PLACEHOLDER = re.compile(r"%\((\w+)\)s")
TAG = re.compile(r"</?([a-z]+)")
Message = str | tuple[str, ...]


def extracted() -> dict[Message, None]:
    """Every message pybabel finds with the repository's babel.cfg (as `pybabel extract`)."""
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)  # type: ignore[no-untyped-call]
    found: dict[Message, None] = {}
    keywords = {**DEFAULT_KEYWORDS, "N_": None}
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=keywords
    ):
        found[message] = None
    return found


def marks(text: str) -> tuple[set[str], list[str]]:
    """The placeholders a text names, and its HTML tags in order."""
    return set(PLACEHOLDER.findall(text)), TAG.findall(text)


def problems(catalog: Catalog, messages: dict[Message, None]) -> list[str]:
    """What a catalog lacks: a message missing, untranslated or fuzzy, or a placeholder or
    tag that its translation dropped or added."""
    found = []
    for message in messages:
        entry = catalog.get(message)
        if entry is None:
            found.append(f"missing: {message!r}")
            continue
        raw = entry.string
        strings = tuple(str(s) for s in raw) if isinstance(raw, tuple | list) else (str(raw or ""),)
        if entry.fuzzy or not all(strings):
            found.append(f"untranslated: {message!r}")
            continue
        # A plural's forms match the source's; a language with one form takes the plural's.
        if isinstance(message, str):
            sources: tuple[str, ...] = (message,)
        elif len(strings) == len(message):
            sources = message
        else:
            sources = (message[-1],) * len(strings)
        for string, source in zip(strings, sources, strict=True):
            if marks(string) != marks(source):
                found.append(f"placeholders or tags differ: {message!r} -> {string!r}")
    return found


@pytest.fixture(scope="module")
def messages() -> dict[Message, None]:
    found = extracted()
    assert len(found) > 100  # the pages', the mail's and the Python messages
    return found


@pytest.mark.parametrize("tag", list(languages.CATALOGS))
def test_every_catalog_is_complete_and_keeps_every_placeholder(
    tag: str, messages: dict[Message, None]
) -> None:
    path = languages.LOCALES / languages.CATALOGS[tag] / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as source:
        catalog = read_po(source, locale=languages.CATALOGS[tag])
    assert problems(catalog, messages) == []


def test_the_check_catches_a_missing_message_and_a_dropped_placeholder(
    messages: dict[Message, None],
) -> None:
    path = languages.LOCALES / "th" / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as source:
        catalog = read_po(source, locale="th")
    catalog.delete("Search")
    catalog["Confirm %(email)s?"].string = "ยืนยันไหม?"
    catalog["Read the story"].string = ""
    found = problems(catalog, messages)
    assert "missing: 'Search'" in found
    assert any(p.startswith("placeholders or tags differ: 'Confirm %(email)s?'") for p in found)
    assert "untranslated: 'Read the story'" in found


def test_a_catalog_is_read_from_its_po_file_with_no_compile_step(tmp_path: Path) -> None:
    folder = tmp_path / "th" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "messages.po").write_text(
        'msgid ""\nmsgstr "Content-Type: text/plain; charset=utf-8\\n"\n\n'
        'msgid "Search"\nmsgstr "ค้นหา"\n\n'
        '#, fuzzy\nmsgid "Join"\nmsgstr "ผิด"\n',
        encoding="utf-8",
    )
    found = languages.translations("th-TH", tmp_path)
    assert found.gettext("Search") == "ค้นหา"
    assert found.gettext("Join") == "Join"  # a fuzzy translation is not used, as msgfmt does
    assert languages.gettext("ko", "Search") == "검색"
    assert languages.gettext("fr", "Search") == "Search"  # no catalog: English


def test_tags_are_checked_and_written_in_their_usual_case() -> None:
    assert languages.normalize_tag("EN-gb") == "en-GB"
    assert languages.normalize_tag("zh_hans") == "zh-Hans"
    assert languages.normalize_tag(" th ") == "th"
    for bad in ("", "english", "e", "en--GB", "xx-YY-ZZZZZZZZZZ", "qqq"):
        with pytest.raises(ValueError):
            languages.normalize_tag(bad)
    assert languages.parse_tags("ko, th ko") == ["ko", "th"]


def test_accept_language_picks_the_best_catalog_by_quality() -> None:
    assert languages.negotiate("th-TH,th;q=0.9,en;q=0.5", "en") == "th"
    assert languages.negotiate("fr, ko;q=0.1", "en") == "ko"
    assert languages.negotiate("en;q=0.2, ja", "en") == "ja"
    assert languages.negotiate("zh-CN", "en") == "zh-Hans"
    assert languages.negotiate("fr, de;q=0.5", "en") == "en"
    assert languages.negotiate("ko;q=0, *", "th") == "th"
    assert languages.negotiate("", "vi") == "vi"


def test_a_story_language_is_guessed_from_its_script() -> None:
    assert languages.detect("ตลาดน้ำอัมพวาเปิดเส้นทางเรือใหม่") == "th"
    assert languages.detect("부산 국제 영화제, 아시아 독립영화 부문 신설") == "ko"
    assert languages.detect("東京の新しい駅がきょう開業しました") == "ja"
    assert languages.detect("新加坡地铁新线今天通车") == "zh-Hans"
    assert languages.detect("Hà Nội mở thêm tuyến xe buýt điện mới") == "vi"
    assert (
        languages.detect("Pemerintah mengatakan bahwa jalan tol ini akan dibuka untuk umum") == "id"
    )
    assert (
        languages.detect("Kerajaan berkata lebuh raya ini akan dibuka kerana ia telah siap") == "ms"
    )
    assert languages.detect("Durian exporters switch to rail") == "en"
    assert languages.detect("2026 · 12") is None


def test_dates_and_numbers_are_written_as_each_language_writes_them() -> None:
    zone = ZoneInfo("Asia/Singapore")
    when = datetime(2026, 12, 7, 9, 5, tzinfo=zone)
    assert languages.format_datetime(when, "en", zone) == "7 Dec 2026, 09:05 +08"
    assert languages.format_date(when, "ko", zone) == "2026년 12월 7일"
    assert languages.format_date(when, "th", zone) == "7 ธ.ค. 2026"
    assert languages.format_date(when, "ja", zone) == "2026年12月7日"
    assert languages.format_number(1234567, "id") == "1.234.567"
    assert languages.format_number(1234567, "en") == "1,234,567"
    assert languages.language_name("th") == "ไทย"
    assert languages.language_name("ko", "en") == "Korean"
    assert languages.direction("th") == "ltr" and languages.direction("ar") == "rtl"
