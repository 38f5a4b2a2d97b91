"""Articles as clean values: the fields an article may have, validated and cleaned (dates,
URLs, sanitised HTML, slugs), and every problem located at the file and line it came from.
Reading the files themselves is ``articles.files``. Pure."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, StrictBool, StrictStr, ValidationError

from publisher.content import (
    markdown_html,
    one_line,
    plain_text,
    sanitise_html,
    searchable_text,
    slugify,
    unspaced_runs,
    xml_text,
)
from publisher.errors import InputError
from publisher.languages import detect, normalize_tag

__all__ = [
    "MAX_LENGTHS",
    "MAX_TITLE",
    "ArticleInput",
    "ArticleProblems",
    "Location",
    "Parsed",
    "Problem",
    "Raw",
    "locate",
    "parse_objects",
    "parse_when",
    "validate_form",
    "validate_record",
]

MAX_TITLE = 500
# The database's column sizes (models.Article): longer is refused here, with the key, rather
# than failing in the database (PostgreSQL) or being stored whole (SQLite).
MAX_LENGTHS = {
    "slug": 200,
    "author": 200,
    "editor": 200,
    "image": 2000,
    "source.name": 300,
    "source.url": 2000,
    "categories": 200,
}


@dataclass(frozen=True)
class Location:
    path: Path
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True)
class ArticleInput:
    """One article as an editor gave it, cleaned: safe HTML, one-line title, aware time."""

    slug: str
    title: str
    summary: str = ""
    body_html: str = ""
    author: str = ""
    editor: str = ""
    categories: tuple[str, ...] = ()
    image: str = ""
    source_name: str = ""
    source_url: str = ""
    ai_assisted: bool = False
    sponsored: bool = False
    published_at: datetime | None = None
    corrections: tuple[tuple[datetime, str], ...] = ()
    # The Markdown ``body_html`` was rendered from, kept so the newsroom can edit it again;
    # not part of the hash: the same HTML is the same story to readers.
    body_markdown: str = ""
    language: str = ""  # a BCP 47 tag; empty: the site's language
    translation_of: str = ""  # the slug of a story this one translates (or is translated by)
    content_hash: str = field(init=False)
    # What the search index takes of the story, made here so that an import's worker
    # processes make it (a third of the import's time in the writing process before).
    search_body: str = field(init=False, repr=False)
    search_unspaced: str = field(init=False, repr=False)
    # The language the story reads as, when it names none ("" when it does or none shows):
    # a suggestion for the editor, guessed here for the same reason.
    guessed_language: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        parts = [
            self.slug, self.title, self.summary, self.body_html, self.author, self.editor,
            "\x1f".join(self.categories), self.image, self.source_name, self.source_url,
            str(self.ai_assisted), str(self.sponsored),
            self.published_at.isoformat() if self.published_at else "",
            *(f"{when.isoformat()} {note}" for when, note in self.corrections),
            *((f"lang {self.language} {self.translation_of}",) if self.language
              or self.translation_of else ()),  # as before for stories without them
        ]  # fmt: skip
        digest = hashlib.sha256("\x1e".join(parts).encode("utf-8", "surrogatepass")).hexdigest()
        object.__setattr__(self, "content_hash", digest)
        body = searchable_text(self.body_html)
        object.__setattr__(self, "search_body", body)
        object.__setattr__(self, "search_unspaced", unspaced_runs(self.title, self.summary, body))
        guessed = (
            ""
            if self.language
            else detect(" ".join((self.title, self.summary, self.body_markdown or self.body_html)))
        )
        object.__setattr__(self, "guessed_language", guessed or "")


@dataclass(frozen=True)
class Problem:
    location: Location
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


class _Source(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: StrictStr = ""
    url: StrictStr = ""


class _Correction(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: StrictStr
    date: StrictStr | datetime | date


class _Fields(BaseModel):
    """The keys an article file may use (docs/reference/article-files.md)."""

    model_config = ConfigDict(extra="forbid")
    title: StrictStr
    slug: StrictStr | None = None
    summary: StrictStr = ""
    body: StrictStr | None = None
    body_html: StrictStr | None = None
    published_at: StrictStr | datetime | date | None = None
    author: StrictStr = ""
    editor: StrictStr = ""
    categories: list[StrictStr] = []
    image: StrictStr = ""
    source: _Source | None = None
    ai_assisted: StrictBool = False
    sponsored: StrictBool = False
    corrections: list[_Correction] = []
    language: StrictStr = ""
    translation_of: StrictStr = ""


class _FieldError(ValueError):
    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


def _absolute_url(key: str, value: str) -> str:
    value = value.strip()
    parts = urlsplit(value)
    if value and (parts.scheme not in ("http", "https") or not parts.netloc):
        raise _FieldError(key, f"{key}: {value!r} is not an absolute http(s) URL")
    return value


def parse_when(value: object, zone: ZoneInfo, key: str = "published_at") -> datetime:
    """An aware datetime from ISO 8601 text (or a date); no offset means ``zone``."""
    if isinstance(value, datetime):
        when = value
    elif isinstance(value, date):
        when = datetime.combine(value, time())
    else:
        text = str(value).strip()
        try:
            when = datetime.fromisoformat(text)
        except ValueError as exc:
            raise _FieldError(
                key,
                f"{key}: {text!r} is not an ISO 8601 date and time such as "
                f"2026-11-30T07:00:00+08:00 ({exc})",
            ) from None
    when = when.replace(tzinfo=zone) if when.tzinfo is None else when
    try:
        when.astimezone(UTC)  # stored in UTC: 9999-12-31T23:59:59-23:59 is past year 9999
    except OverflowError:
        raise _FieldError(
            key, f"{key}: {when.isoformat()!r} is out of range (years 1 to 9999 in UTC)"
        ) from None
    return when


def _clean(fields: _Fields, zone: ZoneInfo) -> ArticleInput:
    title = _title(fields)
    slug = _slug(fields, title)
    body_html = _body_html(fields)
    categories = _categories(fields)
    source = fields.source or _Source()
    corrections = _corrections(fields, zone)
    _check_lengths(fields, slug, source, categories)
    return ArticleInput(
        slug=slug,
        title=title,
        summary=plain_text(fields.summary).strip(),
        body_html=body_html,
        body_markdown="" if fields.body_html is not None else xml_text(fields.body or ""),
        author=one_line(fields.author),
        editor=one_line(fields.editor),
        categories=tuple(categories),
        image=_absolute_url("image", fields.image),
        source_name=one_line(source.name),
        source_url=_absolute_url("source.url", source.url),
        ai_assisted=fields.ai_assisted,
        sponsored=fields.sponsored,
        published_at=(
            None if fields.published_at is None else parse_when(fields.published_at, zone)
        ),
        corrections=tuple(sorted(corrections)),
        language=_language(fields.language),
        translation_of=_translation_of(fields.translation_of, slug),
    )


def _language(value: str) -> str:
    """The story's BCP 47 tag in its usual case; empty stays empty (the site's language)."""
    if not value.strip():
        return ""
    try:
        return normalize_tag(value)
    except ValueError as exc:
        raise _FieldError("language", f"language: {exc}") from None


def _translation_of(value: str, slug: str) -> str:
    value = value.strip()
    if value and slugify(value) != value:
        raise _FieldError("translation_of", f"translation_of: {value!r} is not a story's slug")
    if value == slug:
        raise _FieldError("translation_of", "translation_of: a story is not its own translation")
    return value


def _title(fields: _Fields) -> str:
    """The title on one line; a _FieldError if empty or too long."""
    title = one_line(fields.title)
    if not title:
        raise _FieldError("title", "title: must not be empty")
    if len(title) > MAX_TITLE:
        raise _FieldError("title", f"title: longer than {MAX_TITLE} characters")
    return title


def _slug(fields: _Fields, title: str) -> str:
    """The slug given, which must already be one, or else the title's."""
    if fields.slug is not None:
        slug = fields.slug.strip()
        if not slug or slugify(slug) != slug:
            hint = slugify(slug) or "a-slug-like-this"
            raise _FieldError(
                "slug",
                f"slug: {slug!r} is not a URL slug (lower-case letters, digits and "
                f"hyphens, such as {hint!r})",
            )
        return slug
    slug = slugify(title)[:120].strip("-")
    if not slug:
        raise _FieldError("title", "title: has no letters or digits to make a slug; add a slug")
    return slug


