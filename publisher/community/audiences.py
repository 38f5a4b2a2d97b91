"""Audiences (issue 27): saved filters over members, the one use case the newsroom, the CLI
and the API call. A filter is values (a digest, a category, a status, sign-up dates, clicks in
the last N editions), checked here against what exists, never SQL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, tzinfo

from sqlalchemy import Engine

from publisher import store
from publisher.community.subscribers import STATUSES
from publisher.content import one_line
from publisher.errors import InputError
from publisher.models import Audience
from publisher.store import EVERY_CATEGORY, SubscriberFilter

__all__ = [
    "KIND",
    "MAX_CLICKED_IN",
    "MAX_NAME",
    "Counted",
    "count",
    "find",
    "listing",
    "parse_filter",
    "remove",
    "save",
]

KIND = "audience"  # the audit trail's kind
MAX_NAME = 100
MAX_CLICKED_IN = 100
_YES_NO = {"": False, "no": False, "yes": True, "on": True, "true": True}


@dataclass(frozen=True)
class Counted:
    """An audience and how many confirmed members it holds now."""

    audience: Audience
    chosen: SubscriberFilter
    members: int

    @property
    def built_in(self) -> bool:
        """Whether it is the built-in audience (always there, never changed or removed)."""
        return self.audience.name == store.BREAKING_NEWS


def _day(raw: str, what: str, zone: tzinfo) -> datetime | None:
    raw = raw.strip()
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise InputError(f"{what} {raw[:40]!r} is not a date (YYYY-MM-DD)") from None
    return datetime.combine(day, time(), zone)


def parse_filter(
    values: Mapping[str, str],
    *,
    digests: Sequence[str],
    categories: Sequence[str],
    zone: tzinfo,
) -> SubscriberFilter:
    """The filter that ``values`` (``q``, ``status``, ``digest``, ``category``,
    ``joined_from`` and ``joined_to`` as YYYY-MM-DD in the site's zone, ``joined_to``
    included, ``clicked_in``, ``breaking`` as yes or no) say; InputError for a value that
    names nothing, so that a mistyped filter never widens a send to everyone."""
    text = one_line(values.get("q", ""))
    status, digest, category = (
        one_line(values.get(k, "")) for k in ("status", "digest", "category")
    )
    if len(text) > 200:
        raise InputError("a search is at most 200 characters")
    if status and status not in STATUSES:
        raise InputError(f"unknown status {status!r} (one of {', '.join(STATUSES)})")
    if digest and digest not in digests:
        raise InputError(f"unknown digest {digest!r} (known: {', '.join(digests) or 'none'})")
    if category and category != EVERY_CATEGORY and category not in categories:
        raise InputError(f"unknown category {category!r}")
    joined_from = _day(values.get("joined_from", ""), "the first sign-up date", zone)
    joined_to = _day(values.get("joined_to", ""), "the last sign-up date", zone)
    if joined_to is not None:
        joined_to += timedelta(days=1)  # the last day is included
    if joined_from and joined_to and joined_from >= joined_to:
        raise InputError("the first sign-up date is after the last")
    raw = values.get("clicked_in", "").strip()
    if raw and not (raw.isascii() and raw.isdigit() and 0 < int(raw) <= MAX_CLICKED_IN):
        raise InputError(f"clicked in the last N editions: N is 1 to {MAX_CLICKED_IN}")
    breaking = one_line(values.get("breaking", "")).lower()
    if breaking not in _YES_NO:
        raise InputError(f"wants breaking news: yes or no, not {breaking[:40]!r}")
    return SubscriberFilter(
        text,
        status,
        digest,
        category,
        joined_from,
        joined_to,
        int(raw) if raw else 0,
        breaking=_YES_NO[breaking],
    )


def _name(raw: str) -> str:
    name = one_line(raw)
    if not name:
        raise InputError("give the audience a name")
    if len(name) > MAX_NAME:
        raise InputError(f"an audience's name is at most {MAX_NAME} characters")
    return name


def _confirmed(chosen: SubscriberFilter) -> SubscriberFilter:
    """A send goes to confirmed members only, whatever status the filter names."""
    return replace(chosen, status="confirmed")


def count(engine: Engine, chosen: SubscriberFilter) -> int:
    """Confirmed members the filter holds now (a send's count before breaking-news wishes)."""
    with store.reading(engine) as session:
        return store.matching_count(session, _confirmed(chosen))


def save(
    engine: Engine,
    name: str,
    chosen: SubscriberFilter,
    *,
    actor: str,
    now: datetime,
    replace_it: bool = False,
) -> Counted:
    """Save ``chosen`` as the audience ``name`` (ConflictError when taken, unless
    ``replace_it``); audited. A filter holding nobody may be saved (it may fill up later);
    a send to it is refused while it is empty."""
    name = _name(name)
    with store.writing(engine) as session:
        saved = store.save_audience(session, name, chosen, actor=actor, now=now, replace=replace_it)
        store.record(
            session,
            actor=actor,
            action="audience.save",
            kind=KIND,
            subject_id=saved.id,
            label=name,
            after={"filter": saved.filter},
            now=now,
        )
    return find(engine, name)


def find(engine: Engine, name: str) -> Counted:
    """The audience ``name`` with its count now; NotFoundError if there is none."""
    with store.reading(engine) as session:
        found = store.audience_by_name(session, one_line(name))
        chosen = store.filter_of(found.filter)
        members = store.matching_count(session, _confirmed(chosen))
    return Counted(found, chosen, members)


def listing(engine: Engine) -> list[Counted]:
    """Every audience, by name, with its count now."""
    with store.reading(engine) as session:
        found = store.audience_list(session)
        counted = []
        for audience in found:
            chosen = store.filter_of(audience.filter)
            counted.append(
                Counted(audience, chosen, store.matching_count(session, _confirmed(chosen)))
            )
    return counted


def remove(engine: Engine, name: str, *, actor: str, now: datetime) -> None:
    """Remove the audience (editions sent to it keep its name and filter); NotFoundError if
    there is none, ConflictError for the built-in one."""
    with store.writing(engine) as session:
        found = store.audience_by_name(session, one_line(name))
        store.delete_audience(session, [found.name])
        store.record(
            session,
            actor=actor,
            action="audience.remove",
            kind=KIND,
            subject_id=found.id,
            label=found.name,
            before={"filter": found.filter},
            now=now,
        )
