"""The site's pictures (issue 26): kept once by digest, their renditions' bytes, their words,
which stories use them, and imported stories' image addresses still to fetch."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from publisher.errors import InputError, NotFoundError
from publisher.models import Picture, PictureFile
from publisher.store.audit import record
from publisher.store.engine import articles_t, insert_ignore
from publisher.store.stamps import bump

__all__ = [
    "PictureFileView",
    "PictureView",
    "add_picture",
    "attach_picture",
    "delete_picture",
    "find_pictures",
    "picture_by_url",
    "picture_file",
    "picture_files_t",
    "picture_names",
    "picture_uses",
    "picture_views",
    "pictures_t",
    "set_picture_words",
]

pictures_t = Picture.__table__  # type: ignore[attr-defined]
picture_files_t = PictureFile.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class PictureFileView:
    name: str
    width: int
    height: int
    content_type: str
    length: int


@dataclass(frozen=True)
class PictureView:
    """A picture with its words and its renditions (without their bytes)."""

    id: int
    digest: str
    alt: str
    caption: str
    credit: str
    width: int
    height: int
    kind: str
    size: int
    source_url: str
    created_by: str
    created_at: datetime
    files: tuple[PictureFileView, ...]

    def of_type(self, content_type: str) -> list[PictureFileView]:
        """The renditions in ``content_type``, narrowest first."""
        return sorted((f for f in self.files if f.content_type == content_type),
                      key=lambda f: f.width)  # fmt: skip

    def pick(self, width: int, content_type: str = "image/jpeg") -> PictureFileView:
        """The narrowest rendition at least ``width`` wide (the widest there is, else)."""
        found = self.of_type(content_type)
        return next((f for f in found if f.width >= width), found[-1])

    def srcset(self, base: str, content_type: str) -> str:
        """``srcset`` of the renditions in ``content_type`` under the media base URL."""
        return ", ".join(f"{base}/{f.name} {f.width}w" for f in self.of_type(content_type))


def _view(row: Any, files: Iterable[PictureFileView]) -> PictureView:
    return PictureView(
        id=row.id, digest=row.digest, alt=row.alt, caption=row.caption, credit=row.credit,
        width=row.width, height=row.height, kind=row.kind, size=row.size,
        source_url=row.source_url, created_by=row.created_by, created_at=row.created_at,
        files=tuple(files),
    )  # fmt: skip


def picture_views(session: Session, ids: Iterable[int | None]) -> dict[int, PictureView]:
    """These pictures by id (two queries for all of them); missing ids are left out."""
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    files: dict[int, list[PictureFileView]] = {i: [] for i in wanted}
    columns = picture_files_t.c
    for f in session.execute(
        select(columns.picture_id, columns.name, columns.width, columns.height,
               columns.content_type, columns.length)
        .where(columns.picture_id.in_(wanted))
    ):  # fmt: skip
        files[f.picture_id].append(
            PictureFileView(f.name, f.width, f.height, f.content_type, f.length)
        )
    rows = session.execute(select(pictures_t).where(pictures_t.c.id.in_(wanted)))
    return {row.id: _view(row, files[row.id]) for row in rows}


def add_picture(
    session: Session,
    *,
    digest: str,
    values: dict[str, Any],
    files: Sequence[tuple[str, int, int, str, bytes]],
    now: datetime,
) -> tuple[int, bool]:
    """Keep a picture once by ``digest`` (``values``: its other columns; ``files``: name,
    width, height, type, bytes). ``(id, whether it is new)``: the same file again is the
    picture already kept, whoever sends it, on whichever daemon."""
    statement = insert_ignore(session)(pictures_t).on_conflict_do_nothing(index_elements=["digest"])
    session.execute(statement, [{**values, "digest": digest, "created_at": now}])
    picture_id = int(
        session.scalar(select(pictures_t.c.id).where(pictures_t.c.digest == digest)) or 0
    )
    have = set(session.scalars(
        select(picture_files_t.c.name).where(picture_files_t.c.picture_id == picture_id)
    ))  # fmt: skip
    if have:
        return picture_id, False
    session.execute(
        insert(picture_files_t),
        [
            {"name": name, "picture_id": picture_id, "width": w, "height": h,
             "content_type": kind, "length": len(data), "data": data}
            for name, w, h, kind, data in files
        ],
    )  # fmt: skip
    return picture_id, True


def picture_file(session: Session, name: str) -> tuple[str, bytes] | None:
    """A rendition's type and bytes by its name (None: there is none)."""
    row = session.execute(
        select(picture_files_t.c.content_type, picture_files_t.c.data).where(
            picture_files_t.c.name == name
        )
    ).first()
    return None if row is None else (row.content_type, bytes(row.data))


