"""The editorial day's use cases: who may do what to a story, and a story's life (save a
draft, send it for review, send it back, publish now or at a time, withdraw, unpublish),
its revisions (compare, restore) and its preview link. The newsroom, the API and the CLI
all call these, so a contributor is refused the same way everywhere (DeniedError: 403)."""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from publisher import store
from publisher.articles import publish
from publisher.articles.cleaning import validate_form
from publisher.errors import ConflictError, DeniedError, InputError, NotFoundError
from publisher.settings import Settings
from publisher.tokens import Signer, TokenError

__all__ = [
    "EDITOR_ROLES",
    "PREVIEW_DAYS",
    "ROLE_WORDS",
    "SEEN",
    "ReadersSawIt",
    "Writer",
    "change",
    "compare",
    "editions_carrying",
    "may_edit",
    "may_see",
    "preview_link",
    "preview_view",
    "restore",
    "revisions",
    "save",
    "unpublish",
    "writer_by_email",
]

EDITOR_ROLES = ("editor", "admin")
PREVIEW_DAYS = 7  # a preview link lasts a week
ROLE_WORDS = "only an editor can do that: a contributor writes drafts and sends them for review"
SEEN = ("published", "withdrawn")  # states in which readers have seen a story


class ReadersSawIt(ConflictError):
    """Unpublishing a story readers have seen (published or withdrawn) is refused: its page
    would vanish from under them. A published one is withdrawn instead, with a reason its
    page keeps; ``state`` says which it is (each entry point names its own withdraw)."""

    def __init__(self, slug: str, state: str) -> None:
        if state == "withdrawn":
            said = (
                f"{slug!r} is withdrawn: readers saw it, so its page stays saying why; "
                "it cannot be unpublished"
            )
        else:
            said = (
                f"readers have seen {slug!r} (it is published): it cannot be unpublished, "
                "only withdrawn, with a reason its page keeps"
            )
        super().__init__(said)
        self.slug = slug
        self.state = state


@dataclass(frozen=True)
class Writer:
    """Who acts: a newsroom person (``staff_id``) or the CLI and API token (editors)."""

    actor: str  # as the audit trail records them
    role: str  # contributor, editor, admin
    staff_id: int | None = None

    @property
    def is_editor(self) -> bool:
        return self.role in EDITOR_ROLES


def writer_by_email(engine: Engine, email: str, *, actor: str) -> Writer:
    """The newsroom person with this address, acting (the CLI's ``--as``)."""
    with store.reading(engine) as session:
        row = store.staff_by_email(session, email.strip().lower())
    if row is None:
        raise NotFoundError(f"nobody signs in to the newsroom as {email!r}")
    return Writer(f"{actor} as {row.email}", row.role, row.id)


def may_see(who: Writer, view: store.ArticleView) -> bool:
    """Editors see every story; a contributor sees only their own."""
    return who.is_editor or (who.staff_id is not None and view.article.owner_id == who.staff_id)


def may_edit(who: Writer, view: store.ArticleView) -> bool:
    """Editors edit every story; a contributor only their own draft."""
    return who.is_editor or (may_see(who, view) and view.article.status == "draft")


def _must_edit(who: Writer, view: store.ArticleView | None) -> None:
    if view is not None and not may_edit(who, view):
        if not may_see(who, view):
            raise NotFoundError(f"no article {view.article.id}")
        raise DeniedError("this story is with the editors now: only an editor can change it")


def save(
    engine: Engine,
    settings: Settings,
    fields: dict[str, object],
    who: Writer,
    *,
    view: store.ArticleView | None,
    base_hash: str | None,
    intent: str,
    now: datetime,
    then: Callable[[Session, int], None] | None = None,
) -> tuple[int, bool]:
    """The form saved (``intent``: ``draft``, ``review`` or ``publish``, now or at its time),
    in one transaction: a new story is a draft until an editor publishes it. A contributor
    cannot publish (DeniedError), nor name the editor readers see. ``(id, changed)``."""
    if intent not in ("draft", "review", "publish"):
        raise InputError(f"unknown action {intent!r}")
    if intent == "publish" and not who.is_editor:
        raise DeniedError(ROLE_WORDS)
    _must_edit(who, view)
    fields = dict(fields)
    if not who.is_editor:  # the editor readers see is the one who publishes, never the writer
        fields["editor"] = view.article.editor if view is not None else ""
    if intent == "publish" and not str(fields.get("editor", "")).strip():
        raise InputError("editor: give your name: readers see who selected and published it")
    timed = bool(str(fields.get("published_at", "")).strip())

    def afterwards(session: Session, article_id: int) -> None:
        if then is not None:
            then(session, article_id)
        state, row = store.current_state(session, article_id, now=now)
        if intent == "review" and state != "in_review":
            store.change_state(session, article_id, "review", now=now, actor=who.actor)
        elif intent == "publish" and state not in ("published", "scheduled"):
            store.change_state(
                session,
                article_id,
                "publish",
                now=now,
                actor=who.actor,
                published_at=row.published_at if timed else None,
                published_by=who.actor,
            )

    return publish.save_article(
        engine,
        settings,
        fields,
        article_id=view.article.id if view is not None else None,
        base_hash=base_hash,
        now=now,
        actor=who.actor,
        then=afterwards,
        status="draft",
        owner_id=who.staff_id,
    )


_EDITORS_ONLY = ("send-back", "publish", "withdraw", "unpublish")


