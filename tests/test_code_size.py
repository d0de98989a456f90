"""The house rules on size (issue 10's acceptance): no module in bench/ or tasks/ over 400 lines, no
function over 60 lines unless a comment in it says why (a line containing "long because")."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted([*(ROOT / "bench").rglob("*.py"), *(ROOT / "tasks").rglob("*.py")])


def test_no_module_over_400_lines():
    long = {str(p.relative_to(ROOT)): n for p in SOURCES if (n := len(p.read_text().splitlines())) > 400}
    assert not long


def test_no_function_over_60_lines_without_a_reason():
    long = []
    for p in SOURCES:
        src = p.read_text()
        lines = src.splitlines()
        for node in ast.walk(ast.parse(src)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                body = lines[node.lineno - 1 : node.end_lineno]
                if len(body) > 60 and not any("long because" in line for line in body):
                    long.append(f"{p.relative_to(ROOT)}:{node.lineno} {node.name} ({len(body)} lines)")
    assert not long
