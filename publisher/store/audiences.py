"""Audiences (issue 27): saved filters over members, and who an edition goes to. A filter is
kept as JSON of ``SubscriberFilter``'s values and turned into SQL here, never taken as SQL.

One audience is built in, in code rather than a row, so that a new install has someone to
send breaking news to on its first day: ``BREAKING_NEWS``, every confirmed member who wants
breaking news whatever their digests. It is always listed first, and cannot be saved over or
removed (ConflictError)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, exists, func, select, true
from sqlalchemy.orm import Session

from publisher.errors import ConflictError, NotFoundError
from publisher.models import Audience, Edition
from publisher.store.engine import deliveries_t, insert_ignore, subscribers_t, subscriptions_t
from publisher.store.subscriber_search import SubscriberFilter, subscriber_where

__all__ = [
    "BREAKING_NEWS",
    "audience_by_name",
    "audience_list",
    "audiences_t",
    "delete_audience",
    "delivered_to",
    "edition_recipients",
    "filter_json",
    "filter_of",
    "is_built_in",
    "recipient_count",
    "recipient_languages",
    "recipients_where",
    "save_audience",
]

audiences_t = Audience.__table__  # type: ignore[attr-defined]
_DATES = ("joined_from", "joined_to")
BREAKING_NEWS = "Everyone who wants breaking news"  # the built-in audience's name
_BUILT_IN_SINCE = datetime(2026, 1, 1, tzinfo=UTC)  # when it came to be (a row needs a time)


def filter_json(chosen: SubscriberFilter) -> str:
    """``chosen`` as the JSON an audience keeps (only the values set, keys sorted)."""
    values: dict[str, Any] = {}
    for key, value in chosen.__dict__.items():
        if isinstance(value, datetime):
            values[key] = value.isoformat()
        elif value:
            values[key] = value
    return json.dumps(values, sort_keys=True, ensure_ascii=False)


def filter_of(raw: str) -> SubscriberFilter:
    """The filter an audience's JSON holds (unknown keys are ignored)."""
    loaded = json.loads(raw or "{}")
    values: dict[str, Any] = {}
    for key in SubscriberFilter.__dataclass_fields__:
        if key not in loaded:
            continue
        value = loaded[key]
        if key in _DATES:
            value = datetime.fromisoformat(value)
        elif key == "clicked_in":
            value = int(value)
        elif key == "breaking":
            value = value is True
        else:
            value = str(value)
        values[key] = value
    return SubscriberFilter(**values)


def recipients_where(kind: str, audience_filter: str, digest: str) -> ColumnElement[bool]:
    """Who gets an edition of ``kind``, counted now: confirmed members; of ``digest`` for a
    digest; who want breaking news for a story; within the audience's filter when it has one."""
    conditions: list[ColumnElement[bool]] = [subscribers_t.c.status == "confirmed"]
    if kind == "digest":
        conditions.append(
            exists().where(
                and_(
                    subscriptions_t.c.subscriber_id == subscribers_t.c.id,
                    subscriptions_t.c.digest == digest,
                )
            )
        )
    if kind == "story":
        conditions.append(subscribers_t.c.breaking == true())
    if audience_filter:
        conditions.append(subscriber_where(filter_of(audience_filter)))
    return and_(*conditions)


def edition_recipients(edition: Edition) -> ColumnElement[bool]:
    """Who gets ``edition`` if its deliveries start now."""
    return recipients_where(edition.kind, edition.audience_filter, edition.digest)


def recipient_count(session: Session, where: ColumnElement[bool]) -> int:
    query = select(func.count()).select_from(subscribers_t).where(where)
    return int(session.scalar(query) or 0)


def delivered_to(edition_id: int) -> ColumnElement[bool]:
    """The members an edition's deliveries are for, once they have started."""
    return exists().where(
        and_(
            deliveries_t.c.subscriber_id == subscribers_t.c.id,
            deliveries_t.c.edition_id == edition_id,
        )
    )


def recipient_languages(session: Session, where: ColumnElement[bool]) -> list[tuple[str, str, int]]:
    """How many of the members ``where`` holds read each language and chose each set of
    story languages, as they are stored (``""``: the site's; every language), in one
    grouped query."""
    language, languages = subscribers_t.c.language, subscribers_t.c.languages
    query = (
        select(language, languages, func.count())
        .select_from(subscribers_t)
        .where(where)
        .group_by(language, languages)
    )
    return [(str(tag or ""), str(tags or ""), int(n)) for tag, tags, n in session.execute(query)]


def is_built_in(name: str) -> bool:
    """Whether ``name`` is the built-in audience's (in any case: no lookalike may be saved)."""
    return name.strip().casefold() == BREAKING_NEWS.casefold()


def _built_in() -> Audience:
    filter_ = filter_json(SubscriberFilter(breaking=True))
    return Audience(
        name=BREAKING_NEWS,
        filter=filter_,
        created_by="",
        created_at=_BUILT_IN_SINCE,
        updated_at=_BUILT_IN_SINCE,
    )


def _refuse_built_in(name: str, what: str) -> None:
    if is_built_in(name):
        raise ConflictError(
            f"the audience {BREAKING_NEWS!r} is built in: it is always there and cannot be "
            f"{what}; save a filter of your own under another name"
        )


def save_audience(
    session: Session,
    name: str,
    chosen: SubscriberFilter,
    *,
    actor: str,
    now: datetime,
    replace: bool = False,
) -> Audience:
    """Save ``chosen`` as the audience ``name``; ConflictError when the name is taken (unless
    ``replace``: its filter is then changed) or is the built-in audience's."""
    _refuse_built_in(name, "changed, renamed or saved over")
    raw = filter_json(chosen)
    statement = (
        insert_ignore(session)(audiences_t)
        .values(name=name, filter=raw, created_by=actor, created_at=now, updated_at=now)
        .on_conflict_do_nothing(index_elements=["name"])
        .returning(audiences_t.c.id)
    )
    created = session.execute(statement).first() is not None
    if not created:
        if not replace:
            raise ConflictError(f"there is already an audience named {name!r}")
        session.execute(
            audiences_t.update()
            .where(audiences_t.c.name == name)
            .values(filter=raw, updated_at=now)
        )
    return audience_by_name(session, name)


def audience_by_name(session: Session, name: str) -> Audience:
    """The audience ``name`` (the built-in one too); NotFoundError if there is none."""
    if name == BREAKING_NEWS:
        return _built_in()
    found = session.scalars(
        select(Audience).where(audiences_t.c.name == name).execution_options(populate_existing=True)
    ).first()
    if found is None:
        raise NotFoundError(f"no audience named {name!r}")
    return found


def audience_list(session: Session) -> list[Audience]:
    """The built-in audience first, then the saved ones by name."""
    saved = session.scalars(
        select(Audience).where(audiences_t.c.name != BREAKING_NEWS).order_by(audiences_t.c.name)
    )
    return [_built_in(), *saved.all()]


def delete_audience(session: Session, names: Sequence[str]) -> int:
    """Remove the saved audiences ``names``; ConflictError for the built-in one."""
    for name in names:
        _refuse_built_in(name, "removed")
    result: Any = session.execute(delete(audiences_t).where(audiences_t.c.name.in_(list(names))))
    return int(result.rowcount or 0)
