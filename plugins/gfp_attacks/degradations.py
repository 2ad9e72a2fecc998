"""The fixed degradations of the field's benchmark tables (ImageAttributionBench, GenImage): the
``downsample`` attack and the ``degrade`` chain whose declared levels ``gfp bench --degradations``
evaluates. A plugin of its own (entry point ``attack_degradations``), registered through the same hook as
the paper's attacks; the classes load when the hook runs, so ``gfp --help`` imports no torch."""

from gfcore import hookimpl


@hookimpl
def gfp_register_attacks(register):
    from .degrade import Degrade
    from .downsample import Downsample

    for cls in (Downsample, Degrade):
        register(cls)
