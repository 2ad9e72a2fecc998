"""Hook specifications: the contract between gfp and its plugins.

Every ``gfp_register_*`` hook receives a ``register`` callback instead of returning values, so one plugin
can register any number of items. Call it as ``register(item)`` where ``item`` is a class (or object) with
``name`` and ``description`` attributes implementing the matching interface in :mod:`gfcore.interfaces`;
``register(item, name="other")`` registers it under another name. Names are unique per kind across all
plugins: registering a taken name is an error that names both plugins.

Implementations may accept fewer arguments than a spec declares (pluggy's opt-in arguments), so specs can
grow without breaking plugins.
"""

import pluggy

hookspec = pluggy.HookspecMarker("gfp")


@hookspec
def gfp_register_extractors(register):
    """Register fingerprint extractors: learned attribution networks and their variants.

    :param register: ``register(cls, name=None)``; ``cls`` implements :class:`gfcore.interfaces.Attributor`
        and also ``image_fingerprints`` and ``model_fingerprints``.
    """


@hookspec
def gfp_register_baselines(register):
    """Register comparison methods (kNN, Eigenface, PRNU, ...).

    :param register: ``register(cls, name=None)``; ``cls`` implements :class:`gfcore.interfaces.Attributor`.
        Extractor and baseline names share one namespace, since ``gfp train --method`` takes either.
    """


@hookspec
def gfp_register_gan_sources(register):
    """Register generator families (ProGAN, SNGAN, ...) that ``gfp gan train`` can train and sample.

    :param register: ``register(cls, name=None)``; ``cls`` implements :class:`gfcore.interfaces.GanSource`.
    """


@hookspec
def gfp_register_attacks(register):
    """Register image perturbations (noise, blur, crop, jpeg, ...).

    :param register: ``register(cls, name=None)``; ``cls`` implements :class:`gfcore.interfaces.Attack`.
    """


@hookspec
def gfp_register_commands(cli):
    """Add commands to the ``gfp`` command line.

    :param cli: the root :class:`click.Group`; call ``cli.add_command(...)``. Import torch inside the
        command's body, not at module level, so that ``gfp --help`` stays fast.
    """
