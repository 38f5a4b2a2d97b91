"""Our feeds' state: the last ETag of each feed and the WebSub pings still owed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text
from sqlmodel import Field, SQLModel

from publisher.models.base import when

__all__ = ["FeedState", "WebSubPing"]


class FeedState(SQLModel, table=True):
    """The ETag each feed path last had, to notice when a feed's bytes change."""

    __tablename__ = "feed_state"

    path: str = Field(primary_key=True, max_length=300)
    etag: str = Field(max_length=80)
    changed_at: datetime = when()


class WebSubPing(SQLModel, table=True):
    """A hub notification still owed for a feed URL (retried with back-off while it fails)."""

    __tablename__ = "websub_pings"

    feed_url: str = Field(primary_key=True, max_length=2000)
    due_at: datetime = when(index=True)
    attempts: int = 0
    last_error: str = Field(default="", sa_type=Text)
