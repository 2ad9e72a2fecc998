"""The public API for plugin authors: ``gfcore.__all__`` (and ``gfcore.studies.__all__``) name only things
that exist, load lazily, and are all that CONTRIBUTING's plugin examples import."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

import gfcore
import gfcore.studies
import gfcore.testing

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("module", [gfcore, gfcore.studies], ids=lambda m: m.__name__)
def test_every_public_name_resolves(module):
    missing = [name for name in module.__all__ if getattr(module, name, None) is None]
    assert not missing, f"{module.__name__}.__all__ names that do not resolve: {missing}"
    assert sorted(set(module.__all__)) == sorted(module.__all__), "a name is listed twice"


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        gfcore.nope  # noqa: B018


def test_importing_gfcore_for_hookimpl_does_not_import_torch():
    code = "import sys, gfcore; from gfcore import hookimpl, GfpError; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def python_blocks(markdown: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", markdown, flags=re.S)


def test_contributing_plugin_examples_import_only_public_names():
    blocks = python_blocks((ROOT / "CONTRIBUTING.md").read_text())
    assert blocks, "CONTRIBUTING.md shows no Python example"
    used = []
    for block in blocks:
        for node in ast.walk(ast.parse(block)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "gfcore":
                used.append((node.module, [a.name for a in node.names]))
            elif isinstance(node, ast.Import):
                assert not any(a.name.startswith("gfcore.") for a in node.names), ast.unparse(node)
    assert used, "CONTRIBUTING.md's examples import nothing from gfcore"
    public = {m.__name__: set(m.__all__) for m in (gfcore, gfcore.studies, gfcore.testing)}
    for module, names in used:
        assert module in public, f"CONTRIBUTING.md imports from {module}, which is not a public module"
        assert set(names) <= public[module], f"not public in {module}: {set(names) - public[module]}"
