"""Article files (Markdown with YAML front matter, JSON, JSON Lines) read into records, each
with the line it starts on and the line of every key, then cleaned by ``articles.cleaning``.
Pure apart from reading the files it is given; Markdown rendering can be spread over processes."""

from __future__ import annotations

import itertools
import json
import multiprocessing
import re
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

from publisher.articles.cleaning import Parsed, Raw, locate
from publisher.errors import InputError
from publisher.templating import size_text

__all__ = ["MAX_FILE_BYTES", "MAX_RECORD_BYTES", "SUFFIXES", "expand", "read_file", "read_files"]

MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_RECORD_BYTES = 4 * 1024 * 1024
SUFFIXES = {".md": "markdown", ".markdown": "markdown", ".json": "json", ".jsonl": "jsonl"}


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
        limit = size_text(MAX_FILE_BYTES)
        raise InputError(f"{path}:1: file is {size:,} bytes; the limit is {limit}")
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
                    f"{size_text(MAX_RECORD_BYTES)}"
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


def _raw_records(path: Path) -> Iterator[Raw]:
    kind = SUFFIXES[path.suffix.lower()]
    if kind == "jsonl":
        records = _jsonl_records(path)
    elif kind == "json":
        records = _json_records(path, _read_text(path))
    else:
        records = _markdown_records(path, _read_text(path))
    for line, key_lines, data in records:
        yield path, line, key_lines, data


def _validate_chunk(zone_name: str, chunk: list[Raw]) -> list[Parsed]:
    zone = ZoneInfo(zone_name)
    return [locate(raw, zone) for raw in chunk]


def read_file(path: Path, zone: ZoneInfo) -> Iterator[Parsed]:
    """Each record of one article file, cleaned, or the problem with it.

    A file that cannot be read at all (not UTF-8, not JSON, too large) raises InputError.
    """
    for raw in _raw_records(path):
        yield locate(raw, zone)


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
