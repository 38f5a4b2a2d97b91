"""Articles, categories, corrections and the change stamp: writes and reads."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import (
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from publisher.content import slugify
from publisher.errors import ConflictError, DeniedError, InputError, NotFoundError
from publisher.models import (
    Article,
    Category,
)
from publisher.store.audit import changes, record, record_many
from publisher.store.engine import (
    STATUSES,
    articles_t,
    categories_t,
    corrections_t,
    insert_ignore,
    links_t,
)
from publisher.store.picture_fetches import release_stale_pictures
from publisher.store.pictures import PictureView, picture_views
from publisher.store.revisions import keep_input_revisions, keep_revisions
from publisher.store.search import index_texts
from publisher.store.stamps import bump

if TYPE_CHECKING:  # the article parser (pydantic models) is not loaded by every process
    from publisher.articles.cleaning import ArticleInput

__all__ = [
    "ARTICLE_STATUSES",
    "AUDITED",
    "NEWEST_FIRST",
    "ArticleFilter",
    "ArticleKey",
    "ArticleView",
    "BatchResult",
    "CorrectionView",
    "add_correction",
    "all_articles",
    "article_by_id",
    "article_by_slug",
    "article_count",
    "article_views",
    "authors",
    "category_by_slug",
    "category_is_public",
    "category_list",
    "correction_ids",
    "ensure_categories",
    "find_articles",
    "is_public",
    "language_is",
    "latest_articles",
    "latest_keys",
    "link_translations",
    "new_uid",
    "next_scheduled",
    "public_categories",
    "save_article",
    "set_status",
    "snapshots",
    "story_languages",
    "translations",
    "upsert_articles",
    "views_by_id",
    "visible",
]

# ---------------------------------------------------------------- articles: writes


@dataclass(frozen=True)
class BatchResult:
    created: list[str]
    updated: list[str]
    unchanged: int


def new_uid(host: str, now: datetime) -> str:
    """A ``tag:`` URI (RFC 4151), fixed at creation and never derived from title or slug."""
    # 128 random bits, as uuid4 had (its version bits aside), at a quarter of its cost.
    return f"tag:{host},{now.date().isoformat()}:article/{secrets.token_hex(16)}"


def upsert_articles(
    session: Session,
    items: Sequence[ArticleInput],
    *,
    now: datetime,
    host: str,
    actor: str | None = None,
    status: str = "published",
    owner_id: int | None = None,
) -> BatchResult:
    """Insert new slugs, update changed ones, leave identical ones alone. One batch. With
    ``actor``, each created and updated article is in the audit trail (fields that changed)
    and keeps a revision. New articles get ``status`` (``draft``: nobody sees them yet);
    updated ones keep theirs. With ``owner_id`` (a contributor's import), new articles are
    theirs, and changing anything but their own drafts is refused (DeniedError)."""
    if not items:
        return BatchResult([], [], 0)
    existing = _current_rows(session, [item.slug for item in items])
    if owner_id is not None:
        for item in items:
            row = existing.get(item.slug)
            if row is not None and (row.owner_id != owner_id or row.status != "draft"):
                raise DeniedError(f"{item.slug!r} is not your draft: only an editor can change it")
    fresh = [item for item in items if item.slug not in existing]
    changed = [
        item
        for item in items
        if item.slug in existing and existing[item.slug].content_hash != item.content_hash
    ]
    # Read before the writes: the audit trail records what the changed articles were.
    before = snapshots(session, [existing[i.slug].id for i in changed]) if actor else {}
    ids = _insert_fresh(session, fresh, now, host, status, owner_id)
    ids.update(_update_changed(session, changed, existing, now))
    touched = [item for item in items if item.slug in ids]
    _link_categories(session, touched, ids)
    _add_corrections(session, touched, ids)
    link_translations(session, touched, ids)
    if touched:
        bump(session, "articles")
    if actor and touched:
        entries = _batch_changes(actor, touched, ids, before, existing, now, status)
        record_many(session, entries, now=now)
        written = [_as_written(item, ids, existing, status, now) for item in touched]
        keep_input_revisions(session, written, actor=actor, action="import", now=now)
    return BatchResult(
        [item.slug for item in fresh],
        [item.slug for item in changed],
        len(items) - len(fresh) - len(changed),
    )


def _as_written(
    item: ArticleInput, ids: dict[str, int], existing: dict[str, Any], status: str, now: datetime
) -> tuple[int, ArticleInput, str, datetime]:
    """An article an import wrote, as its revision records it: id, input, status (a new one's
    is the import's, a changed one keeps its own) and publication time."""
    if item.slug not in existing:
        return ids[item.slug], item, status, item.published_at or now
    current = existing[item.slug]
    return ids[item.slug], item, current.status, item.published_at or current.published_at


def _current_rows(session: Session, slugs: list[str]) -> dict[str, Any]:
    """The stored id, content hash and publication time of these slugs, by slug."""
    return {
        row.slug: row
        for row in session.execute(
            select(
                articles_t.c.id,
                articles_t.c.slug,
                articles_t.c.content_hash,
                articles_t.c.published_at,
                articles_t.c.owner_id,
                articles_t.c.status,
            ).where(articles_t.c.slug.in_(slugs))
        )
    }


def _insert_fresh(
    session: Session,
    fresh: Sequence[ArticleInput],
    now: datetime,
    host: str,
    status: str,
    owner_id: int | None,
) -> dict[str, int]:
    """Insert the new articles in one statement; their ids by slug."""
    if not fresh:
        return {}
    rows = [_new_row(item, now, host, status=status, owner_id=owner_id) for item in fresh]
    result = session.execute(insert(articles_t).returning(articles_t.c.id, articles_t.c.slug), rows)
    ids = {row.slug: row.id for row in result}
    index_texts(session, ((ids[item.slug], item) for item in fresh), fresh=True)
    return ids


def _update_changed(
    session: Session, changed: Sequence[ArticleInput], existing: dict[str, Any], now: datetime
) -> dict[str, int]:
    """Rewrite the changed articles in one executemany and drop their category links (linked
    again by the caller); their ids by slug."""
    if not changed:
        return {}
    session.execute(
        update(articles_t)
        .where(articles_t.c.id == bindparam("_id"))
        .values(
            {
                name: bindparam(name)
                for name in (*_EDITABLE, "content_hash", "updated_at", "published_at")
            }
        ),
        [_changed_row(item, existing[item.slug], now) for item in changed],
    )
    changed_ids = [existing[item.slug].id for item in changed]
    session.execute(delete(links_t).where(links_t.c.article_id.in_(changed_ids)))
    index_texts(session, ((existing[item.slug].id, item) for item in changed))
    release_stale_pictures(session, changed_ids)
    return {item.slug: existing[item.slug].id for item in changed}


def _batch_changes(
    actor: str,
    touched: Sequence[ArticleInput],
    ids: dict[str, int],
    before: dict[int, dict[str, Any]],
    existing: dict[str, Any],
    now: datetime,
    status: str,
) -> list[dict[str, Any]]:
    """The audit entries of a batch: one per article whose audited fields changed."""
    entries = []
    for item in touched:
        article_id = ids[item.slug]
        old = before.get(article_id)
        when = item.published_at or (existing[item.slug].published_at if old else now)
        now_status = old["status"] if old else status
        entry = _change(actor, article_id, old, _item_snapshot(item, when, now_status))
        if entry is not None:
            entries.append(entry)
    return entries


_EDITABLE = (
    "title",
    "summary",
    "body_html",
    "body_markdown",
    "author",
    "editor",
    "image",
    "source_name",
    "source_url",
    "ai_assisted",
    "sponsored",
    "language",
)


def _new_row(
    item: ArticleInput,
    now: datetime,
    host: str,
    *,
    status: str = "published",
    owner_id: int | None = None,
) -> dict[str, Any]:
    published = item.published_at or now
    row = {name: getattr(item, name) for name in _EDITABLE}
    row.update(
        uid=new_uid(host, now),
        slug=item.slug,
        status=status,
        owner_id=owner_id,
        content_hash=item.content_hash,
        published_at=published,
        created_at=now,
        updated_at=max([published, *(when for when, _ in item.corrections)]),
    )
    return row


def _changed_row(item: ArticleInput, current: Any, now: datetime) -> dict[str, Any]:
    row: dict[str, Any] = {name: getattr(item, name) for name in _EDITABLE}
    row.update(
        _id=current.id,
        content_hash=item.content_hash,
        updated_at=now,
        # A file without published_at keeps the time the article first went out.
        published_at=item.published_at or current.published_at,
    )
    return row


def ensure_categories(session: Session, names: Iterable[str]) -> dict[str, int]:
    """Category ids by slug, creating the categories that do not exist yet."""
    wanted = {slugify(name): name for name in names}
    if not wanted:
        return {}
    statement = insert_ignore(session)(categories_t).on_conflict_do_nothing(index_elements=["slug"])
    session.execute(statement, [{"slug": s, "name": n} for s, n in wanted.items()])
    found = session.execute(
        select(categories_t.c.slug, categories_t.c.id).where(categories_t.c.slug.in_(wanted))
    )
    return {row.slug: row.id for row in found}


def _link_categories(session: Session, items: Sequence[ArticleInput], ids: dict[str, int]) -> None:
    categories = ensure_categories(session, (name for i in items for name in i.categories))
    links = [
        {"article_id": ids[item.slug], "category_id": categories[slugify(name)], "position": n}
        for item in items
        for n, name in enumerate(item.categories)
    ]
    if links:
        statement = insert_ignore(session)(links_t).on_conflict_do_nothing()
        session.execute(statement, links)


def _add_corrections(session: Session, items: Sequence[ArticleInput], ids: dict[str, int]) -> None:
    """Record the corrections a file lists that are not recorded yet (none is ever removed)."""
    wanted = [(ids[i.slug], when, note) for i in items for when, note in i.corrections]
    if not wanted:
        return
    have = {
        (row.article_id, row.created_at, row.note)
        for row in session.execute(
            select(
                corrections_t.c.article_id, corrections_t.c.created_at, corrections_t.c.note
            ).where(corrections_t.c.article_id.in_({article_id for article_id, _, _ in wanted}))
        )
    }
    rows = [
        {"article_id": article_id, "created_at": when, "note": note}
        for article_id, when, note in wanted
        if (article_id, when, note) not in have
    ]
    if rows:
        session.execute(insert(corrections_t), rows)


def link_translations(session: Session, items: Sequence[ArticleInput], ids: dict[str, int]) -> None:
    """Make each item that names ``translation_of`` a translation of that story: both get
    the story's translation key (the first story's uid), so a group grows one link at a time.
    An unknown slug is an InputError (the caller's transaction is rolled back)."""
    for item in items:
        if not item.translation_of:
            continue
        target = session.execute(
            select(articles_t.c.id, articles_t.c.uid, articles_t.c.translation_key).where(
                articles_t.c.slug == item.translation_of
            )
        ).first()
        if target is None:
            raise InputError(
                f"{item.slug}: translation_of: no story with slug {item.translation_of!r}"
            )
        key = target.translation_key or target.uid
        session.execute(
            update(articles_t)
            .where(articles_t.c.id.in_([target.id, ids[item.slug]]))
            .values(translation_key=key)
        )


def language_is(tag: str, site_language: str) -> Any:
    """The condition for a story in ``tag`` (a story with no language is in the site's)."""
    if tag == site_language:
        return articles_t.c.language.in_([tag, ""])
    return articles_t.c.language == tag


def story_languages(session: Session, *, now: datetime | None, site_language: str) -> list[str]:
    """The languages of the stories readers may see at ``now`` (None: of every story),
    sorted."""
    query = select(articles_t.c.language).distinct()
    found = session.scalars(query if now is None else query.where(visible(now)))
    return sorted({tag or site_language for tag in found})


def translations(
    session: Session, article: Article, *, now: datetime, site_language: str
) -> list[tuple[str, str]]:
    """``(language, slug)`` of the visible stories linked to ``article`` as translations,
    one a language (the first), by language; empty unless there are two languages."""
    if not article.translation_key:
        return []
    rows = session.execute(
        select(articles_t.c.language, articles_t.c.slug)
        .where(articles_t.c.translation_key == article.translation_key)
        .where(visible(now))
        .order_by(articles_t.c.id)
    ).all()
    found: dict[str, str] = {}
    for row in rows:  # one story per language: the first
        found.setdefault(row.language or site_language, row.slug)
    return sorted(found.items()) if len(found) > 1 else []


def _article_id(session: Session, slug: str) -> int:
    found = session.scalar(select(articles_t.c.id).where(articles_t.c.slug == slug))
    if found is None:
        raise NotFoundError(f"no article with slug {slug!r}")
    return int(found)


def add_correction(
    session: Session, slug: str, note: str, *, now: datetime, actor: str | None = None
) -> int:
    """Record a correction; the article's ``updated_at`` moves to ``now``. Its id."""
    note = note.strip()
    if not note:
        raise InputError("a correction needs a note saying what was corrected")
    article_id = _article_id(session, slug)
    result = session.execute(
        insert(corrections_t)
        .values(article_id=article_id, note=note, created_at=now)
        .returning(corrections_t.c.id)
    )
    correction_id = int(result.scalar_one())
    session.execute(update(articles_t).where(articles_t.c.id == article_id).values(updated_at=now))
    bump(session, "articles")
    if actor:
        record(
            session,
            actor=actor,
            action="article.correct",
            kind="article",
            subject_id=article_id,
            label=slug,
            after={"correction": note},
            now=now,
        )
    return correction_id


def set_status(
    session: Session, slug: str, status: str, *, now: datetime, actor: str | None = None
) -> bool:
    """Publish or unpublish; False when it already had that status."""
    if status not in STATUSES:
        raise InputError(f"unknown status {status!r} (one of {', '.join(STATUSES)})")
    article_id = _article_id(session, slug)
    result = session.execute(
        update(articles_t)
        .where(and_(articles_t.c.id == article_id, articles_t.c.status != status))
        .values(status=status, updated_at=now)
    )
    changed = bool(cast(CursorResult[Any], result).rowcount)
    if changed:
        bump(session, "articles")
        if actor:
            other = "unpublished" if status == "published" else "published"
            record(
                session,
                actor=actor,
                action="article.publish" if status == "published" else "article.unpublish",
                kind="article",
                subject_id=article_id,
                label=slug,
                before={"status": other},
                after={"status": status},
                now=now,
            )
    return changed


# ---------------------------------------------------------------- articles: the newsroom


AUDITED = (
    "title", "slug", "summary", "body_markdown", "body_html", "author", "editor",
    "categories", "image", "source_name", "source_url", "ai_assisted", "sponsored",
    "published_at", "status", "language",
)  # fmt: skip
_NOT_ON_CREATION = ("body_markdown", "body_html")  # a new story's text is the story itself


def snapshots(session: Session, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The audited fields of these articles, as the audit trail records them."""
    if not ids:
        return {}
    found: dict[int, dict[str, Any]] = {}
    for view in article_views(
        session, session.scalars(select(Article).where(articles_t.c.id.in_(ids))).all()
    ):
        a = view.article
        values = {name: getattr(a, name) for name in AUDITED if name != "categories"}
        values["categories"] = ", ".join(view.categories)
        values["published_at"] = a.published_at  # normalised by audit.changes
        found[a.id or 0] = values
    return found


def _item_snapshot(item: ArticleInput, published_at: datetime, status: str) -> dict[str, Any]:
    """``snapshots`` for an article about to be written, without reading it back."""
    values = {name: getattr(item, name) for name in AUDITED if hasattr(item, name)}
    values.update(
        categories=", ".join(item.categories),
        published_at=published_at,
        status=status,
    )
    return values


def _change(
    actor: str, article_id: int, before: dict[str, Any] | None, after: dict[str, Any]
) -> dict[str, Any] | None:
    """The audit entry for one article written (None: nothing audited changed)."""
    if before is None:
        shown = {
            k: v for k, v in after.items() if k not in _NOT_ON_CREATION and v not in ("", False)
        }
        old: dict[str, Any] | None = None
        action = "article.create"
    else:
        old, shown = changes(before, after)
        if "body_markdown" in shown:  # the HTML is rendered from it: one copy is enough
            old.pop("body_html", None)
            shown.pop("body_html", None)
        if not shown:
            return None
        action = "article.edit"
    return {
        "actor": actor,
        "action": action,
        "kind": "article",
        "subject_id": article_id,
        "label": str(after["slug"]),
        "before": old,
        "after": shown,
    }


def _record_change(
    session: Session,
    actor: str,
    article_id: int,
    before: dict[str, Any] | None,
    after: dict[str, Any],
    now: datetime,
) -> None:
    entry = _change(actor, article_id, before, after)
    if entry is not None:
        record_many(session, [entry], now=now)


def _create(
    session: Session, item: ArticleInput, row: dict[str, Any], *, now: datetime, actor: str
) -> int:
    """Insert one new article from the newsroom, indexed, linked, audited; its id."""
    result = session.execute(insert(articles_t).returning(articles_t.c.id), [row])
    new_id = int(result.scalar_one())
    index_texts(session, [(new_id, item)], fresh=True)
    _link_categories(session, [item], {item.slug: new_id})
    link_translations(session, [item], {item.slug: new_id})
    bump(session, "articles")
    _record_change(session, actor, new_id, None, snapshots(session, [new_id])[new_id], now)
    keep_revisions(session, [new_id], actor=actor, action="create", now=now)
    return new_id


def save_article(
    session: Session,
    item: ArticleInput,
    *,
    article_id: int | None,
    base_hash: str | None,
    now: datetime,
    host: str,
    actor: str,
    status: str = "published",
    owner_id: int | None = None,
    action: str = "save",
) -> tuple[int, bool]:
    """Create an article (``article_id`` None; with ``status`` and its writer ``owner_id``)
    or change the one with this id, slug included: its id and ``tag:`` URI never change.
    ``(id, whether anything changed)``. A change keeps a revision (``action``: save,
    restore).

    ``base_hash`` is the content the editor started from: a save over someone else's newer
    change is refused (ConflictError) rather than silently undoing it."""
    taken = session.scalar(select(articles_t.c.id).where(articles_t.c.slug == item.slug))
    if taken is not None and taken != article_id:
        raise InputError(f"slug: {item.slug!r} is another article's slug; choose another")
    if article_id is None:
        row = _new_row(item, now, host, status=status, owner_id=owner_id)
        return _create(session, item, row, now=now, actor=actor), True
    current = session.execute(
        select(articles_t.c.id, articles_t.c.content_hash, articles_t.c.published_at)
        .where(articles_t.c.id == article_id)
        .with_for_update()
    ).first()
    if current is None:
        raise NotFoundError(f"no article {article_id}")
    if base_hash is not None and base_hash != current.content_hash:
        raise ConflictError(
            "someone else changed this article after you opened it: nothing was saved. "
            "Their version and yours are both shown: merge them and save again."
        )
    if current.content_hash == item.content_hash:
        return article_id, False
    before = snapshots(session, [article_id])
    row = _changed_row(item, current, now)
    row.pop("_id")
    session.execute(
        update(articles_t).where(articles_t.c.id == article_id).values(slug=item.slug, **row)
    )
    session.execute(delete(links_t).where(links_t.c.article_id == article_id))
    index_texts(session, [(article_id, item)])
    _link_categories(session, [item], {item.slug: article_id})
    link_translations(session, [item], {item.slug: article_id})
    bump(session, "articles")
    after = snapshots(session, [article_id])
    _record_change(session, actor, article_id, before[article_id], after[article_id], now)
    keep_revisions(session, [article_id], actor=actor, action=action, now=now)
    return article_id, True


# ---------------------------------------------------------------- articles: reads


@dataclass(frozen=True)
class CorrectionView:
    note: str
    created_at: datetime


@dataclass(frozen=True)
class ArticleView:
    """An article with its categories and corrections, as pages, feeds and mail need it."""

    article: Article
    categories: tuple[str, ...]
    corrections: tuple[CorrectionView, ...]
    picture: PictureView | None = None  # the site's own copy of its image, once kept

    def status(self, now: datetime) -> str:
        """draft, in_review, scheduled, published, withdrawn or unpublished, at ``now``."""
        if self.article.status == "published" and self.article.published_at > now:
            return "scheduled"
        return self.article.status


def article_views(session: Session, articles: Sequence[Article]) -> list[ArticleView]:
    """These articles with their categories and corrections, two queries for all of them."""
    ids = [a.id for a in articles]
    names: dict[int, list[str]] = {i: [] for i in ids if i is not None}
    notes: dict[int, list[CorrectionView]] = {i: [] for i in ids if i is not None}
    if ids:
        for article_id, name in session.execute(
            select(links_t.c.article_id, categories_t.c.name)
            .join(categories_t, categories_t.c.id == links_t.c.category_id)
            .where(links_t.c.article_id.in_(ids))
            .order_by(links_t.c.article_id, links_t.c.position)
        ):
            names[article_id].append(name)
        for row in session.execute(
            select(corrections_t.c.article_id, corrections_t.c.note, corrections_t.c.created_at)
            .where(corrections_t.c.article_id.in_(ids))
            .order_by(corrections_t.c.created_at, corrections_t.c.id)
        ):
            notes[row.article_id].append(CorrectionView(row.note, row.created_at))
    pictures = picture_views(session, (a.picture_id for a in articles))
    return [
        ArticleView(
            a,
            tuple(names[a.id]),
            tuple(notes[a.id]),
            pictures.get(a.picture_id) if a.picture_id is not None else None,
        )
        for a in articles
        if a.id is not None
    ]


# The order of every article list: ties on the time broken by id, so pages never overlap.
NEWEST_FIRST = (articles_t.c.published_at.desc(), articles_t.c.id.desc())


def visible(now: datetime) -> Any:
    """The condition for an article readers may see at ``now``."""
    return and_(articles_t.c.status == "published", articles_t.c.published_at <= now)


def is_public(view: ArticleView, now: datetime) -> bool:
    """Whether readers may see the story at ``now`` (what ``visible`` selects), the one test
    of it for a story in hand: only such a story may be sent as breaking news."""
    return view.status(now) == "published"


def _latest(
    query: Any,
    *,
    now: datetime,
    limit: int,
    category_id: int | None,
    authors: Sequence[str] = (),
    language: tuple[str, str] | None = None,
) -> Any:
    query = query.where(visible(now))
    if language is not None:
        query = query.where(language_is(*language))
    if authors:
        query = query.where(articles_t.c.author.in_(list(authors)))
    if category_id is not None:
        query = query.where(
            exists()
            .where(links_t.c.article_id == articles_t.c.id)
            .where(links_t.c.category_id == category_id)
        )
    return query.order_by(*NEWEST_FIRST).limit(limit)


def latest_articles(
    session: Session,
    *,
    now: datetime,
    limit: int,
    category_slug: str | None = None,
    language: tuple[str, str] | None = None,
) -> list[ArticleView]:
    """The newest visible articles, newest first (by publication time, then id); with
    ``language`` (a tag and the site's language), only the stories in it."""
    category_id = None
    if category_slug is not None:
        category_id = category_by_slug(session, category_slug).id
    query = _latest(
        select(Article), now=now, limit=limit, category_id=category_id, language=language
    )
    return article_views(session, session.scalars(query).all())


@dataclass(frozen=True)
class ArticleKey:
    """What identifies one version of an article's content, without loading the content."""

    id: int
    content_hash: str
    updated_at: datetime


def latest_keys(
    session: Session,
    *,
    now: datetime,
    limit: int,
    category_id: int | None = None,
    authors: Sequence[str] = (),
    language: tuple[str, str] | None = None,
) -> list[ArticleKey]:
    """``latest_articles`` as keys only: cheap enough to ask for every feed on every check.
    With ``authors``, only the stories with one of these bylines; with ``language``, in it."""
    columns = select(articles_t.c.id, articles_t.c.content_hash, articles_t.c.updated_at)
    query = _latest(
        columns, now=now, limit=limit, category_id=category_id, authors=authors, language=language
    )
    return [ArticleKey(row.id, row.content_hash, row.updated_at) for row in session.execute(query)]


def views_by_id(session: Session, ids: Iterable[int]) -> dict[int, ArticleView]:
    wanted = list(ids)
    if not wanted:
        return {}
    found = session.scalars(select(Article).where(articles_t.c.id.in_(wanted))).all()
    return {view.article.id or 0: view for view in article_views(session, found)}


def all_articles(session: Session, *, limit: int | None = None) -> list[ArticleView]:
    """Every article whatever its status, newest publication first."""
    query = select(Article).order_by(*NEWEST_FIRST)
    if limit is not None:
        query = query.limit(limit)
    return article_views(session, session.scalars(query).all())


@dataclass(frozen=True)
class ArticleFilter:
    """What the newsroom's article list asks for; empty values mean "any"."""

    text: str = ""  # in the title, slug or summary
    status: str = ""  # one of ARTICLE_STATUSES
    owner_id: int | None = None  # only this writer's articles (a contributor's list)
    category: str = ""  # a category's slug
    sponsored: bool | None = None
    ai_assisted: bool | None = None
    author: str = ""
    language: str = ""  # a BCP 47 tag
    site_language: str = "en"  # stories with no language are in it


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _status_is(status: str, now: datetime) -> Any:
    published = articles_t.c.status == "published"
    if status == "scheduled":
        return and_(published, articles_t.c.published_at > now)
    if status == "published":
        return and_(published, articles_t.c.published_at <= now)
    return articles_t.c.status == status


def _filtered(query: Any, wanted: ArticleFilter, now: datetime, *, status: bool = True) -> Any:
    if wanted.text:
        pattern = f"%{_escape_like(wanted.text)}%"
        query = query.where(
            or_(
                *(
                    column.ilike(pattern, escape="\\")
                    for column in (articles_t.c.title, articles_t.c.slug, articles_t.c.summary)
                )
            )
        )
    if status and wanted.status:
        query = query.where(_status_is(wanted.status, now))
    if wanted.category:
        query = query.where(
            exists()
            .where(links_t.c.article_id == articles_t.c.id)
            .where(links_t.c.category_id == categories_t.c.id)
            .where(categories_t.c.slug == wanted.category)
        )
    if wanted.sponsored is not None:
        query = query.where(articles_t.c.sponsored == wanted.sponsored)
    if wanted.ai_assisted is not None:
        query = query.where(articles_t.c.ai_assisted == wanted.ai_assisted)
    if wanted.author:
        query = query.where(articles_t.c.author == wanted.author)
    if wanted.language:
        query = query.where(language_is(wanted.language, wanted.site_language))
    if wanted.owner_id is not None:
        query = query.where(articles_t.c.owner_id == wanted.owner_id)
    return query


ARTICLE_STATUSES = ("draft", "in_review", "scheduled", "published", "withdrawn", "unpublished")


def find_articles(
    session: Session, wanted: ArticleFilter, *, now: datetime, offset: int, limit: int
) -> tuple[list[ArticleView], dict[str, int]]:
    """One page of the articles matching ``wanted``, newest first, and how many match in each
    status (the other filters applied) as ``{"published": n, ..., "all": n}``."""
    query = _filtered(select(Article), wanted, now).order_by(*NEWEST_FIRST)
    page = session.scalars(query.offset(offset).limit(limit)).all()
    kind = case(
        (articles_t.c.status != "published", articles_t.c.status),
        (articles_t.c.published_at > now, "scheduled"),
        else_="published",
    )
    counted = _filtered(select(kind, func.count()), wanted, now, status=False).group_by(kind)
    counts = {name: 0 for name in ARTICLE_STATUSES}
    counts.update({str(name): int(n) for name, n in session.execute(counted)})
    counts["all"] = sum(counts[name] for name in ARTICLE_STATUSES)
    return article_views(session, page), counts


def authors(session: Session) -> list[str]:
    """Every author named on an article, for the newsroom's filter."""
    query = select(articles_t.c.author).where(articles_t.c.author != "").distinct()
    return sorted(session.scalars(query).all())


def article_by_id(session: Session, article_id: int) -> ArticleView:
    found = session.get(Article, article_id)
    if found is None:
        raise NotFoundError(f"no article {article_id}")
    return article_views(session, [found])[0]


def correction_ids(session: Session, article_id: int) -> list[tuple[int, datetime, str]]:
    """An article's corrections with their ids, oldest first."""
    rows = session.execute(
        select(corrections_t.c.id, corrections_t.c.created_at, corrections_t.c.note)
        .where(corrections_t.c.article_id == article_id)
        .order_by(corrections_t.c.created_at, corrections_t.c.id)
    )
    return [(row.id, row.created_at, row.note) for row in rows]


def article_by_slug(session: Session, slug: str) -> ArticleView:
    found = session.scalars(select(Article).where(articles_t.c.slug == slug)).first()
    if found is None:
        raise NotFoundError(f"no article with slug {slug!r}")
    return article_views(session, [found])[0]


def category_by_slug(session: Session, slug: str) -> Category:
    found = session.scalars(select(Category).where(categories_t.c.slug == slug)).first()
    if found is None:
        raise NotFoundError(f"no category {slug!r}")
    return found


def category_list(session: Session) -> list[Category]:
    return list(session.scalars(select(Category).order_by(categories_t.c.slug)).all())


def article_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(articles_t)) or 0)


def next_scheduled(session: Session, *, now: datetime) -> datetime | None:
    """When the next scheduled article becomes visible (None: nothing is scheduled)."""
    return session.scalar(
        select(func.min(articles_t.c.published_at)).where(
            and_(articles_t.c.status == "published", articles_t.c.published_at > now)
        )
    )


def public_categories(session: Session, *, now: datetime) -> list[Category]:
    """Categories that an article readers may see at ``now`` is in: the only ones the public
    side names (feeds, the join form, preferences, error messages). A category that only
    scheduled or unpublished articles have stays unknown outside the newsroom (issue 16)."""
    return list(
        session.scalars(
            select(Category).where(category_is_public(now)).order_by(categories_t.c.slug)
        )
    )


def category_is_public(now: datetime) -> Any:
    """The condition for a category that an article readers may see at ``now`` is in."""
    return (
        exists()
        .where(links_t.c.category_id == categories_t.c.id)
        .where(links_t.c.article_id == articles_t.c.id)
        .where(visible(now))
    )
