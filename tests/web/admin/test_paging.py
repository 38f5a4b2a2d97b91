"""The newsroom lists' page: the number read from the address, the rows it skips, and the
pager's links to the neighbouring pages."""

from __future__ import annotations

import pytest

from publisher.web.admin.paging import Page


@pytest.mark.parametrize("given", ["", "0", "-3", "1.5", "abc", "²", "10000", "9" * 5000])
def test_what_is_not_a_page_is_none(given: str) -> None:
    assert Page.read(given, 48, most=9_999) is None


def test_a_page_skips_the_rows_of_the_pages_before_it() -> None:
    assert Page.read("1", 48, most=9_999) == Page(1, 48)
    assert Page.read("9999", 48, most=9_999) == Page(9_999, 48)
    assert Page(3, 50).offset == 100


def test_the_pager_links_only_to_pages_that_exist() -> None:
    def link(n: int) -> str:
        return f"?page={n}"

    assert Page(1, 50).links(50, link) == {"newer": "", "older": ""}
    assert Page(1, 50).links(51, link) == {"newer": "", "older": "?page=2"}
    assert Page(2, 50).links(120, link) == {"newer": "?page=1", "older": "?page=3"}
    assert Page(3, 50).links(120, link) == {"newer": "?page=2", "older": ""}
