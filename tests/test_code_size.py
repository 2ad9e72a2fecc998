"""Small modules with one job: no gfcore module over 300 lines and no gfcore function over 60 lines
(decorators and docstrings included), so that each reads in one sitting."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 60


def gfcore_files() -> list[Path]:
    return sorted((ROOT / "gfcore").rglob("*.py"))


def test_no_gfcore_module_is_over_300_lines():
    long = {
        str(p.relative_to(ROOT)): n
        for p in gfcore_files()
        if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not long, f"modules over {MAX_MODULE_LINES} lines: {long}"


def function_lengths(path: Path) -> dict[str, int]:
    lengths = {}
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            lengths[f"{path.relative_to(ROOT)}:{node.lineno} {node.name}"] = node.end_lineno - start + 1
    return lengths


def test_no_gfcore_function_is_over_60_lines():
    long = {
        name: n for p in gfcore_files() for name, n in function_lengths(p).items() if n > MAX_FUNCTION_LINES
    }
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: {long}"


def test_the_measure_counts_a_long_function(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(70))
    (tmp_path / "m.py").write_text(f"@decorator\ndef f():\n{body}\n")
    global ROOT
    root, ROOT = ROOT, tmp_path
    try:
        assert function_lengths(tmp_path / "m.py") == {"m.py:2 f": 72}
    finally:
        ROOT = root
