"""Validate feed bytes with real, external validators, for the tests.

- Atom: Debian's ``jing`` with the RELAX NG schema of RFC 4287 Appendix B
  (``tests/schemas/atom.rnc``), plus that schema's two embedded Schematron rules, which jing
  ignores (they are annotations), checked here on the parsed document.
- JSON Feed 1.1: ``jsonschema`` with format checking of ``date-time`` (needs rfc3339-validator)
  and ``uri`` (needs rfc3986-validator or rfc3987).
- RSS and Atom as a reader sees them: the npm package ``rss-parser``, run by node
  (``tests/node/parse-feed.js``; install it with ``npm ci --prefix tests/node``).

A missing tool skips the calling test, except under CI=true, where it fails it.
"""

# tests/schemas/jsonfeed-1.1.schema.json is schema-v1.1.json of the npm package
# jsonfeed-schema 0.5.0: ISC License, Copyright (c) 2017-2018, 2020, Jakob Krigovsky.

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import NoReturn

import pytest
from jsonschema import Draft7Validator

HERE = Path(__file__).resolve().parent
ATOM_RNC = HERE / "schemas" / "atom.rnc"
JSONFEED_SCHEMA = HERE / "schemas" / "jsonfeed-1.1.schema.json"
NODE_DIR = HERE / "node"
ATOM = "{http://www.w3.org/2005/Atom}"


def _missing(what: str) -> NoReturn:
    """Skip the test, or fail it under CI=true, where every validator must be installed."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} (CI=true, so this is an error: see .ci/system-deps)", pytrace=False)
    pytest.skip(what)


def validate_atom(xml: bytes) -> list[str]:
    """Errors of an Atom document against RFC 4287's schema; empty when it is valid."""
    jing = shutil.which("jing")
    if jing is None:
        _missing("jing is not installed (Debian package jing)")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "feed.xml"
        path.write_bytes(xml)
        proc = subprocess.run(
            [jing, "-c", str(ATOM_RNC), str(path)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    # jing prints "FILE:LINE:COLUMN: error: MESSAGE" on stdout; its stderr only has warnings
    # of Debian's wrapper script (optional jars not found).
    errors = [line.removeprefix(f"{path}:") for line in proc.stdout.splitlines() if line.strip()]
    if proc.returncode != 0 and not errors:
        raise AssertionError(f"jing failed (exit {proc.returncode}):\n{proc.stderr}")
    if not errors:
        errors = _atom_schematron_rules(ET.fromstring(xml))
    return errors


def _atom_schematron_rules(root: ET.Element) -> list[str]:
    """The s:rule annotations of RFC 4287's atomFeed and atomEntry patterns."""
    errors: list[str] = []
    feed_author = root.tag == f"{ATOM}feed" and root.find(f"{ATOM}author") is not None
    entries = [root] if root.tag == f"{ATOM}entry" else root.findall(f"{ATOM}entry")
    if (
        root.tag == f"{ATOM}feed"
        and not feed_author
        and any(entry.find(f"{ATOM}author") is None for entry in entries)
    ):
        errors.append(
            "feed: An atom:feed must have an atom:author unless all "
            "of its atom:entry children have an atom:author."
        )
    for number, entry in enumerate(entries, start=1):
        links = entry.findall(f"{ATOM}link")
        if entry.find(f"{ATOM}content") is None and not any(
            link.get("rel", "alternate") == "alternate" for link in links
        ):
            errors.append(
                f"entry {number}: An atom:entry must have at least one atom:link element "
                "with a rel attribute of 'alternate' or an atom:content."
            )
        if not (
            feed_author
            or entry.find(f"{ATOM}author") is not None
            or entry.find(f"{ATOM}source/{ATOM}author") is not None
        ):
            errors.append(
                f"entry {number}: An atom:entry must have an atom:author if its feed does not."
            )
    return errors


def validate_jsonfeed(data: bytes) -> list[str]:
    """Errors of a JSON Feed against the JSON Feed 1.1 schema; empty when it is valid."""
    checker = Draft7Validator.FORMAT_CHECKER
    needed = {"date-time": "rfc3339-validator", "uri": "rfc3986-validator"}
    absent = [package for fmt, package in needed.items() if fmt not in checker.checkers]
    if absent:
        _missing(f"jsonschema cannot check formats without the PyPI packages {absent}")
    try:
        document = json.loads(data)
    except ValueError as exc:
        return [f"not JSON: {exc}"]
    schema = json.loads(JSONFEED_SCHEMA.read_text(encoding="utf-8"))
    validator = Draft7Validator(schema, format_checker=checker)
    errors = sorted(validator.iter_errors(document), key=lambda error: error.json_path)
    return [f"{error.json_path}: {error.message}" for error in errors]


def parse_with_node(xml: bytes) -> dict[str, object]:
    """An RSS or Atom feed as rss-parser reads it.

    ``{"title": ..., "items": [{"title", "link", "guid", "id", "isoDate", "categories"}]}``,
    with None for what the feed lacks.
    """
    node = shutil.which("node")
    if node is None:
        _missing("node is not installed")
    if not (NODE_DIR / "node_modules" / "rss-parser").is_dir():
        _missing("rss-parser is not installed: run `npm ci --prefix tests/node`")
    proc = subprocess.run(
        [node, str(NODE_DIR / "parse-feed.js")],
        input=xml,
        capture_output=True,
        timeout=60,
        check=False,
    )
    if proc.returncode != 0:
        stderr = proc.stderr.decode("utf-8", errors="replace")
        raise AssertionError(f"rss-parser failed (exit {proc.returncode}):\n{stderr}")
    result = json.loads(proc.stdout)
    if not isinstance(result, dict):
        raise AssertionError(f"parse-feed.js printed no JSON object: {proc.stdout!r}")
    return result
