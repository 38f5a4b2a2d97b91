"""One page of a newsroom list: its number as the address gives it, the rows it skips, and
the neighbouring pages' addresses that ``templates/admin/_pager.html`` links to."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Page"]


@dataclass(frozen=True)
class Page:
    """Page ``number`` (from 1) of a list shown ``size`` rows at a time."""

    number: int
    size: int

    @classmethod
    def read(cls, given: str, size: int, *, most: int) -> Page | None:
        """The page the address asks for; None when ``given`` is not a whole number from 1
        to ``most`` (its length checked first, so a huge one is never converted)."""
        if not given.isdecimal() or len(given) > len(str(most)) or not 0 < int(given) <= most:
            return None
        return cls(int(given), size)

    @property
    def offset(self) -> int:
        """How many rows the pages before this one show."""
        return (self.number - 1) * self.size

    def links(self, total: int, link: Callable[[int], str]) -> dict[str, str]:
        """The pager's ``newer`` and ``older`` for a list of ``total`` rows: ``link(n)``, the
        address of page n, or empty where there is no such page."""
        return {
            "newer": link(self.number - 1) if self.number > 1 else "",
            "older": link(self.number + 1) if self.number * self.size < total else "",
        }
