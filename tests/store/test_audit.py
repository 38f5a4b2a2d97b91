"""The audit trail's one diff (store/audit.py): a field is recorded only when its value
changed, compared after normalising (issue 25: "published_at: ...09.493666+00:00 ->
...09+00:00" and "subject: X -> X" were recorded)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import Engine

from publisher import store
from tests.support import NOW


def test_changes_keeps_only_what_changed_after_normalising() -> None:
    stored = datetime(2026, 11, 30, 12, 0, 9, 493666, tzinfo=UTC)
    as_the_form_sends = datetime(2026, 11, 30, 20, 0, 9, tzinfo=timezone(timedelta(hours=8)))
    before = {"published_at": stored, "subject": "X", "intro": None, "body": "a\r\nb", "n": 1}
    after = {"published_at": as_the_form_sends, "subject": " X ", "intro": "", "body": "a\nb"}
    assert store.changes(before, {**after, "n": 1}) == ({}, {})
    old, new = store.changes(before, {**after, "subject": "Y", "deliveries": 3})
    assert old == {"subject": "X", "n": 1}  # a field on one side only is kept as it is
    assert new == {"subject": "Y", "deliveries": 3}
    later = stored + timedelta(seconds=1)
    assert store.changes({"at": stored}, {"at": later}) == (
        {"at": "2026-11-30T12:00:09+00:00"},
        {"at": "2026-11-30T12:00:10+00:00"},
    )


def test_record_keeps_the_action_but_not_the_fields_that_did_not_change(engine: Engine) -> None:
    with store.writing(engine) as session:
        store.record(
            session,
            actor="ed@example.com",
            action="edition.approve",
            kind="edition",
            subject_id=4,
            before={"subject": "X", "intro": ""},
            after={"subject": "X", "intro": "", "deliveries": 2},
            now=NOW,
        )
        store.record_many(
            session,
            [
                {
                    "actor": "cli:ana",
                    "action": "article.edit",
                    "kind": "article",
                    "subject_id": 5,
                    "before": {"title": "Old", "published_at": NOW.replace(microsecond=1)},
                    "after": {"title": "New", "published_at": NOW},
                }
            ],
            now=NOW,
        )
    with store.reading(engine) as session:
        edit, approve = store.audit_entries(session)
    assert approve.before == "" and json.loads(approve.after) == {"deliveries": 2}
    assert json.loads(edit.before) == {"title": "Old"} and json.loads(edit.after) == {
        "title": "New"
    }
