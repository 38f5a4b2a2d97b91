"""`publisher media ...`: the site's pictures: add one, list them, export them for nginx or a
CDN."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from publisher.cli.common import actor, context, utc_now
from publisher.content import printable
from publisher.errors import InputError
from publisher.media import export, library

__all__ = ["media_add", "media_app", "media_export", "media_list"]

media_app = typer.Typer(help="The site's own pictures.", no_args_is_help=True)


@media_app.command("add")
def media_add(
    path: Path,
    alt: Annotated[str, typer.Option("--alt", help="What the picture shows (required).")],
    caption: Annotated[str, typer.Option(help="Shown under the picture.")] = "",
    credit: Annotated[str, typer.Option(help="Who made it.")] = "",
) -> None:
    """Keep a JPEG, PNG, WebP or GIF picture in the library; prints its number and address."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror}") from None
    with context() as (settings, engine):
        kept = library.keep(engine, settings, data, alt=alt, caption=caption, credit=credit,
                            actor=actor(), now=utc_now())  # fmt: skip
        print(f"picture {kept.id}: {kept.width} x {kept.height}, {library.url(settings, kept)}")


@media_app.command("list")
def media_list(
    search: Annotated[str, typer.Option("--search", help="In alt text, captions, credits.")] = "",
) -> None:
    """The library's pictures, newest first (the latest 200)."""
    with context() as (_settings, engine):
        found, total = library.find(engine, search, offset=0, limit=200)
    for p in found:
        print(f"{p.id:>6} {p.width:>5} x {p.height:<5} {printable(p.alt or '(no alt text)')}")
    print(f"{total} picture{'s' if total != 1 else ''}")


@media_app.command("export")
def media_export(out: Path) -> None:
    """Write every rendition into OUT under its own name (only those not there yet)."""
    with context() as (_settings, engine):
        written, there = export.export(engine, out)
    print(f"{written} written, {there} already there: {out}")
