"""Languages: BCP 47 tags, the gettext catalogs in ``locales/`` (read from their ``.po``
files on first use, so a clean clone needs no compile step), ``Accept-Language``, a story's
language guessed from its script, and dates and numbers in CLDR's forms (Babel). The one home
of Babel and gettext."""

from __future__ import annotations

import functools
import io
import re
import threading
from collections.abc import Iterable, Sequence
from datetime import datetime, tzinfo
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.dates import format_skeleton, format_time, get_datetime_format
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations

__all__ = [
    "CATALOGS",
    "LOCALES",
    "N_",
    "catalog_for",
    "detect",
    "direction",
    "format_date",
    "format_datetime",
    "format_number",
    "gettext",
    "language_name",
    "negotiate",
    "normalize_tag",
    "parse_tags",
    "translations",
]

LOCALES = Path(__file__).resolve().parent.parent / "locales"
# The reader-facing languages, as BCP 47 tags, with the directory of each catalog
# (``locales/<dir>/LC_MESSAGES/messages.po``). English is the source language: its catalog
# holds every message with itself as the translation.
CATALOGS = {
    "en": "en",
    "ko": "ko",
    "th": "th",
    "vi": "vi",
    "id": "id",
    "ms": "ms",
    "zh-Hans": "zh_Hans",
    "ja": "ja",
}
DOMAIN = "messages"

# language[-script][-region][-variant...]: RFC 5646's common shapes (no extensions, private use
# or grandfathered tags: a story has no need of them).
_TAG = re.compile(
    r"^(?P<lang>[A-Za-z]{2,3})(?:-(?P<script>[A-Za-z]{4}))?(?:-(?P<region>[A-Za-z]{2}|\d{3}))?"
    r"(?P<variants>(?:-(?:[A-Za-z0-9]{5,8}|\d[A-Za-z0-9]{3}))*)$"
)


def normalize_tag(tag: str) -> str:
    """``tag`` as a BCP 47 tag in its usual case (``en-GB``, ``zh-Hans``); ValueError with
    what is wrong when it is not one, or names a language CLDR does not know."""
    raw = tag.strip().replace("_", "-")
    found = _TAG.match(raw)
    if not found:
        raise ValueError(f"{tag!r} is not a language tag (like en, th, zh-Hans or en-GB)")
    lang = found["lang"].lower()
    try:
        Locale.parse(lang)
    except (UnknownLocaleError, ValueError):
        raise ValueError(f"{tag!r}: no language {lang!r} is known") from None
    parts = [lang]
    if found["script"]:
        parts.append(found["script"].title())
    if found["region"]:
        parts.append(found["region"].upper())
    parts.extend(v.lower() for v in found["variants"].split("-") if v)
    return "-".join(parts)


def parse_tags(text: str | Iterable[str]) -> list[str]:
    """Space- or comma-separated tags (or a list), normalised, each once, in order."""
    items = text.replace(",", " ").split() if isinstance(text, str) else list(text)
    seen: list[str] = []
    for item in items:
        tag = normalize_tag(item)
        if tag not in seen:
            seen.append(tag)
    return seen


def catalog_for(tag: str, default: str = "en") -> str:
    """The catalog's tag that serves ``tag`` (``th-TH`` -> ``th``, ``zh-CN`` -> ``zh-Hans``),
    or ``default`` when no catalog speaks its language."""
    if tag in CATALOGS:
        return tag
    lang = tag.split("-", 1)[0].lower()
    for known in CATALOGS:
        if known.split("-", 1)[0] == lang:
            return known
    return default


def negotiate(header: str, default: str, available: Sequence[str] = tuple(CATALOGS)) -> str:
    """The catalog an ``Accept-Language`` header prefers (RFC 9110: by q-value, then order),
    ``default`` when it names none we have."""
    ranked: list[tuple[float, int, str]] = []
    for index, item in enumerate(header.split(",")[:20]):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        name, _, value = params.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                quality = float(value)
            except ValueError:
                continue
        if tag and tag != "*" and quality > 0:
            ranked.append((-quality, index, tag.strip()))
    for _, _, tag in sorted(ranked):
        found = catalog_for(tag, default="")
        if found in available:
            return found
    return default


# English as the region writes it (day, month, year; a 24-hour clock), as the site did
# before it spoke other languages; a story tagged en-US gets CLDR's en-US forms.
_FORMS = {"en": "en_GB"}


def _babel_locale(tag: str) -> Locale:
    """The CLDR locale whose forms ``tag``'s dates and numbers take."""
    return _parse(_FORMS.get(tag, tag))