def _body_html(fields: _Fields) -> str:
    """The body as safe HTML, from either the Markdown body or the HTML one (never both)."""
    if fields.body is not None and fields.body_html is not None:
        raise _FieldError("body_html", "body_html: give either body (Markdown) or body_html")
    if fields.body_html is not None:
        return sanitise_html(fields.body_html)
    return markdown_html(fields.body or "")


def _categories(fields: _Fields) -> list[str]:
    """The category names on one line each, in order, each once, those with no slug dropped."""
    categories: list[str] = []
    for name in fields.categories:
        name = one_line(name)
        if name and slugify(name) and name not in categories:
            categories.append(name)
    return categories


def _corrections(fields: _Fields, zone: ZoneInfo) -> list[tuple[datetime, str]]:
    """The corrections as (when, note), in the file's order; each needs a note."""
    corrections = []
    for number, correction in enumerate(fields.corrections):
        note = plain_text(correction.note).strip()
        if not note:
            raise _FieldError("corrections", f"corrections.{number}.note: must not be empty")
        when = parse_when(correction.date, zone, f"corrections.{number}.date")
        corrections.append((when, note))
    return corrections


def _check_lengths(fields: _Fields, slug: str, source: _Source, categories: list[str]) -> None:
    """A _FieldError naming the first field longer than MAX_LENGTHS allows it."""
    for key, value in (
        ("slug", slug),
        ("author", fields.author),
        ("editor", fields.editor),
        ("image", fields.image),
        ("source.name", source.name),
        ("source.url", source.url),
        *(("categories", name) for name in categories),
    ):
        if len(value.strip()) > MAX_LENGTHS[key]:
            raise _FieldError(key, f"{key}: longer than {MAX_LENGTHS[key]:,} characters")


