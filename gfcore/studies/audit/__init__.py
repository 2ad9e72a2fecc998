"""The shortcut audit: how well trivial cues -- global colour and sharpness statistics, colour histograms,
raw pixels, and for folders of files the format, size, dimensions, JPEG tables and EXIF -- separate the
sources of a dataset, each as held-out accuracy next to chance.

* :mod:`.result` -- :class:`AuditRow`, chance, the far-above-chance rule and the warning line;
* :mod:`.features` -- the eight global statistics and the colour histogram of each image;
* :mod:`.pixels` -- the pixel cues' classifiers (logistic regression; the registered ``knn`` baseline);
* :mod:`.files` -- the file cues and their classifiers, and the seeded stratified split of a folder;
* :mod:`.run` -- the audit of a prepared dataset or of a folder, as a ``gfp-audit`` JSON document.
"""

from gfcore.studies.audit.result import (
    AUDIT_FORMAT,
    AUDIT_VERSION,
    FAR_FRACTION,
    FAR_RULE,
    AuditRow,
    chance_level,
    far_threshold,
    is_far_above_chance,
    shortcut_warning,
)
from gfcore.studies.audit.run import audit_dataset, audit_folder, pixel_audit

__all__ = [
    "AUDIT_FORMAT",
    "AUDIT_VERSION",
    "FAR_FRACTION",
    "FAR_RULE",
    "AuditRow",
    "audit_dataset",
    "audit_folder",
    "chance_level",
    "far_threshold",
    "is_far_above_chance",
    "pixel_audit",
    "shortcut_warning",
]
