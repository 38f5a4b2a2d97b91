"""changes.py and values.py over the store, on SQLite and PostgreSQL: an admin's look saved
over the defaults, each change in the audit trail with what changed, a form from before
another admin's change refused, bad input saving nothing, logos kept by their hash."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from publisher import store
from publisher.errors import InputError
from publisher.look import changes
from publisher.look.values import DEFAULT_ACCENT, current, defaults
from publisher.models import AuditEntry
from publisher.schedules import load_timetable
from publisher.settings import Settings
from tests.pictures import png
from tests.support import NOW


def _form(settings: Settings, **over: Any) -> dict[str, Any]:
    studio = load_timetable(settings.schedules).brand_studio
    form = {k: v for k, v in defaults(settings, studio).items() if not isinstance(v, bool)}
    form["studio_shown"] = "on"
    return {**form, **over}


def _entries(engine: Engine) -> list[AuditEntry]:
    with store.reading(engine) as session:
        return store.audit_entries(session, kind=changes.KIND)


def test_a_new_site_has_the_settings_look(engine: Engine, settings: Settings) -> None:
    studio = load_timetable(settings.schedules).brand_studio
    look = current(engine, settings, studio)
    assert look.accent == DEFAULT_ACCENT and look.logo is None and look.sponsor is None
    assert (look.title, look.tagline) == (settings.site_title, settings.site_tagline)
    assert look.studio == studio
    assert look.reason_for("Daily") == (
        f'You are receiving "Daily" because you joined the {settings.site_title} community.'
    )


def test_a_change_is_saved_over_the_defaults_and_audited(
    engine: Engine, settings: Settings
) -> None:
    studio = load_timetable(settings.schedules).brand_studio
    logo = changes.keep_logo(engine, png(480, 120), actor="chief@example.com", now=NOW)
    typed = _form(
        settings,
        accent="#0B5FFF",
        logo=logo.key,
        tagline="",
        sponsor_shown="on",
        sponsor_name="Harbour Bank",
        sponsor_url="https://bank.example.com/",
    )
    checked = changes.check(typed)
    assert checked.errors == {}
    look = changes.save(
        engine, settings, studio, checked.values, version=0, actor="chief@example.com", now=NOW
    )
    assert look.accent == "#0b5fff" and look.tagline == ""
    assert look.logo is not None and (look.logo.width, look.logo.height) == (240, 60)
    assert look.logo.url == f"{settings.site_url}/look/logo/{logo.key}.png"
    assert look.sponsor is not None and look.sponsor.name == "Harbour Bank"
    assert current(engine, settings, studio) == look
    with store.reading(engine) as session:
        chosen, version = store.look_chosen(session)
    # Only what differs from the defaults is kept: the rest follows the settings.
    assert set(chosen) == {
        "accent",
        "logo",
        "tagline",
        "sponsor_shown",
        "sponsor_name",
        "sponsor_url",
    }
    assert version == 1
    [entry] = _entries(engine)
    assert (entry.actor, entry.action) == ("chief@example.com", "look.change")
    assert json.loads(entry.before)["accent"] == DEFAULT_ACCENT
    after = json.loads(entry.after)
    assert after["accent"] == "#0b5fff" and after["logo"] == logo.key
    assert "title" not in after  # unchanged fields are not in the entry

    # The same values again change nothing and record nothing.
    changes.save(engine, settings, studio, checked.values, version=1, actor="x", now=NOW)
    assert len(_entries(engine)) == 1

    changes.reset(engine, settings, studio, actor="chief@example.com", now=NOW + timedelta(1))
    assert current(engine, settings, studio).accent == DEFAULT_ACCENT
    assert len(_entries(engine)) == 2
    # The logo stays kept: a mail that showed it shows it still.
    with store.reading(engine) as session:
        kept = store.look_logo(session, logo.key)
    assert kept is not None and kept.data == png(480, 120)


def test_a_form_from_before_another_change_is_refused(engine: Engine, settings: Settings) -> None:
    studio = load_timetable(settings.schedules).brand_studio
    first = changes.check(_form(settings, accent="#1a7f37")).values
    changes.save(engine, settings, studio, first, version=0, actor="a@example.com", now=NOW)
    second = changes.check(_form(settings, accent="#6f42c1")).values
    with pytest.raises(InputError, match="someone changed the look since this page was opened"):
        changes.save(engine, settings, studio, second, version=0, actor="b@example.com", now=NOW)
    assert current(engine, settings, studio).accent == "#1a7f37"
    assert len(_entries(engine)) == 1


def test_a_logo_not_kept_is_refused(engine: Engine, settings: Settings) -> None:
    studio = load_timetable(settings.schedules).brand_studio
    values = changes.check(_form(settings, logo="ab" * 32)).values
    with pytest.raises(InputError, match="that logo is not kept here"):
        changes.save(engine, settings, studio, values, version=0, actor="a", now=NOW)
    assert _entries(engine) == []


@pytest.mark.parametrize(
    ("over", "field", "said"),
    [
        ({"accent": "blue-ish"}, "accent", "is not a colour"),
        ({"accent": "#ffcc00"}, "accent", "contrast of 1.5:1; readers need at least 4.5:1"),
        ({"title": "  "}, "title", "the words at the top cannot be empty"),
        ({"reason": ""}, "reason", "why readers get it cannot be empty"),
        ({"studio_url": "studio.example.com"}, "studio_url", "is not a web address"),
        ({"studio_url": "javascript:alert(1)"}, "studio_url", "is not a web address"),
        (
            {"sponsor_shown": "on", "sponsor_url": "https://x.example/"},
            "sponsor_name",
            "the sponsor's name cannot be empty",
        ),
        ({"tagline": "x" * 201}, "tagline", "at most 200 characters"),
    ],
)
def test_bad_input_is_named_by_its_field(over: dict[str, str], field: str, said: str) -> None:
    checked = changes.check(
        {"title": "T", "reason": "R", "accent": "#c8102e", "studio_shown": "", **over}
    )
    assert said in checked.errors[field]
