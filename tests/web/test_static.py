"""The stylesheets we serve parse cleanly (a merge once dropped a closing brace, and every rule
after it silently stopped applying)."""

from __future__ import annotations

import logging
from pathlib import Path

import cssutils
import pytest

STATIC = Path(__file__).resolve().parents[2] / "templates" / "static"


@pytest.mark.parametrize("name", ["admin.css", "site.css"])
def test_a_stylesheet_parses_without_errors(name: str) -> None:
    text = (STATIC / name).read_text()
    assert text.count("{") == text.count("}"), f"{name}: unbalanced braces"
    problems: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.levelno >= logging.ERROR:
                problems.append(record.getMessage())

    log = logging.getLogger("cssutils-test")
    log.addHandler(Collect())
    log.propagate = False
    parser = cssutils.CSSParser(log=log, loglevel=logging.ERROR, validate=False)
    sheet = parser.parseString(text)
    assert not problems, problems
    assert len(sheet.cssRules) > 10
