"""Warm starts (``gfp train --init-from RUN``): a new neural run begins from another run's best weights.

The weights replace the random initialisation.

This is transfer between tasks that share sources: the demo starts its seed task's network from the
five-source task's (both have the real class and ProGAN seed 0; their test images are disjoint from every
training split, so nothing of a test split leaks in). Every tensor is taken from RUN except, when RUN's
classes differ from this run's, the method's class head (:meth:`NeuralAttributor.class_head`), which keeps
its fresh, seeded initialisation. The optimiser, the epochs and the schedule start fresh, as a new run's do.

run.json records the source as ``init_from`` (its path and the SHA-256 of its weights), so a bench reuses
such a run only for the same source, and ``--resume`` of a run killed before its first checkpoint starts
from the same weights again.
"""

from __future__ import annotations

from pathlib import Path

from gfcore.data.hashing import file_sha256
from gfcore.errors import GfpError
from gfcore.runs.schema import describe_weight_mismatch
from gfcore.storage.tensorio import load_tensors


def init_record(source: str | Path) -> dict:
    """What run.json keeps of the run a new one starts from (checked: it must be a finished-enough run)."""
    from gfcore.runs.attributor import read_run_json, run_dir_of

    source = Path(source)
    info = read_run_json(source)  # not a run: one line naming the file
    weights = run_dir_of(source).weights_path
    if not weights.is_file():
        raise GfpError(f"--init-from {source}: it has no trained weights yet ({weights.name} is missing)")
    return {
        "path": str(source.resolve()),
        "method": info["method"],
        "spec": info.get("spec"),
        "classes": list(info["classes"]),
        "resolution": info["resolution"],
        "dataset_hash": info["dataset"]["hash"],
        "weights_sha256": file_sha256(weights),
    }


def same_source(recorded: dict | None, wanted: dict | None) -> bool:
    """Whether a run that recorded ``recorded`` started from the weights ``wanted`` describes."""
    if recorded is None or wanted is None:
        return recorded is None and wanted is None
    keys = ("path", "weights_sha256")
    return all(recorded.get(k) == wanted.get(k) for k in keys)


def warm_start(attributor, method: str, record: dict) -> None:
    """Load the weights of the run ``record`` (from :func:`init_record`) into ``attributor``, a freshly
    built and seeded instance of ``method``: all of them, or all but the class head when the classes
    differ. Anything else that does not fit is one line."""
    from gfcore.runs.attributor import run_dir_of
    from gfcore.training.neural import NeuralAttributor

    where = f"--init-from {record['path']}"
    if not isinstance(attributor, NeuralAttributor):
        raise GfpError(
            f"{where}: method {method!r} does not train by gradient descent, so it cannot start from weights"
        )
    if record["method"] != method:
        raise GfpError(f"{where}: it is a {record['method']!r} run; this run trains {method!r}")
    if record["resolution"] != attributor.resolution:
        raise GfpError(
            f"{where}: it was trained at {record['resolution']}x{record['resolution']}, this dataset is "
            f"{attributor.resolution}x{attributor.resolution}"
        )
    weights = run_dir_of(record["path"]).weights_path
    if not weights.is_file() or file_sha256(weights) != record["weights_sha256"]:
        raise GfpError(f"{where}: its weights are gone or changed since this run was started from them")
    tensors, _ = load_tensors(weights)
    expected = attributor.state_dict()
    head: set[str] = set()
    if record["classes"] != list(attributor.classes):
        prefixes = tuple(attributor.class_head())
        head = {k for k in expected if any(k == p or k.startswith(p + ".") for p in prefixes)}
        if not head:
            raise GfpError(
                f"{where}: its classes ({', '.join(record['classes'])}) differ from this dataset's, and "
                f"method {method!r} names no class head to start afresh"
            )
    body = {k: v for k, v in tensors.items() if k not in head}
    why = describe_weight_mismatch(
        {k: v for k, v in expected.items() if k not in head}, body, len(attributor.classes)
    )
    if why:
        raise GfpError(
            f"{where}: its weights do not fit this network ({why}); use the same method parameters"
        )
    attributor.load_state_dict({**{k: expected[k].clone() for k in head}, **body})