def picture_names(session: Session) -> list[str]:
    """Every rendition's name (for an export to a directory)."""
    return list(session.scalars(select(picture_files_t.c.name).order_by(picture_files_t.c.name)))


def picture_by_url(session: Session, url: str) -> int | None:
    """The picture already fetched from ``url``, if any."""
    return session.scalar(
        select(pictures_t.c.id).where(pictures_t.c.source_url == url).order_by(pictures_t.c.id)
    )


def _touch_users(session: Session, picture_id: int, now: datetime) -> None:
    """The stories showing this picture changed (feeds carry its words): moved and stamped."""
    result = session.execute(
        update(articles_t).where(articles_t.c.picture_id == picture_id).values(updated_at=now)
    )
    if cast(CursorResult[Any], result).rowcount:
        bump(session, "articles")


def set_picture_words(
    session: Session,
    picture_id: int,
    *,
    alt: str,
    caption: str,
    credit: str,
    now: datetime,
    actor: str,
) -> bool:
    """Change a picture's alt text, caption and credit (every story showing it shows the new
    ones); False when nothing changed."""
    row = session.execute(select(pictures_t).where(pictures_t.c.id == picture_id)).first()
    if row is None:
        raise NotFoundError(f"no picture {picture_id}")
    before = {"alt": row.alt, "caption": row.caption, "credit": row.credit}
    after = {"alt": alt, "caption": caption, "credit": credit}
    if before == after:
        return False
    session.execute(update(pictures_t).where(pictures_t.c.id == picture_id).values(**after))
    _touch_users(session, picture_id, now)
    record(session, actor=actor, action="picture.edit", kind="picture", subject_id=picture_id,
           label=row.digest[:12], before=before, after=after, now=now)  # fmt: skip
    return True


def attach_picture(
    session: Session, article_id: int, picture_id: int | None, *, now: datetime, actor: str
) -> bool:
    """Show ``picture_id`` (None: no picture) with the story; False when it already did."""
    current = session.execute(
        select(articles_t.c.slug, articles_t.c.picture_id).where(articles_t.c.id == article_id)
    ).first()
    if current is None:
        raise NotFoundError(f"no article {article_id}")
    if current.picture_id == picture_id:
        return False
    session.execute(
        update(articles_t)
        .where(articles_t.c.id == article_id)
        .values(picture_id=picture_id, updated_at=now)
    )
    bump(session, "articles")
    record(session, actor=actor, action="article.picture", kind="article",
           subject_id=article_id, label=current.slug, before={"picture": current.picture_id},
           after={"picture": picture_id}, now=now)  # fmt: skip
    return True


def find_pictures(
    session: Session, text: str, *, offset: int, limit: int
) -> tuple[list[PictureView], int]:
    """One page of the pictures whose words or address hold ``text`` (all: empty), newest
    first, and how many match."""
    query = select(pictures_t.c.id)
    if text.strip():
        pattern = (
            "%" + text.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )
        query = query.where(
            or_(*(c.ilike(pattern, escape="\\") for c in (
                pictures_t.c.alt, pictures_t.c.caption, pictures_t.c.credit,
                pictures_t.c.source_url)))
        )  # fmt: skip
    total = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    ids = list(session.scalars(
        query.order_by(pictures_t.c.created_at.desc(), pictures_t.c.id.desc())
        .offset(offset).limit(limit)
    ))  # fmt: skip
    views = picture_views(session, ids)
    return [views[i] for i in ids if i in views], total


def picture_uses(session: Session, picture_id: int) -> list[tuple[int, str, str]]:
    """The stories showing this picture: (id, slug, title), newest first."""
    rows = session.execute(
        select(articles_t.c.id, articles_t.c.slug, articles_t.c.title)
        .where(articles_t.c.picture_id == picture_id)
        .order_by(articles_t.c.published_at.desc(), articles_t.c.id.desc())
    )
    return [(row.id, row.slug, row.title) for row in rows]


def delete_picture(session: Session, picture_id: int, *, now: datetime, actor: str) -> None:
    """Delete a picture and its renditions; refused while a story shows it."""
    row = session.execute(select(pictures_t).where(pictures_t.c.id == picture_id)).first()
    if row is None:
        raise NotFoundError(f"no picture {picture_id}")
    used = picture_uses(session, picture_id)
    if used:
        raise InputError(
            f"this picture is used by {len(used)} stor{'y' if len(used) == 1 else 'ies'} "
            f"(“{used[0][2]}”{' and others' if len(used) > 1 else ''}): take it out of "
            "them first"
        )
    session.execute(delete(picture_files_t).where(picture_files_t.c.picture_id == picture_id))
    session.execute(delete(pictures_t).where(pictures_t.c.id == picture_id))
    record(session, actor=actor, action="picture.delete", kind="picture", subject_id=picture_id,
           label=row.digest[:12], before={"alt": row.alt}, now=now)  # fmt: skip
