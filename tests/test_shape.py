"""The code's shape, kept: no function over 60 lines, and no route handler hidden in a closure
(every route is a module-level function, decorated where it is defined, so a search for its
path finds it)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "publisher"
LONGEST = 60
ROUTE_DECORATORS = {"get", "post", "put", "patch", "delete", "head", "api_route", "route"}


def functions() -> list[tuple[Path, ast.FunctionDef | ast.AsyncFunctionDef, bool]]:
    """Every function of the package, with whether it is nested inside another function."""
    found: list[tuple[Path, ast.FunctionDef | ast.AsyncFunctionDef, bool]] = []
    for path in sorted(PACKAGE.rglob("*.py")):

        def visit(node: ast.AST, nested: bool, path: Path = path) -> None:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                    found.append((path, child, nested))
                    visit(child, True)
                else:
                    visit(child, nested)

        visit(ast.parse(path.read_text()), False)
    return found


def is_route(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return any(
        isinstance(d, ast.Call)
        and isinstance(d.func, ast.Attribute)
        and d.func.attr in ROUTE_DECORATORS
        for d in function.decorator_list
    )


def where(path: Path, function: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    return f"{path.relative_to(PACKAGE.parent)}:{function.lineno} {function.name}"


def test_no_function_is_over_60_lines() -> None:
    long = [
        f"{where(path, f)} ({(f.end_lineno or f.lineno) - f.lineno + 1} lines)"
        for path, f, _ in functions()
        if (f.end_lineno or f.lineno) - f.lineno + 1 > LONGEST
    ]
    assert long == []


def test_routes_are_module_level_functions() -> None:
    hidden = [where(path, f) for path, f, nested in functions() if nested and is_route(f)]
    assert hidden == []


def test_the_checks_see_what_they_look_for() -> None:
    """The scan finds routes at all (so the test above could fail)."""
    routes = [f for _, f, nested in functions() if is_route(f) and not nested]
    assert len(routes) > 100
