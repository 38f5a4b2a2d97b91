"""The layering of STYLE.md: a module imports only from layers to its left."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "publisher"

# Within layer 1, the parsers (1.5) may use the plain values and text rules (1).
LAYERS = {
    "errors": 0,
    "settings": 1,
    "models": 1,
    "tokens": 1,
    "content": 1,
    "schedules": 1.5,
    "feed_items": 1.5,
    "articles": 1.5,
    "article_files": 1.6,
    "roster": 1.5,
    "passwords": 1,
    "otp": 1,
    "sealing": 1,
    "store": 2,
    "templating": 2,
    "feeds": 3,
    "digest": 3,
    "mailer": 3,
    "transports": 3.2,
    "bounces": 3,
    "links": 3,
    "websub": 3,
    "fetch": 3,
    "source_feeds": 3.1,
    "publish": 4,
    "syndication": 4,
    "editions": 4,
    "sources": 4.2,
    "inbox": 4.3,
    "community": 4,
    "members": 4,
    "subscriber_csv": 4,
    "newsroom": 4.6,
    "staff": 4,
    "twofactor": 4.1,
    "metrics": 4.3,
    "clicks": 4,
    "edition_stats": 4.2,
    "messages": 4.4,
    "sends": 4.45,
    "heartbeat": 4.4,
    "delivery": 4.5,
    "outbox": 4.5,
    "api": 4.8,
    "scheduler": 5,
    "web": 5,
    "cli": 5,
    "__main__": 6,
    "__init__": 0,
}
ENTRY_POINTS = {"scheduler", "web", "cli"}


def imports_of(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "publisher":
                found.update(alias.name for alias in node.names if not alias.name.startswith("__"))
            elif node.module.startswith("publisher."):
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found.update(
                a.name.split(".")[1] for a in node.names if a.name.startswith("publisher.")
            )
    return found


def module_files() -> list[tuple[str, Path]]:
    """(module, file) for every file; a package's files all count as the package."""
    found = [(p.stem, p) for p in PACKAGE.glob("*.py")]
    found += [(p.relative_to(PACKAGE).parts[0], p) for p in PACKAGE.glob("*/**/*.py")]
    return found


def test_every_module_has_a_layer() -> None:
    modules = {name for name, _ in module_files()}
    assert modules <= set(LAYERS), f"add {modules - set(LAYERS)} to LAYERS and the README"


def test_imports_only_go_left() -> None:
    wrong = []
    for me, path in module_files():
        for other in imports_of(path) - {me}:
            allowed = LAYERS[other] < LAYERS[me]
            if me == "cli" and other in ENTRY_POINTS - {"cli"}:
                allowed = True  # the CLI may start the web app and the scheduler
            elif me in ENTRY_POINTS and other in ENTRY_POINTS:
                allowed = False
            if not allowed:
                wrong.append(f"{me} imports {other}")
    assert wrong == []


def test_third_party_libraries_have_one_home() -> None:
    homes = {
        "feedgen": "feeds",
        "premailer": "digest",
        "smtplib": "transports",
        "nh3": "content",
        "markdown_it": "content",
        # The crontab parser checks schedules.yaml; the clock runs in the scheduler.
        "apscheduler": "schedules scheduler",
        "cssutils": "digest",
        "httpx": "websub fetch",
        "feedparser": "source_feeds",
        "lxml": "feeds",
        "prometheus_client": "metrics",
        "argon2": "passwords",
        "pyotp": "otp",
        "segno": "otp",
        "cryptography": "sealing",
    }
    wrong: list[str] = []
    for me, path in module_files():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module.split(".")[0]]
            wrong.extend(
                f"{me} imports {n}" for n in names if n in homes and me not in homes[n].split()
            )
    assert wrong == []
