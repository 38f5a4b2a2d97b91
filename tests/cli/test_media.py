"""`publisher media add | list | export` (publisher/cli/media.py), on SQLite: a picture kept
from a file with its words, a bad file one clear line and exit 2, the export for nginx."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.pictures import picture
from tests.processes import cli

pytestmark = pytest.mark.slow  # runs the command in processes


def test_add_list_and_export(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'site.db'}"
    photo = tmp_path / "boats.jpg"
    photo.write_bytes(picture(1000, 600))
    added = cli(tmp_path, url, "media", "add", str(photo), "--alt", "Boats at the pier",
                "--credit", "Photo: Mei")  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert added.stdout.startswith("picture 1: 1000 x 600, http") and "-960.jpg" in added.stdout
    fake = tmp_path / "notes.jpg"
    fake.write_text("not a picture")
    refused = cli(tmp_path, url, "media", "add", str(fake), "--alt", "x")
    assert refused.returncode == 2 and refused.stderr.strip() == (
        "Error: this file is not a JPEG, PNG, WebP or GIF picture"
    )
    no_alt = cli(tmp_path, url, "media", "add", str(photo), "--alt", " ")
    assert no_alt.returncode == 2 and "alt text is required" in no_alt.stderr
    listed = cli(tmp_path, url, "media", "list")
    assert "Boats at the pier" in listed.stdout and listed.stdout.endswith("1 picture\n")
    out = tmp_path / "media"
    first = cli(tmp_path, url, "media", "export", str(out))
    assert first.returncode == 0 and first.stdout.startswith("6 written, 0 already there")
    assert sorted(p.suffix for p in out.iterdir()) == [".jpg"] * 3 + [".webp"] * 3
    again = cli(tmp_path, url, "media", "export", str(out))
    assert again.stdout.startswith("0 written, 6 already there")
