"""The site's icon: the first letter of its title, white on the site's red, as an SVG made
from the settings (``/favicon.svg``, which every page links, and ``/favicon.ico``, where
browsers and feed readers look unasked), so no request for it ends in a 404."""

from __future__ import annotations

from functools import cache
from xml.sax.saxutils import escape

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from publisher.web.application import Application, application

__all__ = ["ICON_MAX_AGE", "icon_svg", "router"]

ICON_MAX_AGE = 86400
ACCENT = "#c8102e"  # --accent in templates/static/site.css

router = APIRouter()


@cache
def icon_svg(title: str) -> bytes:
    """The icon for a site called ``title``: its first letter or digit ("N" if it has none)."""
    initial = next((c for c in title if c.isalnum()), "N").upper()
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">'
        f'<rect width="64" height="64" rx="12" fill="{ACCENT}"/>'
        '<text x="32" y="32" dy=".35em" text-anchor="middle" fill="#fff" '
        'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif" '
        f'font-size="40" font-weight="700">{escape(initial)}</text></svg>'
    ).encode()


def _icon(app: Application) -> Response:
    return Response(
        icon_svg(app.settings.site_title),
        media_type="image/svg+xml",
        headers={"cache-control": f"public, max-age={ICON_MAX_AGE}"},
    )


@router.get("/favicon.svg", include_in_schema=False)
def favicon_svg(app: Application = Depends(application)) -> Response:
    """The icon the pages link."""
    return _icon(app)


@router.get("/favicon.ico", include_in_schema=False)
def favicon_ico(app: Application = Depends(application)) -> Response:
    """The same icon where browsers look for one unasked (they read an SVG there too)."""
    return _icon(app)
