"""Subscriber lists as CSV: the columns of docs/reference/subscribers-csv.md (email, name, status,
digests, created_at, confirmed_at, categories, language, story_languages, breaking), read with
a line number for every problem. Pure apart from the files it is given."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from publisher.content import normalise_email, one_line
from publisher.errors import InputError
from publisher.languages import CATALOGS, catalog_for, parse_tags

__all__ = [
    "COLUMNS",
    "MERGED",
    "STATUSES",
    "Row",
    "guard_cell",
    "read_rows",
    "unguard_cell",
    "write_rows",
]

# A cell a spreadsheet would run as a formula (OWASP, CSV injection): =, +, - or @ first, also
# after spaces, or a tab or CR first. Export puts a ' before it; import takes exactly that ' off.
# A cell that is ' before such a cell gets one more, so every cell comes back as it went out.
_FORMULA = re.compile(r"^(?:[\t\r]|\s*[=+\-@])")


def _formula_like(cell: str) -> bool:
    return bool(_FORMULA.match(cell)) or (cell.startswith("'") and _formula_like(cell[1:]))


def guard_cell(cell: str) -> str:
    """``cell`` as a spreadsheet shows it and never runs it."""
    return "'" + cell if _formula_like(cell) else cell


def unguard_cell(cell: str) -> str:
    """What ``guard_cell`` was given."""
    return cell[1:] if cell.startswith("'") and _formula_like(cell[1:]) else cell


COLUMNS = (
    "email", "name", "status", "digests", "created_at", "confirmed_at", "categories",
    "language", "story_languages", "breaking",
)  # fmt: skip
MERGED = COLUMNS[1:]
_YES = {"yes": True, "true": True, "1": True, "no": False, "false": False, "0": False}
MAX_STORY_LANGUAGES = 200  # characters: the column's size
STATUSES = ("pending", "confirmed", "unsubscribed", "bounced")


@dataclass(frozen=True)
class Row:
    line: int
    email: str
    name: str
    status: str
    digests: tuple[str, ...]
    created_at: datetime | None
    confirmed_at: datetime | None
    categories: tuple[str, ...] | None = None  # slugs; empty: every one; None: no such column
    # The language of their pages and mail ("": the site's), the languages of the stories they
    # read (empty: all) and whether they get breaking news; None: no such column (or, for
    # breaking, an empty cell): left as it is.
    language: str | None = None
    story_languages: tuple[str, ...] | None = None
    breaking: bool | None = None
    given: frozenset[str] = frozenset()  # the columns this row had a value in

    def merged(self, later: Row) -> Row:
        """One person's two rows as one: ``later``'s values win, blanks in it keep ours."""
        taken = {name: getattr(later, name) for name in later.given}
        return replace(self, **taken, line=later.line, given=self.given | later.given)


def _when(text: str, zone: ZoneInfo, column: str) -> datetime | None:
    text = text.strip()
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{column}: {text!r} is not an ISO 8601 date and time") from None
    value = value.replace(tzinfo=zone) if value.tzinfo is None else value
    try:
        value.astimezone(UTC)  # stored in UTC: 9999-12-31T23:59:59-23:59 is past year 9999
    except OverflowError:
        raise ValueError(f"{column}: {text!r} is out of range (years 1 to 9999 in UTC)") from None
    return value


def read_rows(
    path: Path,
    *,
    known_digests: Sequence[str],
    zone: ZoneInfo,
    known_categories: Sequence[str] = (),
) -> Iterator[Row | str]:
    """Each row of a subscriber CSV, cleaned, or ``"path:LINE: problem"``. A file that is not
    a CSV with an ``email`` column raises InputError."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}:1: not UTF-8 text") from None
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    if "email" not in header:
        raise InputError(f"{path}:1: no email column (columns: {', '.join(COLUMNS)})")
    unknown = [h for h in header if h not in COLUMNS]
    if unknown:
        raise InputError(
            f"{path}:1: unknown column(s) {', '.join(unknown)} (allowed: {', '.join(COLUMNS)})"
        )
    reader.fieldnames = header
    for record in reader:
        line = reader.line_num
        try:
            yield _row(line, record, known_digests, known_categories, zone)
        except ValueError as exc:
            yield f"{path}:{line}: {exc}"


def _row(
    line: int,
    record: dict[str, str | None],
    known: Sequence[str],
    known_categories: Sequence[str],
    zone: ZoneInfo,
) -> Row:
    def get(column: str) -> str:
        return unguard_cell(record.get(column) or "").strip()

    email = normalise_email(get("email"))
    status = get("status").lower() or "confirmed"
    if status not in STATUSES:
        raise ValueError(f"status: {status!r} is not one of {', '.join(STATUSES)}")
    digests = tuple(dict.fromkeys(get("digests").split())) or tuple(known)
    unknown = [d for d in digests if d not in known]
    if unknown:
        raise ValueError(f"digests: unknown {', '.join(unknown)} (known: {', '.join(known)})")
    categories = (
        tuple(dict.fromkeys(unicodedata.normalize("NFC", get("categories").lower()).split()))
        if "categories" in record
        else None
    )
    unknown = [c for c in categories or () if c not in known_categories]
    if unknown:
        raise ValueError(
            f"categories: unknown {', '.join(unknown)} "
            f"(known: {', '.join(known_categories) or 'none yet'})"
        )
    return Row(
        line,
        email,
        one_line(get("name"))[:200],
        status,
        digests,
        _when(get("created_at"), zone, "created_at"),
        _when(get("confirmed_at"), zone, "confirmed_at"),
        categories,
        _language(get("language")) if "language" in record else None,
        _story_languages(get("story_languages")) if "story_languages" in record else None,
        _breaking(get("breaking")),
        frozenset(c for c in MERGED if get(c)),
    )


def _language(cell: str) -> str:
    """The catalog's tag for a member's pages and mail ("": the site's)."""
    if not cell:
        return ""
    found = catalog_for(cell[:35], default="")
    if not found:
        raise ValueError(
            f"language: the site does not speak {cell!r} (it speaks {', '.join(CATALOGS)})"
        )
    return found


def _story_languages(cell: str) -> tuple[str, ...]:
    try:
        found = tuple(parse_tags(cell.split()))
    except ValueError as exc:
        raise ValueError(f"story_languages: {exc}") from None
    if len(" ".join(found)) > MAX_STORY_LANGUAGES:
        raise ValueError("story_languages: too many languages")
    return found


def _breaking(cell: str) -> bool | None:
    if not cell:
        return None
    try:
        return _YES[cell.lower()]
    except KeyError:
        raise ValueError(f"breaking: {cell!r} is not yes or no") from None


def write_rows(out: TextIO, rows: Iterable[tuple[object, ...]]) -> int:
    """Write the header and ``rows`` (in COLUMNS order); how many rows."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    count = 0
    for row in rows:
        writer.writerow([guard_cell(str(cell)) for cell in row])
        count += 1
    return count
