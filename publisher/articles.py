"""Article files (Markdown with YAML front matter, JSON, JSON Lines) parsed into clean values.

Pure apart from reading the files it is given. Every problem is reported against the file and
line it came from (for JSON Lines, the line of the record).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import multiprocessing
import re
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, StrictBool, StrictStr, ValidationError

from publisher.content import markdown_html, one_line, sanitise_html, slugify, xml_text
from publisher.errors import InputError

MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_RECORD_BYTES = 4 * 1024 * 1024
SUFFIXES = {".md": "markdown", ".markdown": "markdown", ".json": "json", ".jsonl": "jsonl"}
MAX_TITLE = 500


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
    content_hash: str = field(init=False)

    def __post_init__(self) -> None:
        parts = [
            self.slug, self.title, self.summary, self.body_html, self.author, self.editor,
            "\x1f".join(self.categories), self.image, self.source_name, self.source_url,
            str(self.ai_assisted), str(self.sponsored),
            self.published_at.isoformat() if self.published_at else "",
            *(f"{when.isoformat()} {note}" for when, note in self.corrections),
        ]  # fmt: skip
        digest = hashlib.sha256("\x1e".join(parts).encode("utf-8", "surrogatepass")).hexdigest()
        object.__setattr__(self, "content_hash", digest)


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
    """The keys an article file may use (CONTRACT.md, "Article files")."""

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
    return when.replace(tzinfo=zone) if when.tzinfo is None else when


def _clean(fields: _Fields, zone: ZoneInfo) -> ArticleInput:
    title = one_line(fields.title)
    if not title:
        raise _FieldError("title", "title: must not be empty")
    if len(title) > MAX_TITLE:
        raise _FieldError("title", f"title: longer than {MAX_TITLE} characters")
    if fields.slug is not None:
        slug = fields.slug.strip()
        if not slug or slugify(slug) != slug:
            hint = slugify(slug) or "a-slug-like-this"
            raise _FieldError(
                "slug",
                f"slug: {slug!r} is not a URL slug (lower-case letters, digits and "
                f"hyphens, such as {hint!r})",
            )
    else:
        slug = slugify(title)[:120].strip("-")
        if not slug:
            raise _FieldError("title", "title: has no letters or digits to make a slug; add a slug")
    if fields.body is not None and fields.body_html is not None:
        raise _FieldError("body_html", "body_html: give either body (Markdown) or body_html")
    if fields.body_html is not None:
        body_html = sanitise_html(fields.body_html)
    else:
        body_html = markdown_html(fields.body or "")
    categories: list[str] = []
    for name in fields.categories:
        name = one_line(name)
        if name and slugify(name) and name not in categories:
            categories.append(name)
    source = fields.source or _Source()
    corrections = []
    for number, correction in enumerate(fields.corrections):
        note = xml_text(correction.note).strip()
        if not note:
            raise _FieldError("corrections", f"corrections.{number}.note: must not be empty")
        when = parse_when(correction.date, zone, f"corrections.{number}.date")
        corrections.append((when, note))
    return ArticleInput(
        slug=slug,
        title=title,
        summary=xml_text(fields.summary).strip(),
        body_html=body_html,
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
    )


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


class _PlainLoader(yaml.SafeLoader):
    """SafeLoader that leaves timestamps as text, so dates get one parser and one message."""


_PlainLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _decode(path: Path, raw: bytes, first_line: int = 1) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = first_line + raw[: exc.start].count(b"\n")
        raise InputError(f"{path}:{line}: not UTF-8 text (byte 0x{raw[exc.start]:02x})") from None


def _read_text(path: Path) -> str:
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise InputError(f"{path}:1: file is {size:,} bytes; the limit is {MAX_FILE_BYTES:,}")
    return _decode(path, path.read_bytes())


def _key_lines_yaml(text: str) -> dict[str, int]:
    node = yaml.compose(text, Loader=_PlainLoader)
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {str(k.value): k.start_mark.line + 1 for k, _ in node.value}


_FRONT = re.compile(r"\A---[ \t]*\r?\n(.*?)^(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.S | re.M)


def _markdown_records(path: Path, text: str) -> Iterator[tuple[int, dict[str, int], object]]:
    match = _FRONT.match(text)
    if not match:
        raise InputError(f"{path}:1: no YAML front matter (start the file with --- and a title)")
    front = match.group(1)
    try:
        data = yaml.load(front, Loader=_PlainLoader)
        lines = _key_lines_yaml(front)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = 2 + (mark.line if mark else 0)
        reason = getattr(exc, "problem", None) or str(exc)
        raise InputError(f"{path}:{line}: front matter is not valid YAML ({reason})") from None
    if data is None:
        data = {}
    if isinstance(data, dict):
        body = text[match.end() :]
        if "body" in data or "body_html" in data:
            if body.strip():
                key = "body" if "body" in data else "body_html"
                raise InputError(
                    f"{path}:{1 + lines.get(key, 0)}: {key} given in front matter and below it"
                )
        else:
            data["body"] = body
    yield 1, {k: v + 1 for k, v in lines.items()}, data


def _json_records(path: Path, text: str) -> Iterator[tuple[int, dict[str, int], object]]:
    decoder = json.JSONDecoder()

    def line_of(index: int) -> int:
        return text.count("\n", 0, index) + 1

    def skip(index: int) -> int:
        while index < len(text) and text[index] in " \t\r\n":
            index += 1
        return index

    def one(index: int) -> tuple[int, dict[str, int], object, int]:
        try:
            value, end = decoder.raw_decode(text, index)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
        keys = {
            m.group(1): line_of(index + m.start())
            for m in re.finditer(r'"((?:[^"\\]|\\.)*)"\s*:', text[index:end])
        }
        return line_of(index), keys, value, end

    index = skip(0)
    if index < len(text) and text[index] == "[":
        index = skip(index + 1)
        while index < len(text) and text[index] != "]":
            line, keys, value, end = one(index)
            yield line, keys, value
            index = skip(end)
            if index < len(text) and text[index] == ",":
                index = skip(index + 1)
            elif index < len(text) and text[index] != "]":
                raise InputError(f"{path}:{line_of(index)}: not valid JSON (expected , or ])")
        if index >= len(text):
            raise InputError(f"{path}:{line_of(index)}: not valid JSON (missing ])")
        index += 1
    else:
        line, keys, value, index = one(index)
        yield line, keys, value
    if skip(index) != len(text):
        raise InputError(f"{path}:{line_of(skip(index))}: not valid JSON (extra data)")


def _jsonl_records(path: Path) -> Iterator[tuple[int, dict[str, int], object]]:
    with path.open("rb") as stream:
        for number, raw in enumerate(stream, start=1):
            if len(raw) > MAX_RECORD_BYTES:
                raise InputError(
                    f"{path}:{number}: record is {len(raw):,} bytes; the limit is "
                    f"{MAX_RECORD_BYTES:,}"
                )
            line = _decode(path, raw, number)
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
            yield number, {}, value


def expand(paths: Iterable[Path]) -> list[Path]:
    """The article files named, folders walked (sorted); unknown or missing paths are errors."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                p for p in sorted(path.rglob("*"))
                if p.is_file() and p.suffix.lower() in SUFFIXES and not p.name.startswith(".")
            )  # fmt: skip
        elif path.is_file():
            if path.suffix.lower() not in SUFFIXES:
                allowed = ", ".join(SUFFIXES)
                raise InputError(f"{path}: not an article file (use {allowed})")
            found.append(path)
        else:
            raise InputError(f"{path}: no such file or folder")
    return found


