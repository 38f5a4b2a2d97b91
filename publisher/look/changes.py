"""An admin's change to the look: every field checked (a colour that is not one, an accent
too light for links on white, a link that is not a web address...), stored only when all are
right, and recorded in the audit trail with what changed; a logo upload checked and kept."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Engine

from publisher import store
from publisher.content import one_line
from publisher.errors import InputError
from publisher.look.colours import AA_TEXT, contrast, darker_to, parse_colour
from publisher.look.logo import logo_file
from publisher.look.values import FIELDS, Look, defaults, look_of, read_look
from publisher.schedules import BrandStudio
from publisher.settings import Settings

__all__ = [
    "ACTION",
    "KIND",
    "LIMITS",
    "Checked",
    "change",
    "check",
    "keep_logo",
    "reset",
    "save",
]

KIND = "look"  # the audit trail's subject kind
ACTION = "look.change"
LIMITS = {
    "title": 100,
    "tagline": 200,
    "postal_address": 300,
    "reason": 300,
    "studio_label": 60,
    "studio_heading": 200,
    "studio_text": 800,
    "studio_url": 500,
    "sponsor_label": 60,
    "sponsor_name": 100,
    "sponsor_text": 500,
    "sponsor_url": 500,
}
SWITCHES = ("studio_shown", "sponsor_shown")
# What must be filled in, and when: always, or while its block is shown.
REQUIRED = {
    "title": "",
    "reason": "",
    "studio_heading": "studio_shown",
    "studio_url": "studio_shown",
    "sponsor_name": "sponsor_shown",
    "sponsor_url": "sponsor_shown",
}
NAMES = {
    "title": "the words at the top",
    "reason": "why readers get it",
    "studio_heading": "the Brand Studio's heading",
    "studio_url": "the Brand Studio's link",
    "sponsor_name": "the sponsor's name",
    "sponsor_url": "the sponsor's link",
}


@dataclass(frozen=True)
class Checked:
    """A look as typed: every field's value, and what is wrong, by field."""

    values: dict[str, Any]
    errors: dict[str, str]


def _web_address(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{value[:60]!r} is not a web address: write it whole, such as https://example.com/"
    return ""


def check(form: Mapping[str, Any]) -> Checked:
    """The look ``form`` gives (text by field name; a switch is on when present), checked."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name in SWITCHES:
        values[name] = bool(form.get(name))
    for name, limit in LIMITS.items():
        value = one_line(str(form.get(name, "")))
        values[name] = value
        if len(value) > limit:
            errors[name] = f"at most {limit} characters (this is {len(value)})"
    values["logo"] = one_line(str(form.get("logo", "")))[:64]
    try:
        values["accent"] = parse_colour(str(form.get("accent", "")))
        ratio = contrast(values["accent"])
        if ratio < AA_TEXT:
            errors["accent"] = (
                f"links in {values['accent']} on white have a contrast of {ratio:.1f}:1; "
                f"readers need at least {AA_TEXT}:1 (WCAG AA) to read them: try "
                f"{darker_to(values['accent'])}, a darker shade of it"
            )
    except ValueError as exc:
        values["accent"] = one_line(str(form.get("accent", "")))[:40]
        errors["accent"] = str(exc)
    for name, switch in REQUIRED.items():
        if name not in errors and not values[name] and (not switch or values[switch]):
            errors[name] = f"{NAMES[name]} cannot be empty"
    for name in ("studio_url", "sponsor_url"):
        if name not in errors and values[name]:
            problem = _web_address(values[name])
            if problem:
                errors[name] = problem
    return Checked({name: values[name] for name in FIELDS}, errors)


def save(
    engine: Engine,
    settings: Settings,
    studio: BrandStudio,
    values: Mapping[str, Any],
    *,
    version: int,
    actor: str,
    now: datetime,
) -> Look:
    """``values`` (checked) made the look, if the look is still at ``version`` (else an
    InputError: someone changed it since the form was opened); in the audit trail."""
    base = defaults(settings, studio)
    chosen = {k: values[k] for k in FIELDS if k in values and values[k] != base[k]}
    with store.writing(engine) as session:
        before, found = store.lock_look(session, now=now)
        if found != version:
            raise InputError(
                "someone changed the look since this page was opened: look at it again "
                "(your changes are still in the form) and save once more"
            )
        logo = None
        if chosen.get("logo"):
            logo = store.look_logo(session, chosen["logo"], with_data=False)
            if logo is None:
                raise InputError("that logo is not kept here: upload it again")
        return _stored(session, settings, studio, before, chosen, logo, version, actor, now)


def reset(
    engine: Engine, settings: Settings, studio: BrandStudio, *, actor: str, now: datetime
) -> Look:
    """The look back to its defaults (the settings and schedules.yaml), in the audit trail."""
    with store.writing(engine) as session:
        before, version = store.lock_look(session, now=now)
        return _stored(session, settings, studio, before, {}, None, version, actor, now)


def _stored(
    session: Any,
    settings: Settings,
    studio: BrandStudio,
    before: dict[str, Any],
    chosen: dict[str, Any],
    logo: store.LogoFile | None,
    version: int,
    actor: str,
    now: datetime,
) -> Look:
    old_logo = store.look_logo(session, str(before.get("logo", "")), with_data=False)
    old = look_of(settings, studio, before, old_logo)
    new = look_of(settings, studio, chosen, logo)
    if chosen == before:
        return new
    store.set_look(session, chosen, version=version + 1, actor=actor, now=now)
    store.record(
        session,
        actor=actor,
        action=ACTION,
        kind=KIND,
        subject_id=None,
        label="the digest's look",
        before=dict(old.values),
        after=dict(new.values),
        now=now,
    )
    return new


def change(
    engine: Engine,
    settings: Settings,
    studio: BrandStudio,
    given: Mapping[str, Any],
    *,
    logo: bytes | None = None,
    actor: str,
    now: datetime,
) -> tuple[Look, Look]:
    """The look with the fields ``given`` changed (the others as they are; a switch given as
    a bool or as the form's "on"), and ``logo`` (bytes) made its logo if given: every problem
    in one InputError, nothing saved. The look (before, after)."""
    with store.reading(engine) as session:
        before, version = read_look(session, settings, studio)
    unknown = sorted(set(given) - set(FIELDS))
    if unknown:
        raise InputError(f"unknown field {unknown[0]!r} (known: {', '.join(FIELDS)})")
    form = {**before.values, **given}
    form = {k: ("on" if v else "") if isinstance(v, bool) else v for k, v in form.items()}
    checked = check(form)
    problems = [f"{name}: {message}" for name, message in checked.errors.items()]
    kept = None
    if logo is not None:
        try:
            kept = logo_file(logo)
        except InputError as exc:
            problems.append(f"logo: {exc.message}")
    if problems:
        raise InputError(problems[0], details=problems[1:])
    values = checked.values
    if kept is not None:
        keep_logo(engine, kept.data, actor=actor, now=now)
        values = {**values, "logo": kept.key}
    after = save(engine, settings, studio, values, version=version, actor=actor, now=now)
    return before, after


def keep_logo(engine: Engine, data: bytes, *, actor: str, now: datetime) -> store.LogoFile:
    """An uploaded logo checked to be a picture mail programs show (InputError saying why
    not) and kept; it is the look's once a change names it."""
    logo = logo_file(data)
    with store.writing(engine) as session:
        store.add_logo(session, logo, actor=actor, now=now)
    return logo
