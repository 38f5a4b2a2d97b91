"""The one Jinja2 environment, shared by pages, feeds' item HTML and email."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from pathlib import Path
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def make_environment(templates: Path = TEMPLATES, zone: tzinfo = UTC) -> Environment:
    """Autoescaping environment over ``templates/``; undefined names are errors, not blanks.
    The ``date`` filter shows times in ``zone`` (the site's time zone)."""

    def _date(value: datetime, fmt: str = "%d %b %Y, %H:%M") -> str:
        local = value.astimezone(zone)
        return f"{local.strftime(fmt)} {local.tzname()}"

    env = Environment(
        loader=FileSystemLoader(templates),
        autoescape=select_autoescape(["html", "xml", "xsl"], default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["date"] = _date
    env.filters["urlquote"] = lambda value: quote(str(value), safe="")
    return env
