"""Subscriber lists as CSV files for the editors (the newsroom, the CLI and the API): import,
all or nothing with every bad row named by its line, and export, formula cells guarded."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from publisher import store
from publisher.community import csv_rows
from publisher.errors import InputError
from publisher.store import SubscriberFilter

__all__ = ["ImportedSubscribers", "export_subscribers", "import_subscribers"]


@dataclass(frozen=True)
class ImportedSubscribers:
    created: int
    updated: int
    merged: int = 0  # rows that named someone an earlier row of the file named
    changed: int = 0  # subscribers whose values the import changed (one audit entry each)


def import_subscribers(
    engine: Engine,
    path: Path,
    *,
    known_digests: Sequence[str],
    zone: ZoneInfo,
    actor: str,
    now: datetime,
    label: str = "",
) -> ImportedSubscribers:
    """Import a subscriber CSV, all or nothing; every bad row is reported with its line.
    Addresses are matched case-insensitively, and an unsubscribed or bounced address is never
    turned back into a confirmed one (only the person confirming again does that). The trail
    gets one entry per subscriber added or changed and one for the import (``label``: the
    file's name, default its path)."""
    created = updated = changed = 0
    with store.writing(engine) as session:
        categories = [c.slug for c in store.category_list(session)]
        rows = csv_rows.read_rows(
            path, known_digests=known_digests, zone=zone, known_categories=categories
        )
        people, merged = _people(rows)
        for row in people.values():
            new, was_changed = _import_row(session, row, actor=actor, now=now)
            changed += was_changed
            created += new
            updated += not new
        summary = {"created": created, "updated": updated, "merged": merged, "changed": changed}
        store.record(
            session,
            actor=actor,
            action="subscribers.import",
            kind="import",
            subject_id=None,
            label=label or str(path),
            after=summary,
            now=now,
        )
    return ImportedSubscribers(created, updated, merged, changed)


def _people(rows: Iterable[csv_rows.Row | str]) -> tuple[dict[str, csv_rows.Row], int]:
    """The file's people by address, rows naming one person merged, and how many were merged;
    an InputError listing every problem if any row had one."""
    problems: list[str] = []
    people: dict[str, csv_rows.Row] = {}
    merged = 0
    for row in rows:  # every row is read, so that every problem is reported
        if isinstance(row, str):
            problems.append(row)
        elif row.email in people:  # the same person again (addresses are lower-cased)
            people[row.email] = people[row.email].merged(row)
            merged += 1
        else:
            people[row.email] = row
    if problems:
        raise InputError(f"nothing imported: {len(problems)} problem(s)", details=problems)
    return people, merged


def _import_row(
    session: Session, row: csv_rows.Row, *, actor: str, now: datetime
) -> tuple[bool, bool]:
    """One person of the file added or updated: whether they were new, and whether anything
    of theirs changed (then the trail has an entry for them)."""
    known = store.subscriber_by_email(session, row.email)
    before = store.subscriber_snapshot(session, known.id or 0) if known else {}
    found, new = store.upsert_subscriber(
        session,
        row.email,
        name=row.name,
        status=row.status,
        digests=row.digests,
        now=now,
        created_at=row.created_at,
        confirmed_at=row.confirmed_at,
    )
    if row.categories is not None:  # a file without the column keeps their choice
        store.set_interests(session, found.id or 0, row.categories)
    store.set_languages(
        session, found.id or 0, language=row.language, languages=row.story_languages, now=now
    )
    if row.breaking is not None:
        store.set_breaking(session, found.id or 0, row.breaking, now=now)
    changed = store.record_subscriber_change(
        session,
        found.id or 0,
        before,
        actor=actor,
        action="subscriber.import",
        label=found.email,
        now=now,
    )
    return new, changed


def export_subscribers(engine: Engine, out: TextIO, chosen: SubscriberFilter | None = None) -> int:
    """Every subscriber (or those matching ``chosen``) as CSV (the columns of
    docs/reference/subscribers-csv.md), a cell a spreadsheet would run as a formula guarded;
    how many."""

    def rows() -> Iterator[tuple[object, ...]]:
        with store.reading(engine) as session:
            ids = store.matching_ids(session, chosen or SubscriberFilter())
            for start in range(0, len(ids), 1000):
                batch = store.subscribers_by_ids(session, ids[start : start + 1000])
                chosen_ids = [r.id or 0 for r in batch]
                digests = store.subscriptions_of(session, chosen_ids)
                topics = store.interests_of(session, chosen_ids)
                for row in batch:
                    yield (
                        row.email,
                        row.name,
                        row.status,
                        " ".join(digests[row.id or 0]),
                        row.created_at.isoformat(),
                        row.confirmed_at.isoformat() if row.confirmed_at else "",
                        " ".join(topics[row.id or 0]),
                        row.language,
                        row.languages,
                        "yes" if row.breaking else "no",
                    )

    return csv_rows.write_rows(out, rows())
