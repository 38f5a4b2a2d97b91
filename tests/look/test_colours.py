"""colours.py: colours read as admins type them, and WCAG 2.2 contrast on white."""

from __future__ import annotations

import pytest

from publisher.look.colours import AA_TEXT, contrast, darker_to, parse_colour


@pytest.mark.parametrize(
    ("typed", "read"),
    [("#C8102E", "#c8102e"), ("c8102e", "#c8102e"), (" #abc ", "#aabbcc"), ("#000", "#000000")],
)
def test_hex_colours_are_read_in_any_case_with_or_without_hash(typed: str, read: str) -> None:
    assert parse_colour(typed) == read


@pytest.mark.parametrize("typed", ["red", "#12345", "#ggg000", "rgb(0,0,0)", "", "#c8102e;x"])
def test_what_is_not_a_colour_is_refused_with_an_example(typed: str) -> None:
    with pytest.raises(ValueError, match="is not a colour: write it as # and six hex digits"):
        parse_colour(typed)


def test_contrast_matches_wcag_figures() -> None:
    assert contrast("#000000") == pytest.approx(21.0)
    assert contrast("#ffffff") == pytest.approx(1.0)
    # WebAIM's contrast checker: #767676 on white is 4.54:1 (the lightest grey that passes),
    # #777777 is 4.48:1; the product's red #c8102e is 5.9:1.
    assert contrast("#767676") == pytest.approx(4.54, abs=0.01)
    assert contrast("#777777") < AA_TEXT <= contrast("#767676")
    assert contrast("#c8102e") == pytest.approx(5.9, abs=0.05)


def test_a_light_colour_gets_a_darker_shade_that_passes() -> None:
    suggested = darker_to("#ffcc00")
    assert contrast("#ffcc00") < AA_TEXT <= contrast(suggested)
    assert darker_to("#c8102e") == "#c8102e"  # already dark enough
