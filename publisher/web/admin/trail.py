"""Audit entries as the newsroom shows them (``templates/admin/_audit.html``)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from publisher.models import AuditEntry

__all__ = ["TrailRow", "rows"]


@dataclass(frozen=True)
class TrailRow:
    """One audit entry, with each field it changed."""

    id: int
    at: datetime
    actor: str
    action: str
    kind: str
    subject_id: int | None
    label: str
    changes: list[tuple[str, Any, Any]]  # (field, before, after)


# A recorded time: ISO 8601 with its offset (older entries have a space for the T).
_TIME = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?([+-]\d\d:\d\d|Z)")


def _loaded(text: str) -> dict[str, Any]:
    if not text:
        return {}
    value = json.loads(text)
    return {k: _shown(v) for k, v in value.items()} if isinstance(value, dict) else {"value": value}


def _shown(value: Any) -> Any:
    """A recorded value as the trail shows it: a time as a datetime (the page shows it in
    the site's zone), anything else as it was recorded."""
    if isinstance(value, str) and _TIME.fullmatch(value):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return value
    return value


def rows(entries: Iterable[AuditEntry]) -> list[TrailRow]:
    """The entries as the trail shows them, in the order given."""
    found = []
    for entry in entries:
        before, after = _loaded(entry.before), _loaded(entry.after)
        fields = list(dict.fromkeys([*before, *after]))
        found.append(
            TrailRow(
                entry.id or 0,
                entry.at,
                entry.actor,
                entry.action,
                entry.subject_kind,
                entry.subject_id,
                entry.subject_label,
                [(f, before.get(f), after.get(f)) for f in fields],
            )
        )
    return found
