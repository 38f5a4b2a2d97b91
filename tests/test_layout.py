"""The test tree's layout (ast-based): fixtures reach tests by injection from conftest.py files,
never by import; shared helpers live in helper modules, not in test modules; and every test
package mirrors a package of ``publisher``."""

from __future__ import annotations

import ast
from pathlib import Path

__all__: list[str] = []

TESTS = Path(__file__).resolve().parent
PACKAGE = TESTS.parent / "publisher"


def module_of(path: Path) -> str:
    """The dotted name of a file under the repository's root, e.g. ``tests.web.conftest``."""
    return ".".join(path.relative_to(TESTS.parent).with_suffix("").parts)


def imported(path: Path) -> set[str]:
    """The modules a file imports, and ``module.name`` for each name it takes from one."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def is_fixture(decorator: ast.expr) -> bool:
    """Whether a decorator is pytest's fixture, called or not."""
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return ast.unparse(target) in {"pytest.fixture", "fixture"}


def python_files() -> list[Path]:
    """The tests' Python files (not the npm packages tests/node installs)."""
    return sorted(p for p in TESTS.rglob("*.py") if "node_modules" not in p.parts)


def test_nothing_imports_a_conftest() -> None:
    conftests = {module_of(p) for p in python_files() if p.name == "conftest.py"}
    wrong = [
        f"{module_of(path)} imports {name}"
        for path in python_files()
        for name in sorted(imported(path))
        if name in conftests
    ]
    assert wrong == [], "fixtures are parameters; plain helpers belong in a helper module"


def test_no_test_module_is_imported() -> None:
    test_modules = {module_of(p) for p in python_files() if p.name.startswith("test_")}
    wrong = [
        f"{module_of(path)} imports {name}"
        for path in python_files()
        for name in sorted(imported(path))
        if name in test_modules
    ]
    assert wrong == [], "move what they share into a helper module (tests/support.py, say)"


def test_fixtures_live_in_conftest_files_or_the_tests_using_them() -> None:
    helpers = [
        p for p in python_files() if p.name != "conftest.py" and not p.name.startswith("test_")
    ]
    wrong = [
        f"{module_of(path)}.{node.name}"
        for path in helpers
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef) and any(map(is_fixture, node.decorator_list))
    ]
    assert wrong == []


def test_the_test_tree_mirrors_the_code() -> None:
    """A folder of tests with Python in it is a package of ``publisher`` (data folders, such
    as feeds/ and schemas/, hold none)."""
    folders = {p.parent for p in python_files()} - {TESTS}
    wrong = [
        str(folder.relative_to(TESTS))
        for folder in sorted(folders)
        if not (PACKAGE / folder.relative_to(TESTS) / "__init__.py").exists()
    ]
    assert wrong == []
