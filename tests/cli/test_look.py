"""`publisher look ...` as admins run it (a real process), on SQLite and PostgreSQL: show, set
with a logo, bad input refused with every problem and nothing saved, reset; each change in
the audit trail as the command line's user."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine

from publisher import store
from publisher.settings import Settings
from tests.pictures import png
from tests.support import SECRET


def look(tmp_path: Path, settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PUBLISHER_")} | {
        "PUBLISHER_DATABASE_URL": settings.database_url,
        "PUBLISHER_SECRET_KEY": SECRET,
        "PUBLISHER_VAR_DIR": str(tmp_path / "var"),
        "PUBLISHER_SCHEDULES": str(settings.schedules),
        "PUBLISHER_SITE_URL": "https://news.example.com",
    }
    return subprocess.run(
        [sys.executable, "-m", "publisher", "look", *args],
        cwd=tmp_path,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,  # a guard against a hung process only: a loaded machine is slow
    )


@pytest.mark.slow
def test_look_show_set_refuse_and_reset(tmp_path: Path, settings: Settings, engine: Engine) -> None:
    shown = look(tmp_path, settings, "show")
    assert shown.returncode == 0, shown.stderr
    assert "accent = #c8102e  (as set up)" in shown.stdout

    bad = look(tmp_path, settings, "set", "accent=#ffcc00", "sponsor_shown=on", "title=")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "accent: links in #ffcc00 on white have a contrast of 1.5:1" in bad.stderr
    assert "title: the words at the top cannot be empty" in bad.stderr
    assert "sponsor_name: the sponsor's name cannot be empty" in bad.stderr
    (tmp_path / "logo.pdf").write_bytes(b"%PDF-1.7")
    picture = look(tmp_path, settings, "set", "--logo", str(tmp_path / "logo.pdf"))
    assert picture.returncode == 2 and "the logo is not a picture" in picture.stderr
    with store.reading(engine) as session:
        assert store.look_chosen(session) == ({}, 0)  # nothing saved

    (tmp_path / "logo.png").write_bytes(png(480, 120))
    done = look(
        tmp_path,
        settings,
        "set",
        "accent=#0B5FFF",
        "tagline=",
        "--logo",
        str(tmp_path / "logo.png"),
    )
    assert done.returncode == 0, done.stderr
    assert "accent: #c8102e -> #0b5fff" in done.stdout and "tagline: " in done.stdout
    data = json.loads(look(tmp_path, settings, "show", "--json").stdout)
    assert data["accent"] == "#0b5fff" and data["tagline"] == "" and data["version"] == 1
    assert data["logo_url"].startswith("https://news.example.com/look/logo/")
    with store.reading(engine) as session:
        [entry] = store.audit_entries(session, kind="look")
    assert entry.actor.startswith("cli:") and entry.action == "look.change"

    reset = look(tmp_path, settings, "reset")
    assert reset.returncode == 0 and "back to the defaults" in reset.stdout
    with store.reading(engine) as session:
        assert store.look_chosen(session)[0] == {}
