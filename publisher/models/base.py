"""The column types every table shares: aware datetimes, stored as UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field

__all__ = ["AwareDateTime", "when"]


class AwareDateTime(TypeDecorator[datetime]):
    """Timezone-aware in and out on every backend; stored as UTC.

    SQLite has no time zone type and SQLAlchemy drops the offset there, so values are
    normalised to UTC going in and tagged UTC coming out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: pass an aware datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def when(*, nullable: bool = False, index: bool = False) -> Any:
    return Field(sa_column=Column(AwareDateTime(), nullable=nullable, index=index))
