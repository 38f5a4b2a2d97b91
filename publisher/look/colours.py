"""Colours as an admin types them, and their contrast on white by WCAG 2.2's formulas
(relative luminance and contrast ratio, https://www.w3.org/TR/WCAG22/#dfn-contrast-ratio)."""

from __future__ import annotations

import re

__all__ = ["AA_TEXT", "WHITE", "contrast", "darker_to", "parse_colour"]

AA_TEXT = 4.5  # WCAG AA for text of normal size, links included (success criterion 1.4.3)
WHITE = "#ffffff"
_HEX = re.compile(r"#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})")


def parse_colour(text: str) -> str:
    """``text`` as ``#rrggbb`` (``#RGB``, ``#RRGGBB`` or the same without ``#``, any case);
    ValueError when it is not a colour written so."""
    found = _HEX.fullmatch(text.strip())
    if found is None:
        raise ValueError(
            f"{text.strip()[:40]!r} is not a colour: write it as # and six hex digits, such "
            "as #c8102e"
        )
    digits = found[1].lower()
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    return "#" + digits


def _channels(colour: str) -> tuple[int, int, int]:
    value = int(colour[1:], 16)
    return value >> 16, (value >> 8) & 0xFF, value & 0xFF


def _luminance(colour: str) -> float:
    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in _channels(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(first: str, second: str = WHITE) -> float:
    """The contrast ratio of two ``#rrggbb`` colours, from 1 to 21."""
    lighter, darker = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def darker_to(colour: str, ratio: float = AA_TEXT) -> str:
    """The same hue made darker until it has ``ratio`` against white (a suggestion)."""
    r, g, b = _channels(colour)
    for step in range(100, -1, -1):
        shade = "#{:02x}{:02x}{:02x}".format(*(c * step // 100 for c in (r, g, b)))
        if contrast(shade) >= ratio:
            return shade
    return "#000000"
