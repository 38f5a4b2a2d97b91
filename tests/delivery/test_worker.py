"""The sending process's light entry point: `python -m publisher deliver` parses its own few
options and imports only the sending path; anything else goes to the full command line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from publisher.articles.publish import STARTER_SCHEDULES
from publisher.delivery.worker import Request, parse
from tests.processes import cli
from tests.support import SECRET


def test_parse_takes_deliver_and_its_options_only() -> None:
    assert parse(["deliver"]) == Request()
    assert parse(["deliver", "--once"]) == Request(once=True)
    assert parse(["deliver", "--processes", "3", "--once"]) == Request(once=True, processes=3)
    assert parse(["deliver", "--processes=2", "--parent", "41"]) == Request(processes=2, parent=41)
    # The full command line explains these (usage, help, range errors).
    for args in (
        [],
        ["run"],
        ["deliver", "--help"],
        ["deliver", "--processes", "0"],
        ["deliver", "--processes", "65"],
        ["deliver", "--processes", "two"],
        ["deliver", "--processes"],
        ["deliver", "--processes", "2", "--processes", "3"],
        ["deliver", "--loud"],
        ["digest", "deliver"],
    ):
        assert parse(args) is None, args


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_deliver_imports_only_the_sending_path(tmp_path: Path, database_url: str) -> None:
    (tmp_path / "schedules.yaml").write_text(STARTER_SCHEDULES)
    timetable = str(tmp_path / "schedules.yaml")
    done = run_python(tmp_path, database_url, timetable, "deliver", "--once")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().startswith("sent 0, failed 0")
    imported = set(re.findall(r"\|\s+([\w.]+)$", done.stderr, re.MULTILINE))
    assert "publisher.delivery.sending" in imported
    heavy = {"typer", "rich", "fastapi", "starlette", "premailer", "publisher.web", "argon2"}
    assert heavy & ({name.split(".")[0] for name in imported} | imported) == set()


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_what_the_light_path_does_not_parse_gets_the_full_command_line(
    tmp_path: Path, database_url: str
) -> None:
    (tmp_path / "schedules.yaml").write_text(STARTER_SCHEDULES)
    timetable = str(tmp_path / "schedules.yaml")
    wrong = cli(
        tmp_path, database_url, "deliver", "--processes", "0", PUBLISHER_SCHEDULES=timetable
    )
    assert wrong.returncode == 2
    assert "--processes" in wrong.stderr and "Traceback" not in wrong.stderr
    helped = cli(tmp_path, database_url, "deliver", "--help", PUBLISHER_SCHEDULES=timetable)
    assert helped.returncode == 0 and "--once" in helped.stdout
    missing = cli(tmp_path, database_url, "deliver", "--once", PUBLISHER_SCHEDULES="/nowhere.yaml")
    assert missing.returncode == 2
    assert missing.stderr.startswith("Error: /nowhere.yaml") and "Traceback" not in missing.stderr


def run_python(
    tmp_path: Path, database_url: str, timetable: str, *args: str
) -> subprocess.CompletedProcess[str]:
    """``python -X importtime -m publisher ARGS`` with the test settings."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PUBLISHER_")} | {
        "PUBLISHER_DATABASE_URL": database_url,
        "PUBLISHER_SECRET_KEY": SECRET,
        "PUBLISHER_VAR_DIR": str(tmp_path / "var"),
        "PUBLISHER_SCHEDULES": timetable,
    }
    return subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "publisher", *args],
        cwd=tmp_path,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
