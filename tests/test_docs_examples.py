"""The documentation's Python sessions run as written: each ```pycon block of the pages below is a doctest,
run in order in one namespace (as a notebook would), in a fresh folder; and the public API's docstrings
run as doctests too."""

from __future__ import annotations

import doctest
import importlib
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).parents[1] / "docs"
SESSIONS = ["guide/python-api.md"]
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
BLOCK = re.compile(r"^```pycon\n(.*?)^```", re.S | re.M)


def pycon_blocks(page: Path) -> str:
    """The page's pycon blocks as one doctest text (a blank line after each ends its last output)."""
    blocks = BLOCK.findall(page.read_text(encoding="utf-8"))
    assert blocks, f"{page} has no pycon block"
    return "\n\n".join(blocks)


@pytest.mark.parametrize("page", SESSIONS)
def test_the_pages_python_session_runs_as_written(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = pycon_blocks(DOCS / page)
    test = doctest.DocTestParser().get_doctest(text, {}, page, str(DOCS / page), 0)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    failures = []
    runner.run(test, out=failures.append)
    assert runner.failures == 0, "".join(failures)
    assert runner.tries >= 10  # the session ran, not just parsed


@pytest.mark.parametrize("module", ["gfp", "gfcore.inference.model", "gfcore.data.inputs"])
def test_the_api_docstrings_run(module):
    result = doctest.testmod(importlib.import_module(module), optionflags=FLAGS)
    assert result.failed == 0
