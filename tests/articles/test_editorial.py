"""The editorial day's rules (articles/editorial.py, store/workflow.py, store/revisions.py),
on SQLite and PostgreSQL: a story's states and what is public in each, who may do what
(a contributor never publishes), revisions compared and restored, and preview links."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine

from publisher import store
from publisher.articles import editorial, publish
from publisher.errors import ConflictError, DeniedError, InputError, NotFoundError
from publisher.settings import Settings
from publisher.tokens import Signer
from tests.newsroom import add_person
from tests.support import NOW

EDITOR = editorial.Writer("ed@example.com", "editor", 1)
LATER = NOW + timedelta(hours=1)


def _public(engine: Engine, slug: str, now: datetime = LATER) -> dict[str, bool]:
    """Where readers could find the story at ``now``: every public place says the same."""
    with store.reading(engine) as session:
        latest = {v.article.slug for v in store.latest_articles(session, now=now, limit=50)}
        mapped = {e.slug for e in store.sitemap_entries(session, now=now)}
        hits = store.search_articles(session, ["harbour"], now=now, limit=50, offset=0)
        found = {v.article.slug for v in store.views_by_id(session, hits.ids).values()}
    try:
        publish.story_page(engine, slug, now=now)
        page = True
    except NotFoundError:
        page = False
    return {
        "list": slug in latest,
        "sitemap": slug in mapped,
        "search": slug in found,
        "page": page,
    }


def _writer(engine: Engine, settings: Settings, email: str, role: str) -> editorial.Writer:
    add_person(engine, settings, email, role)
    return editorial.writer_by_email(engine, email, actor="test")


def _save(
    engine: Engine,
    settings: Settings,
    who: editorial.Writer,
    intent: str = "draft",
    view: store.ArticleView | None = None,
    **fields: object,
) -> store.ArticleView:
    values = {"title": "Harbour reopens", "body": "The harbour reopens today.", **fields}
    article_id, _ = editorial.save(
        engine, settings, values, who, view=view, base_hash=None, intent=intent, now=NOW
    )
    return publish.article_by_id(engine, article_id)


def test_a_story_is_public_only_between_published_and_withdrawn(
    engine: Engine, settings: Settings
) -> None:
    nowhere = {"list": False, "sitemap": False, "search": False, "page": False}
    view = _save(engine, settings, EDITOR)
    assert view.status(NOW) == "draft" and _public(engine, view.article.slug) == nowhere
    editorial.change(engine, view, "review", EDITOR, now=NOW)
    assert _public(engine, view.article.slug) == nowhere
    with pytest.raises(InputError, match="note"):
        editorial.change(engine, view, "send-back", EDITOR, now=NOW, note=" ")
    editorial.change(engine, view, "send-back", EDITOR, now=NOW, note="Name the ferry line.")
    back = publish.article_by_id(engine, view.article.id or 0)
    assert (back.article.status, back.article.review_note) == ("draft", "Name the ferry line.")
    editorial.change(engine, view, "review", EDITOR, now=NOW)
    assert publish.article_by_id(engine, view.article.id or 0).article.review_note == ""
    editorial.change(engine, view, "publish", EDITOR, now=NOW)
    out = publish.article_by_id(engine, view.article.id or 0)
    assert (out.article.published_at, out.article.published_by) == (NOW, EDITOR.actor)
    assert _public(engine, view.article.slug) == dict.fromkeys(nowhere, True)
    with pytest.raises(InputError, match="reason"):
        editorial.change(engine, view, "withdraw", EDITOR, now=NOW, note="")
    editorial.change(engine, view, "withdraw", EDITOR, now=NOW, note="it named the wrong port.")
    gone = publish.story_page(engine, view.article.slug, now=LATER)
    assert (gone.article.status, gone.article.withdrawn_reason) == (
        "withdrawn",
        "it named the wrong port.",
    )
    assert _public(engine, view.article.slug) == {**nowhere, "page": True}  # the page says why
    with pytest.raises(ConflictError):  # only a published story is withdrawn
        editorial.change(engine, view, "withdraw", EDITOR, now=NOW, note="again")
    with store.reading(engine) as session:
        trail = store.audit_entries(session, kind="article", subject_id=view.article.id)
    assert [e.action for e in trail][:3] == [
        "article.withdraw",
        "article.publish",
        "article.review",
    ]


def test_publish_at_a_time_schedules_and_unpublish_removes_what_nobody_saw(
    engine: Engine, settings: Settings
) -> None:
    at = (LATER + timedelta(hours=1)).isoformat()
    view = _save(engine, settings, EDITOR, "publish", editor="Ed", published_at=at)
    assert view.status(NOW) == "scheduled" and not _public(engine, view.article.slug)["list"]
    assert editorial.change(engine, view, "unpublish", EDITOR, now=NOW) == "unpublished"
    assert not _public(engine, view.article.slug, LATER + timedelta(hours=2))["page"]
    with pytest.raises(InputError, match="editor"):  # readers see who published it
        _save(engine, settings, EDITOR, "publish", title="Nameless")


def test_a_contributor_writes_drafts_and_never_publishes(
    engine: Engine, settings: Settings
) -> None:
    mina = _writer(engine, settings, "mina@example.com", "contributor")
    other = _writer(engine, settings, "joon@example.com", "contributor")
    view = _save(engine, settings, mina, editor="Mina herself")
    assert view.article.owner_id == mina.staff_id and view.article.status == "draft"
    assert view.article.editor == ""  # the editor readers see is the one who publishes
    for attempt in (
        lambda: _save(engine, settings, mina, "publish", title="Mine now"),
        lambda: editorial.change(engine, view, "publish", mina, now=NOW),
        lambda: editorial.change(engine, view, "withdraw", mina, now=NOW, note="x"),
        lambda: editorial.change(engine, view, "unpublish", mina, now=NOW),
        lambda: editorial.restore(engine, settings, view, 1, mina, now=NOW),
    ):
        with pytest.raises(DeniedError):
            attempt()
    with pytest.raises(NotFoundError):  # another contributor's draft does not exist for them
        _save(engine, settings, other, view=view, title="Taken over")
    assert not editorial.may_see(other, view)
    _save(engine, settings, mina, view=view, title="Harbour reopens at dawn")
    editorial.change(engine, view, "review", mina, now=NOW)
    in_review = publish.article_by_id(engine, view.article.id or 0)
    with pytest.raises(DeniedError):  # with the editors now
        _save(engine, settings, mina, view=in_review, title="One more change")
    published = _save(engine, settings, EDITOR, "publish", view=in_review, editor="Ed Lim")
    assert (published.status(NOW), published.article.editor) == ("published", "Ed Lim")
    assert published.article.owner_id == mina.staff_id


def test_every_save_keeps_a_revision_compared_and_restored(
    engine: Engine, settings: Settings
) -> None:
    view = _save(engine, settings, EDITOR, "publish", editor="Ed")
    view = _save(engine, settings, EDITOR, view=view, body="The harbour stays shut.")
    revisions = editorial.revisions(engine, view.article.id or 0)
    assert [(r.number, r.action) for r in revisions] == [(3, "save"), (2, "publish"), (1, "create")]
    first, last = revisions[-1], revisions[0]
    _, _, lines = editorial.compare(engine, view.article.id or 0, first.id, last.id)
    assert ("removed", "The harbour reopens today.") in lines
    assert ("added", "The harbour stays shut.") in lines
    # Readers saw the published text: going back to it is a correction, with a note.
    with pytest.raises(InputError, match="note"):
        editorial.restore(engine, settings, view, first.id, EDITOR, now=LATER)
    assert editorial.restore(
        engine, settings, view, first.id, EDITOR, now=LATER, note="The harbour does reopen."
    )
    back = publish.article_by_id(engine, view.article.id or 0)
    assert back.article.body_markdown == "The harbour reopens today."
    assert [c.note for c in back.corrections] == ["The harbour does reopen."]
    assert editorial.revisions(engine, view.article.id or 0)[0].action == "restore"


def test_a_preview_link_is_read_only_and_dies_altered_or_expired(
    engine: Engine, settings: Settings
) -> None:
    signer = Signer.of(settings.secret_key)
    view = _save(engine, settings, EDITOR)
    path, expires = editorial.preview_link(signer, view, now=NOW)
    token = path.rsplit("/", 1)[1]
    assert editorial.preview_view(engine, signer, token, now=NOW).article.id == view.article.id
    altered = token[:-1] + ("A" if token[-1] != "A" else "B")
    for bad, when in ((altered, NOW), (token, expires), ("1.2.3", NOW), ("x", NOW)):
        with pytest.raises(NotFoundError):
            editorial.preview_view(engine, signer, bad, now=when)


def test_cli_drafts_and_contributors(engine: Engine, settings: Settings) -> None:
    """``articles add --draft`` keeps new stories as drafts; updates keep their state."""
    report = publish.import_objects(
        engine,
        settings,
        [{"title": "Harbour reopens", "body": "Soon."}],
        source="test",
        now=NOW,
        actor="test",
        status="draft",
    )
    assert report.created == 1
    view = publish.article_any(engine, "harbour-reopens")
    assert view.status(NOW) == "draft" and not _public(engine, "harbour-reopens")["page"]
    assert publish.set_article_status(engine, "harbour-reopens", "published", now=NOW, actor="t")
    assert publish.article_any(engine, "harbour-reopens").article.published_at == NOW
