"""Handlers parse, call a service, render: no SQL statement in handlers/ (docs/architecture.md,
"One shape"). The services in bot/ own their queries; a handler may hold a session (to pass
it to services inside its unit of work) but never builds or runs a statement itself."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HANDLERS = sorted((ROOT / "handlers").rglob("*.py"))

# What a handler may import from SQLAlchemy: types, for annotations.
ALLOWED_IMPORTS = {
    ("sqlalchemy.ext.asyncio", "AsyncSession"),
    ("sqlalchemy.ext.asyncio", "AsyncEngine"),
}
# Building a statement.
STATEMENT_BUILDERS = {"select", "update", "delete", "insert", "text", "and_", "or_"}
# Running one, or changing what the session holds.
SESSION_METHODS = {
    "execute",
    "scalar",
    "scalars",
    "get",
    "add",
    "add_all",
    "delete",
    "flush",
    "merge",
    "refresh",
    "stream",
}


def _violations(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
        found += [f"{where}: {what}" for what in _check(node)]
    return found


def _check(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [f"import {a.name}" for a in node.names if a.name.split(".")[0] == "sqlalchemy"]
    if isinstance(node, ast.ImportFrom):
        return _check_from(node)
    if isinstance(node, ast.Call):
        return _check_call(node)
    return []


def _check_from(node: ast.ImportFrom) -> list[str]:
    module = node.module or ""
    if module.split(".")[0] != "sqlalchemy":
        return []
    return [
        f"from {module} import {alias.name}"
        for alias in node.names
        if (module, alias.name) not in ALLOWED_IMPORTS
    ]


def _check_call(node: ast.Call) -> list[str]:
    func = node.func
    if isinstance(func, ast.Name) and func.id in STATEMENT_BUILDERS:
        return [f"{func.id}(...)"]
    if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)):
        return []
    owner = func.value.id
    if owner == "func":  # sqlalchemy's func.count(...) and the like
        return [f"func.{func.attr}(...)"]
    if "session" in owner and func.attr in SESSION_METHODS:
        return [f"{owner}.{func.attr}(...)"]
    return []


def test_the_check_finds_sql() -> None:
    """The checker itself: each kind of statement is caught."""
    source = (
        "from sqlalchemy import select\n"
        "import sqlalchemy\n"
        "async def h(session):\n"
        "    await session.execute(select(1))\n"
        "    session.add(x)\n"
    )
    found = [what for node in ast.walk(ast.parse(source)) for what in _check(node)]
    assert sorted(found) == [
        "from sqlalchemy import select",
        "import sqlalchemy",
        "select(...)",
        "session.add(...)",
        "session.execute(...)",
    ]


@pytest.mark.parametrize("path", HANDLERS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_sql_in_handlers(path: Path) -> None:
    assert _violations(path) == []
