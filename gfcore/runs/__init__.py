"""Run folders: what training leaves on disk and every later command reads back.

:mod:`~gfcore.runs.folder` is the run-folder base class (``RunDir``, ``RunKind``) that every kind of run
shares; :mod:`~gfcore.runs.attributor` is attribution runs on disk (``load_run``, ``read_run_json``) and
:mod:`~gfcore.runs.training` is training a method into one (``train_run``, resuming included), which
:mod:`~gfcore.runs.warmstart` can start from another run's weights (``--init-from``);
:mod:`~gfcore.runs.gan` is GAN runs (train a generator family, load it, sample from it); :mod:`~gfcore.runs.shipped_gans` the generators the families ship; and
:mod:`~gfcore.runs.schema` is the validation of every JSON document read back (``run.json`` of both kinds,
a dataset's ``manifest.json``, the metadata of ``last.safetensors``).
"""
