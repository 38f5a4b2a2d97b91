"""No private name crosses a module boundary (ast-based): nothing under ``publisher`` imports
``_name`` from another module or reaches ``module._name`` through a name it imported. What one
module needs from another is public there, and in its ``__all__``."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "publisher"


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_uses(path: Path, root: Path = PACKAGE) -> list[str]:
    """``from x import _name`` and ``imported._name`` in one file, as ``file:line: use``."""
    tree = ast.parse(path.read_text())
    imported: set[str] = set()
    found: list[str] = []
    where = path.relative_to(root.parent)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                imported.add(alias.asname or alias.name)
                if is_private(alias.name):
                    found.append(f"{where}:{node.lineno}: from {node.module} import {alias.name}")
        elif isinstance(node, ast.Import):
            imported.update(alias.asname or alias.name.split(".")[0] for alias in node.names)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and is_private(node.attr)
            and isinstance(node.value, ast.Name)
            and node.value.id in imported
        ):
            found.append(f"{where}:{node.lineno}: {node.value.id}.{node.attr}")
    return found


def test_the_scan_finds_both_kinds(tmp_path: Path) -> None:
    root = tmp_path / "publisher"
    root.mkdir()
    path = root / "sample.py"
    path.write_text(
        "import hashlib\nfrom publisher.store.engine import _x\n\nhashlib._Hash\nself._y\n"
    )
    assert private_uses(path, root) == [
        "publisher/sample.py:2: from publisher.store.engine import _x",
        "publisher/sample.py:4: hashlib._Hash",
    ]


def test_no_private_name_is_used_outside_its_module() -> None:
    found = [use for path in sorted(PACKAGE.rglob("*.py")) for use in private_uses(path)]
    assert found == []
