"""Leave-one-source-out evaluation of open-set attribution (``gfp openset``).

For each source ``s`` of a K-source dataset: a (K-1)-source dataset without ``s`` is written (all three
splits, labels renumbered), a run is trained on it (or a finished one reused, an unfinished one resumed)
and calibrated on its validation split, and then the test images of the K-1 known sources and the test
images of ``s`` -- a source the run has never seen -- are scored. Reported per held-out source and score
(:data:`gfcore.inference.openset.SCORES`): the AUROC of known against unknown, and at the threshold chosen on
validation for the false-unknown rate: the accuracy on the known sources (an image called unknown counts
as wrong), the share of them called unknown, and the share of the unseen source's images called unknown.

A group of sources (a family) can be left out together, and ``keep`` sources (the real class) are never
left out; the share of unseen images given to them is reported too (leave-one-family-out).

    OUT/datasets/without-<source>/   the K-1-source datasets
    OUT/runs/without-<source>/       their runs
    OUT/results.json, results.md     the numbers
"""

from gfcore.studies.openset.report import markdown
from gfcore.studies.openset.run import FORMAT, VERSION, run_loso

__all__ = ["FORMAT", "VERSION", "markdown", "run_loso"]
