"""An article's life, as state changes in the database: draft -> in review -> published
(scheduled while its time is ahead) -> withdrawn; unpublished for a story removed before
anyone saw it. Each change moves the articles' stamp, keeps a revision and is audited.
Who may make which change is the use cases' business (``articles.editorial``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from publisher.errors import ConflictError, InputError, NotFoundError
from publisher.store.audit import record
from publisher.store.engine import articles_t
from publisher.store.revisions import keep_revisions
from publisher.store.stamps import bump

__all__ = ["EDITORIAL_STATUSES", "change_state", "current_state", "state_of", "withdrawn_stories"]

# Every status an article row may hold; "scheduled" is a published one whose time is ahead.
EDITORIAL_STATUSES = ("draft", "in_review", "published", "withdrawn", "unpublished")
_FROM = {
    "review": ("draft",),
    "send-back": ("in_review",),
    "publish": ("draft", "in_review", "unpublished", "withdrawn", "scheduled"),
    "withdraw": ("published",),
    "unpublish": ("draft", "in_review", "scheduled", "published", "withdrawn"),
}
_TO = {
    "review": "in_review",
    "send-back": "draft",
    "publish": "published",
    "withdraw": "withdrawn",
    "unpublish": "unpublished",
}
_WORDS = {"in_review": "in review", "scheduled": "scheduled", "published": "published"}


def state_of(status: str, published_at: datetime, now: datetime) -> str:
    """What readers and editors call a status at ``now`` (published with a time ahead:
    scheduled)."""
    return "scheduled" if status == "published" and published_at > now else status


def current_state(session: Session, article_id: int, *, now: datetime) -> tuple[str, Any]:
    """The article's state at ``now`` and its row, locked for the change that follows."""
    row = session.execute(
        select(articles_t).where(articles_t.c.id == article_id).with_for_update()
    ).first()
    if row is None:
        raise NotFoundError(f"no article {article_id}")
    return state_of(row.status, row.published_at, now), row


def change_state(
    session: Session,
    article_id: int,
    action: str,
    *,
    now: datetime,
    actor: str,
    note: str = "",
    published_at: datetime | None = None,
    published_by: str = "",
) -> str:
    """Apply ``action`` (review, send-back, publish, withdraw, unpublish) to the article; the
    state it is in afterwards. ``note``: the editor's note sending it back, or the reason for
    a withdrawal (both required). ``published_at`` for publish: when it goes out (None:
    now for a story never published, else the time it first went out). ConflictError when
    the article's state does not allow the action (nothing changed)."""
    state, row = current_state(session, article_id, now=now)
    if state not in _FROM[action]:
        said = _WORDS.get(state, state.replace("_", " "))
        raise ConflictError(f"{row.slug!r} is {said}: it cannot be {_past(action)} now")
    note = note.strip()
    values = _values(action, row, note, now=now, published_at=published_at, by=published_by)
    session.execute(update(articles_t).where(articles_t.c.id == article_id).values(**values))
    bump(session, "articles")
    keep_revisions(session, [article_id], actor=actor, action=action, now=now)
    after: dict[str, Any] = {"status": values["status"]}
    if note:
        after["note" if action == "send-back" else "reason"] = note
    if action == "publish":
        after["published_at"] = values["published_at"]
    record(
        session,
        actor=actor,
        action=f"article.{action}",
        kind="article",
        subject_id=article_id,
        label=row.slug,
        before={"status": row.status},
        after=after,
        now=now,
    )
    return state_of(values["status"], values.get("published_at", row.published_at), now)


def _values(
    action: str, row: Any, note: str, *, now: datetime, published_at: datetime | None, by: str
) -> dict[str, Any]:
    """The columns ``action`` sets on the article ``row``."""
    values: dict[str, Any] = {"status": _TO[action], "updated_at": now}
    if action == "send-back":
        if not note:
            raise InputError("note: say what the writer should change")
        values["review_note"] = note
    elif action == "review":
        values["review_note"] = ""
    elif action == "withdraw":
        if not note:
            raise InputError("reason: readers are told why the story was withdrawn: give a reason")
        values.update(withdrawn_reason=note, withdrawn_at=now)
    elif action == "publish":
        never_out = row.status in ("draft", "in_review")
        values.update(
            published_at=published_at or (now if never_out else row.published_at),
            published_by=by or row.published_by,
            withdrawn_reason="",
            withdrawn_at=None,
            review_note="",
        )
    return values


def withdrawn_stories(session: Session, *, limit: int) -> list[Any]:
    """The newest withdrawn stories (id, uid, slug, withdrawn_at, withdrawn_reason), for the
    feeds that can say an entry was deleted; by count, not age, so feeds stay the same bytes
    for the same data."""
    return list(
        session.execute(
            select(
                articles_t.c.id,
                articles_t.c.uid,
                articles_t.c.slug,
                articles_t.c.withdrawn_at,
                articles_t.c.withdrawn_reason,
            )
            .where(articles_t.c.status == "withdrawn", articles_t.c.withdrawn_at.is_not(None))
            .order_by(articles_t.c.withdrawn_at.desc(), articles_t.c.id.desc())
            .limit(limit)
        )
    )


def _past(action: str) -> str:
    return {
        "review": "sent for review",
        "send-back": "sent back",
        "publish": "published",
        "withdraw": "withdrawn (only a published story is)",
        "unpublish": "unpublished",
    }[action]
