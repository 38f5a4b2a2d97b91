"""`publisher look ...`: the digest's look, as the newsroom's Look page sets it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from publisher import store
from publisher.cli.common import actor, context, utc_now
from publisher.errors import InputError
from publisher.look import changes
from publisher.look.logo import MAX_BYTES
from publisher.look.values import FIELDS, defaults, read_look
from publisher.schedules import load_timetable

__all__ = ["look_app", "look_reset", "look_set", "look_show"]

look_app = typer.Typer(
    help="The digest's look: logo, accent colour, header, footer, Brand Studio and sponsor "
    "blocks (also the newsroom's Look page).",
    no_args_is_help=True,
)
SWITCH_WORDS = {"on": True, "yes": True, "true": True, "off": False, "no": False, "false": False}


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


@look_app.command("show")
def look_show(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """Every field of the look in force, and whether it is an admin's or as set up."""
    with context() as (settings, engine):
        studio = load_timetable(settings.schedules).brand_studio
        with store.reading(engine) as session:
            look, version = read_look(session, settings, studio)
    base = defaults(settings, studio)
    if as_json:
        logo = look.logo.url if look.logo else ""
        print(json.dumps({**look.values, "logo_url": logo, "version": version}, indent=2))
        return
    for name in FIELDS:
        mark = "" if look.values[name] != base[name] else "  (as set up)"
        print(f"{name} = {_shown(look.values[name])}{mark}")
    if look.logo is not None:
        print(f"logo_url = {look.logo.url} ({look.logo.width} x {look.logo.height} in mail)")


def _assigned(pairs: list[str]) -> dict[str, Any]:
    """Each FIELD=VALUE of ``pairs``, a switch's on or off as a bool."""
    given: dict[str, Any] = {}
    for pair in pairs:
        name, sign, value = pair.partition("=")
        if not sign or name not in FIELDS or name == "logo":
            raise InputError(
                f"{pair[:60]!r}: write FIELD=VALUE, FIELD one of "
                f"{', '.join(f for f in FIELDS if f != 'logo')} (the logo: --logo FILE)"
            )
        if name.endswith("_shown"):
            if value.lower() not in SWITCH_WORDS:
                raise InputError(f"{name}: on or off, not {value[:20]!r}")
            given[name] = SWITCH_WORDS[value.lower()]
        else:
            given[name] = value
    return given


@look_app.command("set")
def look_set(
    pairs: Annotated[
        list[str] | None,
        typer.Argument(help="FIELD=VALUE ...: accent=#0b5fff, tagline=, sponsor_shown=on ..."),
    ] = None,
    logo: Annotated[
        Path | None, typer.Option("--logo", help="A PNG, JPEG or GIF file: the new logo.")
    ] = None,
    no_logo: Annotated[bool, typer.Option("--no-logo", help="No logo: the words instead.")] = False,
) -> None:
    """Change fields of the look, all checked before anything is saved; in the audit trail."""
    given = _assigned(pairs or [])
    if no_logo:
        given["logo"] = ""
    data = None
    if logo is not None:
        try:
            data = logo.read_bytes()[: MAX_BYTES + 1]
        except OSError as exc:
            raise InputError(f"{logo}: {exc.strerror or exc}") from None
    with context() as (settings, engine):
        studio = load_timetable(settings.schedules).brand_studio
        old, new = changes.change(
            engine, settings, studio, given, logo=data, actor=actor(), now=utc_now()
        )
    before, after = store.changes(dict(old.values), dict(new.values))
    if not after:
        print("nothing changed")
    for name in after:
        print(f"{name}: {_shown(before.get(name, ''))} -> {_shown(after[name])}")


@look_app.command("reset")
def look_reset() -> None:
    """The look back to the settings' and schedules.yaml's (logos stay kept)."""
    with context() as (settings, engine):
        studio = load_timetable(settings.schedules).brand_studio
        changes.reset(engine, settings, studio, actor=actor(), now=utc_now())
    print("the look is back to the defaults")
