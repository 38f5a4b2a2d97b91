"""The store's names: every store module says what it exports (``__all__``), the package
exports exactly their union, and no module, stdlib helper or imported name leaks through it."""

from __future__ import annotations

import ast
import importlib
import re
import sys
from pathlib import Path
from types import FunctionType, ModuleType

from publisher import store

STORE = Path(store.__file__).resolve().parent
ROOT = STORE.parent.parent


def store_modules() -> list[ModuleType]:
    return [
        importlib.import_module(f"publisher.store.{path.stem}")
        for path in sorted(STORE.glob("*.py"))
        if path.stem != "__init__"
    ]


def public_definitions(path: Path) -> set[str]:
    """The public names a module defines itself (not the ones it imports)."""
    names: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return {name for name in names if not name.startswith("_")}


def test_every_store_module_exports_its_public_names() -> None:
    for module in store_modules():
        assert hasattr(module, "__all__"), f"{module.__name__} has no __all__"
        assert len(module.__all__) == len(set(module.__all__)), module.__name__
        assert set(module.__all__) == public_definitions(Path(module.__file__ or "")), (
            module.__name__
        )


def test_the_package_exports_the_union_and_nothing_else() -> None:
    union: list[str] = [name for module in store_modules() for name in module.__all__]
    assert len(union) == len(set(union)), "two store modules export the same name"
    assert set(store.__all__) == set(union)
    assert len(store.__all__) == len(set(store.__all__))
    public = {name for name in vars(store) if not name.startswith("_")}
    modules = {name for name in public if isinstance(getattr(store, name), ModuleType)}
    assert public - modules == set(store.__all__)


def test_no_module_or_stdlib_helper_is_exported() -> None:
    for name in store.__all__:
        assert not isinstance(getattr(store, name), ModuleType), name
        assert name not in sys.stdlib_module_names, name
        value = getattr(store, name)
        if isinstance(value, FunctionType | type):  # defined in the store, not imported into it
            assert value.__module__.startswith("publisher.store."), name
    for helper in ("select", "json", "re", "insert", "update", "func", "Session", "datetime"):
        assert helper not in store.__all__


def test_every_name_the_code_uses_is_exported() -> None:
    used: set[str] = set()
    for folder in ("publisher", "tests", "bench"):
        for path in (ROOT / folder).rglob("*.py"):
            if STORE not in path.parents:
                used.update(re.findall(r"(?<![\w.])store\.([A-Za-z]\w*)", path.read_text()))
    modules = {path.stem for path in STORE.glob("*.py")}
    assert used - modules <= set(store.__all__)