def _parse(tag: str) -> Locale:
    try:
        return Locale.parse(tag.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return Locale.parse(tag.split("-", 1)[0])


def language_name(tag: str, in_language: str | None = None) -> str:
    """``tag``'s name in ``in_language`` (its own language when not given): ``ไทย``,
    ``한국어``; the tag itself when CLDR has no name for it."""
    try:
        name = _parse(tag).get_display_name(_parse(in_language or tag))
    except (UnknownLocaleError, ValueError):
        return tag
    return name or tag


def direction(tag: str) -> str:
    """``rtl`` or ``ltr``, from CLDR (for a later Arabic or Hebrew catalog)."""
    try:
        return "rtl" if _parse(tag).text_direction == "rtl" else "ltr"
    except (UnknownLocaleError, ValueError):
        return "ltr"


_LOAD = threading.Lock()


@functools.cache
def _loaded(tag: str, folder: Path) -> NullTranslations:
    po = folder / CATALOGS[tag] / "LC_MESSAGES" / f"{DOMAIN}.po"
    with _LOAD, po.open("rb") as source:
        catalog = read_po(source, locale=CATALOGS[tag])
    compiled = io.BytesIO()
    write_mo(compiled, catalog)  # fuzzy entries stay out, as msgfmt leaves them
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def translations(tag: str, folder: Path = LOCALES) -> NullTranslations:
    """The catalog that serves ``tag`` (compiled in memory from its ``.po`` once per
    process); English, the source language, for a language without one."""
    return _loaded(catalog_for(tag), folder)


def N_(message: str) -> str:
    """Marks ``message`` for pybabel where it is written; translated where it is shown."""
    return message


def gettext(tag: str, message: str, **values: object) -> str:
    """``message`` in ``tag``'s catalog, its ``%(name)s`` placeholders filled from ``values``
    (a message is written with ``_()`` or ``N_()`` where it is defined, so that pybabel
    finds it)."""
    found = translations(tag).gettext(message)
    return found % values if values else found


def format_datetime(value: datetime, tag: str, zone: tzinfo) -> str:
    """A date and time as ``tag``'s readers write it (``7 ธ.ค. 2026 09:05 น.``), in ``zone``,
    with the zone's abbreviation."""
    local = value.astimezone(zone)
    locale = _babel_locale(tag)
    day = format_skeleton("yMMMd", local, locale=locale)
    time = format_time(local, "short", tzinfo=zone, locale=locale)
    joined = str(get_datetime_format("medium", locale=locale)).replace("'", "")
    return f"{joined.format(time, day)} {local.tzname()}"


def format_date(value: datetime, tag: str, zone: tzinfo) -> str:
    """A day as ``tag``'s readers write it (``2026년 12월 7일``), in ``zone``."""
    return format_skeleton("yMMMd", value.astimezone(zone), locale=_babel_locale(tag))


def format_number(value: float, tag: str) -> str:
    """A number with ``tag``'s separators (``1,234`` / ``1.234``)."""
    return format_decimal(value, locale=_babel_locale(tag))


# Scripts that name a language on their own, as runs of their letters (counted in C by the
# regular expressions: a Unicode name per character made the import four times slower).
_SCRIPTS = (
    ("ko", re.compile("[\u1100-\u11ff\u3131-\u318e\ua960-\ua97c\uac00-\ud7a3\ud7b0-\ud7fb]+")),
    ("th", re.compile("[\u0e01-\u0e30\u0e32\u0e33\u0e40-\u0e46]+")),
    ("ja", re.compile("[\u3041-\u3096\u309d-\u309f\u30a1-\u30fa\u30fc-\u30ff\u31f0-\u31ff]+")),
    ("zh-Hans", re.compile("[\u3400-\u4dbf\u4e00-\u9fff\U00020000-\U0003134f]+")),
)
_LATIN = re.compile("[A-Za-z\u00aa\u00ba\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u1e00-\u1eff]+")
_VIETNAMESE = "ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ"
_VIETNAMESE_LETTERS = re.compile(f"[{_VIETNAMESE}{_VIETNAMESE.upper()}]")
_MALAY = {"ialah", "kerana", "boleh", "daripada", "kerajaan", "wang", "sahaja", "bagi", "telah"}
_INDONESIAN = {"adalah", "karena", "bisa", "pemerintah", "uang", "saja", "tersebut", "sudah"}
_BOTH = {"yang", "dan", "untuk", "dengan", "ini", "itu", "akan", "tidak", "pada", "dari"}
_SAMPLE = 1000  # characters: enough to tell a script or a language's common words


def _letters(pattern: re.Pattern[str], text: str) -> int:
    return sum(map(len, pattern.findall(text)))


def _words(text: str, words: set[str]) -> int:
    """How many of ``words`` stand alone in ``text`` (lowercased, spaced at both ends)."""
    return sum(1 for word in words if f" {word} " in text)


def detect(text: str) -> str | None:
    """The language ``text`` reads as, guessed from its script (and for Latin script a few
    words), or None when it cannot tell. A suggestion for an editor, never a decision.
    Cheap enough to run on every story of an import (tens of microseconds)."""
    sample = text[:_SAMPLE]
    if sample.isascii():
        if not _LATIN.search(sample):
            return None
    else:
        latin = _letters(_LATIN, sample)
        counts = {tag: n for tag, pattern in _SCRIPTS if (n := _letters(pattern, sample))}
        if counts.get("ja") and counts.get("zh-Hans"):  # Japanese mixes kanji with kana
            counts["ja"] += counts.pop("zh-Hans")
        if counts and max(counts.values()) * 4 >= latin:
            return max(counts, key=lambda tag: counts[tag])
        if not latin:
            return None
        if len(_VIETNAMESE_LETTERS.findall(sample)) * 20 >= latin:
            return "vi"
    spaced = f" {sample.lower().replace(chr(10), ' ')} "
    if _words(spaced, _BOTH) >= 2:
        return "ms" if _words(spaced, _MALAY) > _words(spaced, _INDONESIAN) else "id"
    return "en"
