"""The layering: a module imports only from layers below its own (ast-based), and each
third-party library has one home. A package's modules share its layer, unless the table gives
one of them its own; modules of one package may import each other."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.layers import LAYERS

PACKAGE = Path(__file__).resolve().parent.parent / "publisher"

# The entry points, and which other entry points each may import: the command line starts
# the daemon and the web app, the daemon starts the web app, the web side starts neither.
ENTRY_POINTS = {"web": set(), "daemon": {"web"}, "cli": {"daemon", "web"}}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def key_of(module: str) -> str:
    """The table's key for a module: the longest key that is the module or a package above it."""
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        key = ".".join(parts[:n])
        if key in LAYERS:
            return key
    raise KeyError(module)


def package_of(module: str) -> str:
    return module.split(".")[0]


def imports_of(path: Path) -> set[str]:
    """The publisher modules a file imports (``from publisher.x import y`` counts y if a module)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "publisher" or node.module.startswith("publisher."):
                base = node.module.removeprefix("publisher").lstrip(".")
                for alias in node.names:
                    dotted = f"{base}.{alias.name}" if base else alias.name
                    is_module = (PACKAGE / (dotted.replace(".", "/") + ".py")).exists() or (
                        PACKAGE / dotted.replace(".", "/")
                    ).is_dir()
                    found.add(dotted if is_module else base)
        elif isinstance(node, ast.Import):
            found.update(
                a.name.removeprefix("publisher.")
                for a in node.names
                if a.name.startswith("publisher.")
            )
    found.discard("")
    return found


def module_files() -> list[tuple[str, Path]]:
    return [(module_name(p), p) for p in sorted(PACKAGE.rglob("*.py"))]


def test_the_layers_are_integers() -> None:
    assert all(isinstance(layer, int) for layer in LAYERS.values())


def test_every_module_has_a_layer() -> None:
    missing = []
    for name, _ in module_files():
        try:
            key_of(name)
        except KeyError:
            missing.append(name)
    assert missing == [], f"add {missing} to LAYERS and the architecture page"


def test_only_entry_points_sit_outside_a_package() -> None:
    flat = sorted(p.stem for p in PACKAGE.glob("*.py"))
    assert flat == [
        "__init__",
        "__main__",
        "content",
        "errors",
        "languages",
        "schedules",
        "sealing",
        "settings",
        "templating",
        "tokens",
    ]


def test_imports_only_go_down() -> None:
    wrong = []
    for me, path in module_files():
        for other in imports_of(path):
            if package_of(other) == package_of(me):
                continue  # a package's modules may use each other
            mine, theirs = LAYERS[key_of(me)], LAYERS[key_of(other)]
            allowed = theirs < mine
            if package_of(me) in ENTRY_POINTS and package_of(other) in ENTRY_POINTS:
                allowed = allowed and package_of(other) in ENTRY_POINTS[package_of(me)]
            if not allowed:
                wrong.append(f"{me} imports {other}")
    assert wrong == []


def test_third_party_libraries_have_one_home() -> None:
    homes = {
        "feedgen": "syndication.formats",
        "premailer": "editions.compose",
        "smtplib": "mail.transports",
        "nh3": "content",
        "markdown_it": "content",
        # The crontab parser checks schedules.yaml; the clock runs in the scheduler.
        "apscheduler": "schedules daemon.scheduler",
        "cssutils": "editions.compose",
        # sources.egress: its network backend checks each address connected to; delivery.webhooks:
        # sending services' webhooks fetch SNS's signing certificates and check signatures.
        "httpx": "syndication.hub sources.fetch sources.egress delivery.webhooks",
        "httpcore": "sources.egress",
        "feedparser": "sources.parsing",
        "PIL": "media.images",
        "lxml": "syndication.formats",
        "prometheus_client": "delivery.metrics",
        "argon2": "newsroom.passwords",
        "pyotp": "newsroom.otp",
        "segno": "newsroom.otp",
        "cryptography": "sealing delivery.webhooks",
        "flufl": "mail.bounces",
        "imaplib": "mail.mailbox",
        "poplib": "mail.mailbox",
        "babel": "languages",
        "gettext": "languages",
    }
    wrong: list[str] = []
    for me, path in module_files():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module.split(".")[0]]
            wrong.extend(
                f"{me} imports {n}" for n in names if n in homes and me not in homes[n].split()
            )
    assert wrong == []
