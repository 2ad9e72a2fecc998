import json

import pytest
from click.testing import CliRunner

from gfcore.synthetic import write_fingerprint_folders


@pytest.fixture
def run_cli():
    """Invoke the gfp CLI in-process; returns the click Result (``.stdout`` holds only stdout)."""
    from gfp.app import get_cli

    def invoke(*args):
        return CliRunner().invoke(get_cli(), [str(a) for a in args], catch_exceptions=False)

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
    from gfcore.dataset import load_dataset, prepare_dataset

    out = tmp_path_factory.mktemp("tiny_ds") / "ds"
    prepare_dataset(tiny_sources, out, resolution=16, seed=0)
    return load_dataset(out)