_Raw = tuple[Path, int, dict[str, int], object]
Parsed = tuple[Location, ArticleInput | Problem]


def _raw_records(path: Path) -> Iterator[_Raw]:
    kind = SUFFIXES[path.suffix.lower()]
    if kind == "jsonl":
        records = _jsonl_records(path)
    elif kind == "json":
        records = _json_records(path, _read_text(path))
    else:
        records = _markdown_records(path, _read_text(path))
    for line, key_lines, data in records:
        yield path, line, key_lines, data


def _validate(raw: _Raw, zone: ZoneInfo) -> Parsed:
    path, line, key_lines, data = raw
    result = validate_record(data, zone)
    if isinstance(result, ArticleInput):
        return Location(path, line), result
    key, message = result
    where = Location(path, key_lines.get(key, line))
    return where, Problem(where, message)


def _validate_chunk(zone_name: str, chunk: list[_Raw]) -> list[Parsed]:
    zone = ZoneInfo(zone_name)
    return [_validate(raw, zone) for raw in chunk]


def read_file(path: Path, zone: ZoneInfo) -> Iterator[Parsed]:
    """Each record of one article file, cleaned, or the problem with it.

    A file that cannot be read at all (not UTF-8, not JSON, too large) raises InputError.
    """
    for raw in _raw_records(path):
        yield _validate(raw, zone)


def read_files(paths: Iterable[Path], zone: ZoneInfo, *, workers: int = 1) -> Iterator[Parsed]:
    """``read_file`` over many files, in order; Markdown rendering spread over ``workers``
    processes, with a bounded number of chunks in flight so that memory stays flat."""
    if workers <= 1:
        for path in paths:
            yield from read_file(path, zone)
        return
    records = (raw for path in paths for raw in _raw_records(path))
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        pending: deque[Future[list[Parsed]]] = deque()
        try:
            while True:
                chunk = list(itertools.islice(records, _CHUNK))
                if chunk:
                    pending.append(pool.submit(_validate_chunk, zone.key, chunk))
                if pending and (len(pending) > 2 * workers or not chunk):
                    yield from pending.popleft().result()
                elif not chunk:
                    return
        finally:
            for future in pending:
                future.cancel()


_CHUNK = 500


def parse_objects(objects: Sequence[object], source: str, zone: ZoneInfo) -> Iterator[Parsed]:
    """Article objects from an API request, each located as ``source`` item N (from 1)."""
    for number, data in enumerate(objects, start=1):
        yield _validate((Path(source), number, {}, data), zone)
