"""`publisher users ...` as users run it (a real process), and the first-run link that
`publisher run` prints."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine

from publisher.daemon import process
from publisher.daemon.process import first_admin
from publisher.newsroom import staff
from publisher.settings import (
    Settings,
    load_settings,
    record_served_url,
    site_url_of,
    with_site_url,
)
from publisher.tokens import Signer
from tests.newsroom import PASSWORD
from tests.support import NOW, SECRET, make_settings


def users(
    tmp_path: Path, database_url: str, *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PUBLISHER_")} | {
        "PUBLISHER_DATABASE_URL": database_url,
        "PUBLISHER_SECRET_KEY": SECRET,
        "PUBLISHER_VAR_DIR": str(tmp_path / "var"),
        "PUBLISHER_SITE_URL": "https://news.example.com",
    }
    return subprocess.run(
        [sys.executable, "-m", "publisher", "users", *args],
        cwd=tmp_path,
        env=environ,
        input=stdin,  # a pipe: no terminal, so no prompt
        capture_output=True,
        text=True,
        timeout=300,  # a guard against a hung process only: a loaded machine is slow
    )


@pytest.mark.slow
def test_users_add_list_reset_remove(tmp_path: Path, database_url: str, engine: Engine) -> None:
    added = users(
        tmp_path,
        database_url,
        "add",
        "Chief@Example.com",
        "--role",
        "admin",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert added.returncode == 0, added.stderr
    assert "added chief@example.com (admin)" in added.stdout and PASSWORD not in added.stdout
    assert staff.authenticate(engine, "chief@example.com", PASSWORD, now=NOW).role == "admin"

    linked = users(tmp_path, database_url, "add", "ed@example.com")
    assert linked.returncode == 0, linked.stderr
    assert "https://news.example.com/admin/welcome/" in linked.stdout

    short = users(
        tmp_path, database_url, "add", "x@example.com", "--password-stdin", stdin="short\n"
    )
    assert short.returncode == 2 and "at least 10 characters" in short.stderr
    assert "Traceback" not in short.stderr
    assert [p.email for p in staff.people(engine)] == ["chief@example.com", "ed@example.com"]
    bad_role = users(tmp_path, database_url, "add", "y@example.com", "--role", "root")
    assert bad_role.returncode == 2 and "editor or admin" in bad_role.stderr

    listed = users(tmp_path, database_url, "list")
    assert listed.returncode == 0
    assert "chief@example.com" in listed.stdout and "no password yet" in listed.stdout
    assert "signed in: never" in listed.stdout and "times in Asia/Singapore" in listed.stdout
    assert "\n2 person(s); times in Asia/Singapore" in listed.stdout

    reset = users(tmp_path, database_url, "reset-password", "chief@example.com")
    assert reset.returncode == 0 and "/admin/welcome/" in reset.stdout
    last = users(tmp_path, database_url, "remove", "chief@example.com")
    assert last.returncode == 2 and "only admin" in last.stderr
    removed = users(tmp_path, database_url, "remove", "ed@example.com")
    assert removed.returncode == 0 and "removed ed@example.com" in removed.stdout
    missing = users(tmp_path, database_url, "remove", "ed@example.com")
    assert missing.returncode == 1 and "nobody signs in as ed@example.com" in missing.stderr


def test_run_prints_a_first_run_link_while_nobody_can_sign_in(
    engine: Engine, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    first_admin(engine, settings)
    first_admin(engine, settings)  # a second daemon starting: still one first admin
    assert [p.email for p in staff.people(engine)] == [""]
    out = capsys.readouterr().out.split("\n\n\n")[-1]  # the link printed last works
    assert "Nobody can sign in to the newsroom yet" in out
    assert "https://news.example.com/admin/welcome/" in out
    link = out.split("    ", 1)[1].split()[0]
    signer_token = link.rsplit("/", 1)[1]
    staff.set_password(
        engine,
        Signer.of(settings.secret_key),
        signer_token,
        PASSWORD,
        email="chief@example.com",
        now=NOW,
    )
    first_admin(engine, settings)
    assert capsys.readouterr().out == ""  # someone can sign in now: nothing printed


def test_the_site_url_is_where_the_daemon_listens_when_no_site_url_is_set(
    engine: Engine, tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    unset = load_settings(
        {
            "PUBLISHER_DATABASE_URL": database_url,
            "PUBLISHER_SECRET_KEY": SECRET,
            "PUBLISHER_VAR_DIR": str(tmp_path / "var"),
        },
        env_file=None,
    )
    assert "site_url" not in unset.model_fields_set
    served = process.site_url(unset, process.Options(actor="test", host="0.0.0.0", port=8080))
    assert served.url == "http://127.0.0.1:8080" and "PUBLISHER_SITE_URL" in served.line()
    first_admin(engine, with_site_url(unset, served))
    assert "    http://127.0.0.1:8080/admin/welcome/" in capsys.readouterr().out
    # The commands run beside it read where it last listened; without a record, the default.
    assert site_url_of(unset).url == "http://127.0.0.1:8000"
    record_served_url(unset, served.url)
    assert site_url_of(unset).url == "http://127.0.0.1:8080"
    assert "last listened" in site_url_of(unset).source
    no_web = process.Options(actor="test", port=9999, web=False)
    assert process.site_url(unset, no_web).url == "http://127.0.0.1:8080"
    # With PUBLISHER_SITE_URL set, the links are the site's, wherever this daemon listens.
    named = make_settings(
        tmp_path, PUBLISHER_DATABASE_URL=database_url, PUBLISHER_SITE_URL="https://news.example.com"
    )
    site = process.site_url(named, process.Options(actor="test", port=8080))
    assert site.url == "https://news.example.com" and site.source == "PUBLISHER_SITE_URL"