def _explain(err: Any) -> tuple[str, str]:
    loc = ".".join(str(p) for p in err["loc"])
    key = str(err["loc"][0]) if err["loc"] else ""
    kind = err["type"]
    if kind == "missing":
        return key, f"{loc}: is required"
    if kind == "extra_forbidden":
        allowed = ", ".join(_Fields.model_fields)
        return key, f"{loc}: unknown key (allowed: {allowed})"
    if kind.endswith("_type") or kind.startswith("string") or kind == "model_type":
        given = type(err.get("input")).__name__
        return key, f"{loc}: wrong type ({given}); {err['msg'].lower()}"
    return key, f"{loc}: {err['msg']}"


def validate_record(data: object, zone: ZoneInfo) -> ArticleInput | tuple[str, str]:
    """The cleaned article, or ``(key, message)`` naming what is wrong."""
    if not isinstance(data, dict):
        return "", f"expected an object with a title, found {type(data).__name__}"
    try:
        fields = _Fields.model_validate(data)
    except ValidationError as exc:
        # Report the dotted path's first element first; pydantic's union noise is dropped.
        first = exc.errors()[0]
        if first["loc"] and first["loc"][0] == "published_at":
            return "published_at", "published_at: must be an ISO 8601 date and time"
        return _explain(first)
    try:
        return _clean(fields, zone)
    except _FieldError as exc:
        return exc.key.split(".")[0], str(exc)


class ArticleProblems(InputError):
    """An article from a form with something wrong: ``fields`` maps each key at fault to
    what is wrong with it, so that each problem is shown beside its field."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__(
            f"the article was not saved: {len(fields)} problem(s)",
            details=[f"{key}: {message}" for key, message in fields.items()],
        )
        self.fields = fields


def validate_form(data: dict[str, object], zone: ZoneInfo) -> ArticleInput:
    """``validate_record`` for a form: every field at fault, not only the first. Each key at
    fault is set aside and the rest validated again, so there is still one validator."""
    trial = dict(data)
    problems: dict[str, str] = {}
    for _ in range(len(data) + 1):
        result = validate_record(trial, zone)
        if isinstance(result, ArticleInput):
            break
        key, message = result
        if key in problems or (key not in trial and key != "title"):
            problems.setdefault(key, message)  # cannot set it aside: stop here
            break
        prefix = message.split(": ", 1)
        problems[key] = prefix[1] if len(prefix) == 2 and prefix[0].startswith(key) else message
        if key == "title":
            trial["title"] = "a title"
        else:
            trial.pop(key)
    if problems:
        raise ArticleProblems(problems)
    assert isinstance(result, ArticleInput)
    return result


Raw = tuple[Path, int, dict[str, int], object]  # file, line, each key's line, the record
Parsed = tuple[Location, ArticleInput | Problem]


def locate(raw: Raw, zone: ZoneInfo) -> Parsed:
    """A raw record cleaned, or its problem at the line of the key at fault."""
    path, line, key_lines, data = raw
    result = validate_record(data, zone)
    if isinstance(result, ArticleInput):
        return Location(path, line), result
    key, message = result
    where = Location(path, key_lines.get(key, line))
    return where, Problem(where, message)


def parse_objects(objects: Sequence[object], source: str, zone: ZoneInfo) -> Iterator[Parsed]:
    """Article objects from an API request, each located as ``source`` item N (from 1)."""
    for number, data in enumerate(objects, start=1):
        yield locate((Path(source), number, {}, data), zone)
