"""All SQL lives in store/ (issue 11): no statement outside it, except the fake servers'.

A statement is a string literal (or the literal parts of an f-string) that starts with an SQL
keyword in capitals, the way this code base writes SQL. The allow-list below (empty) names
modules that may still hold SQL while a move into store/ is under way: each entry is a debt,
the test fails when a listed module no longer needs its entry (so the list only shrinks) and
when any other module gains a statement.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import plantech_tui

PACKAGE = Path(plantech_tui.__file__).parent
SQL_START = re.compile(r"\s*(SELECT|INSERT|UPDATE|DELETE|CREATE|ALTER|DROP|PRAGMA|WITH|BEGIN"
                       r"|REPLACE)\s")
# the repositories, the fake partner servers (they play a remote system's own database), and
# Salesforce's partner: its SELECTs are SOQL sent to Salesforce, never run on our store
EXEMPT = ("store/", "partners/redtail/fake/", "partners/salesforce/")
# modules that may still hold SQL while it moves into store/ (none now: keep it empty; a
# helper whose branch is not merged yet lists its modules here, the lead empties it at merge)
ALLOWED: set[str] = set()


def _literals(tree: ast.AST) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    parts = {id(v) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr)
             for v in node.values}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in parts:
            out.append((node.lineno, node.value))
        elif isinstance(node, ast.JoinedStr):
            text = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
            out.append((node.lineno, text))
    return out


def sql_statements(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [f"{path.relative_to(PACKAGE).as_posix()}:{line}: {text.strip()[:60]!r}"
            for line, text in _literals(tree) if SQL_START.match(text)]


def _modules() -> list[str]:
    return sorted(p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py"))


def test_no_sql_outside_store() -> None:
    """A maintainer adding a query in a screen, the CLI or a use case (instead of a store/
    repository) is stopped here, with the file and line of the statement."""
    found = [s for rel in _modules() if not rel.startswith(EXEMPT) and rel not in ALLOWED
             for s in sql_statements(PACKAGE / rel)]
    assert found == [], "SQL outside store/:\n" + "\n".join(found)


def test_the_allow_list_only_names_modules_that_still_hold_sql() -> None:
    """The lead emptying the allow-list learns which entries are already paid off."""
    stale = [rel for rel in sorted(ALLOWED)
             if not (PACKAGE / rel).exists() or not sql_statements(PACKAGE / rel)]
    assert stale == [], f"remove from ALLOWED (no SQL left): {stale}"


def test_the_scan_finds_sql_where_it_is() -> None:
    """The scan itself is not blind: the store's statements, plain and in f-strings, are seen,
    and prose that merely starts with a keyword in lower case is not."""
    found = sql_statements(PACKAGE / "store" / "tables.py")
    assert any("SELECT" in s for s in found)
    tree = ast.parse('x = f"DELETE FROM {t} WHERE id = ?"\ny = "Delete them"\n'
                     'z = "select the integration partner"\n')
    assert [t for _, t in _literals(tree) if SQL_START.match(t)] == [
        "DELETE FROM {} WHERE id = ?"]
