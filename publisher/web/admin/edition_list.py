"""The editions list (``/admin/editions``): its filters from the address, and one page of
editions with their delivery counts, those awaiting review on top."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from publisher import store
from publisher.editions import sends
from publisher.models import Edition
from publisher.schedules import Timetable
from publisher.web.application import Application

__all__ = ["STATUSES", "ListQuery", "Listing", "Row", "editions_page"]

PAGE = 25
MAX_PAGE = 10_000
STATUSES = (
    "awaiting_review", "pending", "ready", "sending", "paused", "sent", "cancelled",
    "skipped", "missed",
)  # fmt: skip


@dataclass(frozen=True)
class ListQuery:
    """The list's filters and page."""

    digest: str = ""
    status: str = ""
    page: int = 1

    @property
    def values(self) -> dict[str, str]:
        """The filters as the address carries them (empty ones left out)."""
        return {k: v for k, v in (("digest", self.digest), ("status", self.status)) if v}

    def page_link(self, page: int) -> str:
        """The address (relative to the list's) of page ``page`` with these filters."""
        return "?" + urlencode({**self.values, "page": page})

    @classmethod
    def parse(
        cls, raw: Mapping[str, str], timetable: Timetable
    ) -> tuple[ListQuery, dict[str, str]]:
        """The list's filters; each one that is not known is dropped and said why."""
        problems: dict[str, str] = {}
        digest, status, page = (raw.get(k, "") for k in ("digest", "status", "page"))
        if digest and digest not in timetable.digests:
            problems["digest"] = f"There is no digest {digest[:50]!r}: showing every digest."
            digest = ""
        if status and status not in STATUSES:
            problems["status"] = f"There is no status {status[:50]!r}: showing every status."
            status = ""
        number = 1
        if page:
            if page.isascii() and page.isdigit() and 0 < int(page) <= MAX_PAGE:
                number = int(page)
            else:
                problems["page"] = f"There is no page {page[:20]!r}: showing the first."
        return cls(digest, status, number), problems


@dataclass(frozen=True)
class Row:
    """An edition on the list, with its deliveries counted by status."""

    edition: Edition
    sent: int
    failed: int
    owed: int  # pending, sending and retry
    cancelled: int
    total: int


@dataclass(frozen=True)
class Listing:
    """One page of the list."""

    awaiting: list[Edition]  # awaiting review, soonest deadline first
    rows: list[Row]
    page: int
    following: bool  # there is an older page


def _row(edition: Edition, counts: Mapping[str, int]) -> Row:
    return Row(
        edition,
        counts.get("sent", 0),
        counts.get("failed", 0),
        sum(counts.get(s, 0) for s in store.OPEN_DELIVERY),
        counts.get("cancelled", 0),
        sum(counts.values()),
    )


def editions_page(app: Application, query: ListQuery, *, now: datetime) -> Listing:
    """One page of editions, newest first, and every edition awaiting review."""
    start = (query.page - 1) * PAGE
    with store.reading(app.engine) as db:
        found = store.edition_list(
            db,
            digest=query.digest or None,
            statuses=[query.status] if query.status else (),
            limit=start + PAGE + 1,
        )
        shown = found[start : start + PAGE]
        counts = store.delivery_counts(db, [e.id or 0 for e in shown])
    return Listing(
        sends.pending_review(app.engine, now),
        [_row(e, counts.get(e.id or 0, {})) for e in shown],
        query.page,
        len(found) > start + PAGE,
    )
