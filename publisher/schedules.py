"""``schedules.yaml``: the digest timetable, parsed and checked into typed values. Pure.

Cron lines are checked with APScheduler's own crontab parser, the one that will fire them.
Every error names the file, the line and what is allowed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from apscheduler.triggers.cron import CronTrigger
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, ValidationError

from publisher.content import slugify
from publisher.errors import ConfigError

__all__ = [
    "MIN_EVERY",
    "BrandStudio",
    "Digest",
    "SourceSpec",
    "Timetable",
    "format_duration",
    "load_timetable",
    "parse_duration",
    "parse_timetable",
]

_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,49}$")
# How far back to look for the last nominal send time: an hour first (cheap for frequent
# crons), up to five years (a cron for 29 February).
_LOOKBACK = (
    timedelta(hours=1),
    timedelta(days=1),
    timedelta(days=8),
    timedelta(days=32),
    timedelta(days=367),
    timedelta(days=5 * 366),
)


def parse_duration(text: str) -> timedelta:
    """``6h``, ``30m``, ``1d12h``, ``90s`` or ``0``."""
    value = str(text).strip()
    match = _DURATION.match(value)
    if value == "0":
        return timedelta(0)
    if not value or not match:
        raise ValueError(f"{value!r} is not a duration (use forms like 30m, 6h, 1d12h, or 0)")
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def format_duration(value: timedelta) -> str:
    """``parse_duration``'s form of ``value``: ``30m``, ``1d12h``, ``0``."""
    seconds = int(value.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0"


class _BrandStudio(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: StrictStr = "From our Brand Studio"
    heading: StrictStr = "Tell your story with Newsflash Brand Studio"
    text: StrictStr = (
        "Our in-house studio makes articles, videos and events for brands that want to reach "
        "readers across the region. Clearly labelled, never disguised as news."
    )
    url: StrictStr = "https://newsflash.example.com/brand-studio"


class _Digest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: StrictStr | None = None
    cron: StrictStr
    timezone: StrictStr | None = None
    max_articles: StrictInt = Field(default=12, ge=1, le=50)
    categories: list[StrictStr] = []
    catch_up: StrictStr | StrictInt = "6h"
    preheader: StrictStr | None = None
    review: StrictBool = False
    review_deadline: StrictStr | StrictInt = "2h"
    unreviewed: Literal["skip", "send"] = "skip"
    audience: StrictStr = Field(default="", max_length=100)


class _SourceSpec(BaseModel):
    """One entry of ``sources:`` as written."""

    model_config = ConfigDict(extra="forbid")
    url: StrictStr
    every: StrictStr | StrictInt = "15m"
    mode: Literal["inbox", "publish"] = "inbox"
    categories: list[StrictStr] = []
    name: StrictStr | None = None
    skip_older_than: StrictStr | StrictInt | None = None


class _Timetable(BaseModel):
    model_config = ConfigDict(extra="forbid")
    timezone: StrictStr = "UTC"
    digests: dict[StrictStr, _Digest] = {}
    brand_studio: _BrandStudio = _BrandStudio()
    sources: dict[StrictStr, _SourceSpec] = {}


@dataclass(frozen=True)
class BrandStudio:
    label: str
    heading: str
    text: str
    url: str


@dataclass(frozen=True)
class Digest:
    """One digest of the timetable, with its send times computed in its own time zone."""

    name: str
    title: str
    cron: str
    zone: ZoneInfo
    max_articles: int
    categories: tuple[str, ...]  # category slugs; empty means every category
    catch_up: timedelta
    preheader: str
    review: bool = False  # each edition waits for an editor's approval before it is sent
    review_deadline: timedelta = timedelta(hours=2)  # after the send time
    unreviewed: str = "skip"  # past the deadline unapproved: skip | send
    audience: str = ""  # issue 27: only this audience's members get its editions; "": all

    @property
    def trigger(self) -> CronTrigger:
        return CronTrigger.from_crontab(self.cron, timezone=self.zone)

    def next_times(self, now: datetime, count: int = 3) -> list[datetime]:
        """The next ``count`` nominal send times after ``now``, in the digest's zone."""
        trigger, times, previous = self.trigger, [], None
        cursor = now
        for _ in range(count):
            fire = trigger.get_next_fire_time(previous, cursor)
            if fire is None:
                break
            times.append(fire)
            previous, cursor = fire, fire + timedelta(microseconds=1)
        return times

    def last_time(self, now: datetime) -> datetime | None:
        """The latest nominal send time at or before ``now`` (None if there never was one)."""
        trigger = self.trigger
        for window in _LOOKBACK:
            fire: datetime | None = trigger.get_next_fire_time(None, now - window)
            if fire is None or fire > now:
                continue
            while True:
                following: datetime | None = trigger.get_next_fire_time(
                    fire, fire + timedelta(microseconds=1)
                )
                if following is None or following > now:
                    return fire
                fire = following
        return None

    def period_key(self, nominal: datetime) -> str:
        """The edition's key: the nominal wall-clock time in the digest's zone, without the
        offset, so that a DST fall-back double fire maps to one edition."""
        return nominal.astimezone(self.zone).strftime("%Y-%m-%dT%H:%M")


MIN_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class SourceSpec:
    """A feed to pull material from, as ``schedules.yaml`` gives it (``key`` is its key there,
    used in commands and the WebSub callback URL; ``name`` what readers see, empty for the
    feed's own title)."""

    key: str
    url: str
    every: timedelta
    mode: str  # inbox | publish
    categories: tuple[str, ...]
    name: str
    skip_older_than: timedelta | None


@dataclass(frozen=True)
class Timetable:
    digests: dict[str, Digest]
    brand_studio: BrandStudio
    sources: dict[str, SourceSpec] = field(default_factory=dict)

    def source(self, key: str) -> SourceSpec:
        try:
            return self.sources[key]
        except KeyError:
            known = ", ".join(self.sources) or "none defined"
            raise ConfigError(f"no source {key!r} in the timetable (known: {known})") from None

    def digest(self, name: str) -> Digest:
        try:
            return self.digests[name]
        except KeyError:
            known = ", ".join(self.digests) or "none defined"
            raise ConfigError(f"no digest {name!r} in the timetable (known: {known})") from None


def _lines(text: str) -> dict[tuple[str, ...], int]:
    """1-based line of every mapping key, by its path."""
    found: dict[tuple[str, ...], int] = {}

    def walk(node: yaml.Node, path: tuple[str, ...]) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                here = (*path, str(key.value))
                found[here] = key.start_mark.line + 1
                walk(value, here)
        elif isinstance(node, yaml.SequenceNode):
            for index, value in enumerate(node.value):
                found[(*path, str(index))] = value.start_mark.line + 1
                walk(value, (*path, str(index)))

    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if root is not None:
        walk(root, ())
    return found


def _line_of(lines: dict[tuple[str, ...], int], path: tuple[Any, ...]) -> int:
    keys = tuple(str(p) for p in path)
    while keys and keys not in lines:
        keys = keys[:-1]
    return lines.get(keys, 1)


def parse_timetable(text: str, source: str = "schedules.yaml") -> Timetable:
    """The timetable in ``text``; ConfigError naming ``source``, the line and the problem."""
    try:
        data = yaml.safe_load(text) or {}
        lines = _lines(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        raise ConfigError(
            f"{source}:{line}: not valid YAML ({getattr(exc, 'problem', exc)})"
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source}:1: expected a mapping with timezone: and digests:")
    try:
        table = _Timetable.model_validate(data)
    except ValidationError as exc:
        problems = [_problem(source, lines, err) for err in exc.errors()]
        raise ConfigError(problems[0], details=problems[1:]) from None
    problems = [*_check(table, source, lines), *_check_sources(table, source, lines)]
    if problems:
        raise ConfigError(problems[0], details=problems[1:])
    return _build(table)


def _problem(source: str, lines: dict[tuple[str, ...], int], err: Any) -> str:
    path = tuple(err["loc"])
    where = f"{source}:{_line_of(lines, path)}"
    dotted = ".".join(str(p) for p in path)
    if err["type"] == "extra_forbidden":
        parent = path[:-1]
        models: dict[int, type[BaseModel]] = {0: _Timetable, 2: _Digest}
        model = models.get(len(parent), _BrandStudio)
        if parent[:1] == ("sources",):
            model = _SourceSpec
        allowed = ", ".join(model.model_fields)
        return f"{where}: {dotted}: unknown key (allowed: {allowed})"
    if err["type"] == "missing":
        return f"{where}: {dotted}: is required"
    return f"{where}: {dotted}: {err['msg']}"


def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _check(table: _Timetable, source: str, lines: dict[tuple[str, ...], int]) -> Iterator[str]:
    if _zone(table.timezone) is None:
        yield (
            f"{source}:{_line_of(lines, ('timezone',))}: timezone: unknown time zone "
            f"{table.timezone!r} (use an IANA name such as Asia/Singapore)"
        )
    for name, spec in table.digests.items():

        def at(key: str, name: str = name) -> str:
            return f"{source}:{_line_of(lines, ('digests', name, key))}"

        if not _NAME.match(name):
            yield (
                f"{at('')}: digest name {name!r}: use lower-case letters, digits, - and _ "
                "(it appears in commands and URLs)"
            )
        if spec.timezone is not None and _zone(spec.timezone) is None:
            yield (
                f"{at('timezone')}: digests.{name}.timezone: unknown time zone "
                f"{spec.timezone!r} (use an IANA name such as Asia/Seoul)"
            )
        try:
            CronTrigger.from_crontab(spec.cron)
        except ValueError as exc:
            yield (
                f"{at('cron')}: digests.{name}.cron: {spec.cron!r} is not a five-field "
                f"crontab line (minute hour day month weekday, such as '0 7 * * *'): {exc}"
            )
        try:
            parse_duration(str(spec.catch_up))
        except ValueError as exc:
            yield f"{at('catch_up')}: digests.{name}.catch_up: {exc}"
        try:
            if parse_duration(str(spec.review_deadline)) <= timedelta(0):
                yield (
                    f"{at('review_deadline')}: digests.{name}.review_deadline: must be longer "
                    "than 0 (forms like 30m, 2h, 1d)"
                )
        except ValueError as exc:
            yield f"{at('review_deadline')}: digests.{name}.review_deadline: {exc}"
        for index, category in enumerate(spec.categories):
            if not slugify(category):
                yield (
                    f"{source}:{_line_of(lines, ('digests', name, 'categories', index))}: "
                    f"digests.{name}.categories: {category!r} names no category"
                )


def _build(table: _Timetable) -> Timetable:
    default_zone = ZoneInfo(table.timezone)
    digests = {
        name: Digest(
            name=name,
            title=spec.title or "Join The Community",
            cron=spec.cron,
            zone=ZoneInfo(spec.timezone) if spec.timezone else default_zone,
            max_articles=spec.max_articles,
            categories=tuple(slugify(c) for c in spec.categories),
            catch_up=parse_duration(str(spec.catch_up)),
            preheader=spec.preheader or "",
            review=spec.review,
            review_deadline=parse_duration(str(spec.review_deadline)),
            unreviewed=spec.unreviewed,
            audience=spec.audience.strip(),
        )
        for name, spec in table.digests.items()
    }
    studio = BrandStudio(**table.brand_studio.model_dump())
    return Timetable(digests, studio, _build_sources(table))


def _check_sources(
    table: _Timetable, source: str, lines: dict[tuple[str, ...], int]
) -> Iterator[str]:
    for key, spec in table.sources.items():

        def at(field: str, key: str = key) -> str:
            return f"{source}:{_line_of(lines, ('sources', key, field))}"

        if not _NAME.match(key):
            yield (
                f"{at('')}: source name {key!r}: use lower-case letters, digits, - and _ "
                "(it appears in commands and URLs)"
            )
        parts = urlsplit(spec.url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            yield (
                f"{at('url')}: sources.{key}.url: {spec.url!r} is not an http(s) URL "
                "(such as https://press.example.org/releases.rss)"
            )
        try:
            every = parse_duration(str(spec.every))
            if every < MIN_EVERY:
                yield f"{at('every')}: sources.{key}.every: {spec.every!r} is under 1m"
        except ValueError as exc:
            yield f"{at('every')}: sources.{key}.every: {exc}"
        if spec.skip_older_than is not None:
            try:
                parse_duration(str(spec.skip_older_than))
            except ValueError as exc:
                yield f"{at('skip_older_than')}: sources.{key}.skip_older_than: {exc}"
        for index, category in enumerate(spec.categories):
            if not slugify(category):
                yield (
                    f"{source}:{_line_of(lines, ('sources', key, 'categories', index))}: "
                    f"sources.{key}.categories: {category!r} names no category"
                )


def _build_sources(table: _Timetable) -> dict[str, SourceSpec]:
    return {
        key: SourceSpec(
            key=key,
            url=spec.url.strip(),
            every=parse_duration(str(spec.every)),
            mode=spec.mode,
            categories=tuple(c.strip() for c in spec.categories if c.strip()),
            name=(spec.name or "").strip(),
            skip_older_than=(
                None
                if spec.skip_older_than is None
                else parse_duration(str(spec.skip_older_than)) or None
            ),
        )
        for key, spec in table.sources.items()
    }


def load_timetable(path: Path) -> Timetable:
    """The timetable in the file ``path``."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file (run `publisher init` to create one)") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}:1: not UTF-8 text") from None
    return parse_timetable(text, str(path))
