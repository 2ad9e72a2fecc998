"""``gfp bench``: several methods trained (or reused) and evaluated side by side on one prepared dataset.

Each method spec (``learned:width=0.25``, ``knn:k=5``) gets a run folder ``<runs>/<slug>``. A run already
there is reused when it was trained on the same dataset (hash), with the same method, configuration and
seed, and finished; an unfinished one with the same identity is resumed; one that differs is an error for
that method (never overwritten). Every method is then evaluated on the same test split, timed, and -- when
it has image fingerprints -- scored with the FD ratio of those fingerprints (paper §7).

The package, one job a module:

* :mod:`.spec` -- canonical method specs and their run-folder names;
* :mod:`.plan` -- every spec checked before anything trains; reuse / resume / train of each run;
* :mod:`.separability` -- the FD ratio on a class-stratified subsample, at one PCA dimension for all;
* :mod:`.one` -- one method's repeats trained, evaluated and summed up in one row;
* :mod:`.repeats` -- repeat seeds and run folders, intervals, paired McNemar tests;
* :mod:`.orchestrate` -- the bench itself, and writing its files;
* :mod:`.notes` -- the notes under the tables (how sure each number is);
* :mod:`.rows` -- the typed results (:class:`BenchRow`, :class:`BenchResults`; the results.json schema);
* :mod:`.render` -- one renderer per format (Markdown, rich, JSON) for every table gfp prints.
"""

from gfcore.studies.bench.one import bench_one
from gfcore.studies.bench.orchestrate import SPLIT, run_bench, write_results
from gfcore.studies.bench.plan import MethodPlan, obtain_run, plan_methods
from gfcore.studies.bench.rows import RESULTS_FORMAT, RESULTS_VERSION, BenchResults, BenchRow
from gfcore.studies.bench.separability import (
    DEFAULT_FD_DIM,
    DEFAULT_MAX_FD_IMAGES,
    fd_sample_indices,
    fingerprint_separability,
)
from gfcore.studies.bench.spec import canonical_spec, spec_slug

__all__ = [
    "DEFAULT_FD_DIM",
    "DEFAULT_MAX_FD_IMAGES",
    "RESULTS_FORMAT",
    "RESULTS_VERSION",
    "SPLIT",
    "BenchResults",
    "BenchRow",
    "MethodPlan",
    "bench_one",
    "canonical_spec",
    "fd_sample_indices",
    "fingerprint_separability",
    "obtain_run",
    "plan_methods",
    "run_bench",
    "spec_slug",
    "write_results",
]