def change(
    engine: Engine,
    view: store.ArticleView,
    action: str,
    who: Writer,
    *,
    now: datetime,
    note: str = "",
    published_at: datetime | None = None,
) -> str:
    """One step of the story's life (review, send-back, publish, withdraw, unpublish) by
    ``who``; the state it is in afterwards. Contributors only send their own drafts for
    review. A story readers have seen is withdrawn, with a reason, never unpublished
    (ReadersSawIt)."""
    if action in _EDITORS_ONLY and not who.is_editor:
        raise DeniedError(ROLE_WORDS)
    if action == "review":
        _must_edit(who, view)
    with store.writing(engine) as session:
        if action == "unpublish":
            _never_seen(session, view, now)
        return store.change_state(
            session,
            view.article.id or 0,
            action,
            now=now,
            actor=who.actor,
            note=note,
            published_at=published_at,
            published_by=who.actor if action == "publish" else "",
        )


def _never_seen(session: Session, view: store.ArticleView, now: datetime) -> None:
    """ReadersSawIt unless the story is one nobody has seen (read under the change's lock)."""
    state, _ = store.current_state(session, view.article.id or 0, now=now)
    if state in SEEN:
        raise ReadersSawIt(view.article.slug, state)


def unpublish(engine: Engine, view: store.ArticleView, who: Writer, *, now: datetime) -> bool:
    """Take a story nobody has seen (a draft, in review, scheduled) off everything, no page
    left; False when it already was. ReadersSawIt for one readers saw: withdraw it instead,
    as the newsroom does."""
    if view.status(now) == "unpublished":
        return False
    change(engine, view, "unpublish", who, now=now)
    return True


def editions_carrying(engine: Engine, article_id: int) -> int:
    """How many editions carried this story (the withdrawal's confirmation names it)."""
    with store.reading(engine) as session:
        t = store.edition_articles_t
        return int(
            session.scalar(select(func.count()).select_from(t).where(t.c.article_id == article_id))
            or 0
        )


# ---------------------------------------------------------------- revisions


def revisions(engine: Engine, article_id: int) -> list[store.RevisionView]:
    with store.reading(engine) as session:
        return store.revision_list(session, article_id)


def _text(fields: dict[str, Any]) -> list[str]:
    lines = []
    for key, value in fields.items():
        if key in ("body", "body_html"):
            continue
        shown = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
        lines.append(f"{key}: {shown}")
    lines.append("")
    lines.extend(str(fields.get("body", fields.get("body_html", ""))).splitlines())
    return lines


def compare(
    engine: Engine, article_id: int, older: int, newer: int
) -> tuple[store.RevisionView, store.RevisionView, list[tuple[str, str]]]:
    """Two revisions and their difference, line by line: ``(kind, line)`` with kind one of
    ``same``, ``removed``, ``added``."""
    with store.reading(engine) as session:
        a = store.revision_by_id(session, article_id, older)
        b = store.revision_by_id(session, article_id, newer)
    kinds = {" ": "same", "-": "removed", "+": "added"}
    lines = [
        (kinds[line[0]], line[2:])
        for line in difflib.ndiff(_text(a.fields), _text(b.fields))
        if line[:1] in kinds
    ]
    return a, b, lines


def restore(
    engine: Engine,
    settings: Settings,
    view: store.ArticleView,
    revision_id: int,
    who: Writer,
    *,
    now: datetime,
    note: str = "",
) -> bool:
    """Save a revision's text again, as a new revision (editors only). A story readers saw
    follows the correction rules: a restore that changes its text needs a note for readers,
    recorded as a correction in the same transaction. Whether anything changed."""
    if not who.is_editor:
        raise DeniedError(ROLE_WORDS)
    article_id = view.article.id or 0
    with store.reading(engine) as session:
        old = store.revision_by_id(session, article_id, revision_id)
    seen = view.status(now) in ("published", "withdrawn")
    fields = {**old.fields, "published_at": view.article.published_at.isoformat()}
    if seen and old.content_hash != view.article.content_hash and not note.strip():
        raise InputError("note: readers saw this story: say what the restore corrects")

    def corrected(session: Session, _id: int) -> None:
        if seen and note.strip():
            slug = store.article_by_id(session, article_id).article.slug
            store.add_correction(session, slug, note, now=now, actor=who.actor)

    item = validate_form(fields, settings.zone)
    with store.writing(engine) as session:
        _, changed = store.save_article(
            session,
            item,
            article_id=article_id,
            base_hash=None,
            now=now,
            host=settings.site_host,
            actor=who.actor,
            action="restore",
        )
        if changed:
            corrected(session, article_id)
    return changed


# ---------------------------------------------------------------- preview links


def preview_link(signer: Signer, view: store.ArticleView, *, now: datetime) -> tuple[str, datetime]:
    """A signed, expiring, read-only link to the story as readers would see it; the token
    is bound to the story's ``tag:`` URI and lasts PREVIEW_DAYS."""
    expires = now + timedelta(days=PREVIEW_DAYS)
    token = signer.make("preview", view.article.id or 0, view.article.uid, expires=expires)
    return f"/preview/{token}", expires


def preview_view(engine: Engine, signer: Signer, token: str, *, now: datetime) -> store.ArticleView:
    """The story a preview link shows; NotFoundError for an altered or expired one."""
    try:
        article_id = signer.subject(token)
        view = publish.article_by_id(engine, article_id)
        signer.check("preview", token, view.article.uid, now=now)
    except (TokenError, NotFoundError):
        raise NotFoundError("no preview at this address (altered or expired)") from None
    return view
