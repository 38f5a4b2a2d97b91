"""The site's own pictures (issue 26): each picture with its words, its renditions' bytes,
and the image addresses of imported stories that could not be fetched yet."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import LargeBinary, Text
from sqlmodel import Field, SQLModel

from publisher.models.base import when

__all__ = ["Picture", "PictureFetch", "PictureFile"]


class Picture(SQLModel, table=True):
    """A picture kept once (``digest``: SHA-256 of the bytes it came as); its words are shown
    wherever it is used."""

    __tablename__ = "pictures"

    id: int | None = Field(default=None, primary_key=True)
    digest: str = Field(unique=True, max_length=64)
    alt: str = Field(default="", sa_type=Text)
    caption: str = Field(default="", sa_type=Text)
    credit: str = Field(default="", max_length=300)
    width: int = 0  # as shown (orientation applied)
    height: int = 0
    kind: str = Field(default="", max_length=10)  # what it came as: jpeg, png, webp, gif
    size: int = 0  # bytes it came as
    source_url: str = Field(default="", max_length=2000)  # where it was fetched from, if so
    created_by: str = Field(default="", max_length=320)
    created_at: datetime = when()


class PictureFile(SQLModel, table=True):
    """One rendition's bytes, named by content (``{digest}-{width}.{ext}``): never changes."""

    __tablename__ = "picture_files"

    name: str = Field(primary_key=True, max_length=100)
    picture_id: int = Field(foreign_key="pictures.id", index=True, ondelete="CASCADE")
    width: int
    height: int
    content_type: str = Field(max_length=30)
    length: int
    data: bytes = Field(sa_type=LargeBinary)


class PictureFetch(SQLModel, table=True):
    """An imported story's image address that failed to be fetched: when to try again."""

    __tablename__ = "picture_fetches"

    url: str = Field(primary_key=True, max_length=2000)
    attempts: int = 0
    error: str = Field(default="", sa_type=Text)
    next_try_at: datetime = when()
