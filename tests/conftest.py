import json

import pytest
from click.testing import CliRunner

from gfcore.data.synthetic import write_fingerprint_folders


@pytest.fixture(scope="module")
def one_torch_thread():
    """These tensors are tiny: on a shared 2-core machine, torch's thread pool spends far longer waiting for
    busy cores than computing (100x slower measured), so such a module runs single-threaded. Module-scoped,
    so the module's own trained fixtures run single-threaded too; use it as
    ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def run_cli():
    """Invoke the gfp CLI in-process; returns the click Result (``.stdout`` holds only stdout)."""
    from gfp.app import get_cli

    def invoke(*args):
        return CliRunner().invoke(get_cli(), [str(a) for a in args], catch_exceptions=False)

    return invoke


@pytest.fixture
def cli_error():
    """Invoke the CLI expecting a clean failure and return its ``Error:`` line.

    Exceptions are caught here (``catch_exceptions=True``), so a raw exception escaping a command is not
    hidden behind an exit status of 1: the result must be a ``SystemExit`` with the given code, and for
    exit 1 stderr must be that one line (after any ``warning:`` lines of skipped files). (``"Traceback" not in
    output`` cannot fail in-process.)"""
    import traceback

    from gfp.app import get_cli

    def invoke(code, *args):
        result = CliRunner().invoke(get_cli(), [str(a) for a in args])
        if not isinstance(result.exception, SystemExit):
            raise AssertionError(
                "".join(traceback.format_exception(*result.exc_info))
                if result.exc_info
                else f"no error: {result.output}"
            )
        assert result.exit_code == code, result.output
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        if code == 1:
            assert len([line for line in lines if not line.startswith("warning: ")]) == 1, result.stderr
        assert lines and lines[-1].startswith("Error: "), result.stderr
        return lines[-1]

    return invoke


@pytest.fixture
def json_stdout():
    return lambda result: json.loads(result.stdout)


@pytest.fixture(scope="session")
def tiny_sources(tmp_path_factory):
    """Three sources of 16x16 images, 20 each: enough to exercise the plumbing, not to learn."""
    root = tmp_path_factory.mktemp("tiny_src")
    write_fingerprint_folders(root, num_sources=3, per_source=20, size=16, amplitude=24.0)
    return root


@pytest.fixture(scope="session")
def tiny_dataset(tiny_sources, tmp_path_factory):
    from gfcore.data.dataset import load_dataset, prepare_dataset

    out = tmp_path_factory.mktemp("tiny_ds") / "ds"
    prepare_dataset(tiny_sources, out, resolution=16, seed=0)
    return load_dataset(out)
