"""The digest's look as an admin set it in the newsroom (issue 27): one row of what differs
from the defaults, and the logos uploaded, kept by their content's hash."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import LargeBinary, Text
from sqlmodel import Field, SQLModel

from publisher.models.base import when

__all__ = ["Look", "LookLogo"]


class Look(SQLModel, table=True):
    """The one row (id 1) of the look: ``chosen`` is a JSON object of the fields an admin set
    (a field not in it follows its default: the settings and schedules.yaml); ``version``
    goes up at every change, so that a form opened before another admin's change is refused."""

    __tablename__ = "look"

    id: int | None = Field(default=None, primary_key=True)
    chosen: str = Field(default="", sa_type=Text)
    version: int = 0
    changed_at: datetime = when()
    changed_by: str = Field(default="", max_length=400)


class LookLogo(SQLModel, table=True):
    """An uploaded logo, by the SHA-256 of its bytes: never changed or removed, so that a
    mail that showed it shows it still after the look moves on."""

    __tablename__ = "look_logos"

    key: str = Field(primary_key=True, max_length=64)
    content_type: str = Field(max_length=40)
    width: int
    height: int
    data: bytes = Field(sa_type=LargeBinary)
    created_at: datetime = when()
    created_by: str = Field(default="", max_length=400)
