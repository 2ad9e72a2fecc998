"""Hook specifications: the contract between gfp and its plugins.

A plugin is a module (or object) with ``@gfcore.hookimpl`` functions named like the specs below, made
known through an entry point of the ``gfp`` group (see CONTRIBUTING.md). Every ``gfp_register_*`` hook
receives a ``register`` callback instead of returning values, so one plugin can register any number of
items. Call it as ``register(cls)``, or ``register(cls, name="other")`` to use another name; ``cls``
implements the kind's interface in :mod:`gfcore.interfaces`, whose docstrings say what is required and
what is optional. Check your classes with :mod:`gfcore.testing`.

How gfp calls the hooks: through pluggy, once per plugin (``pm.subset_hook_caller``), in pluggy's order,
so that every registered name is known by the plugin that registered it. Hence:

* implementations may accept fewer arguments than a spec declares (pluggy's opt-in arguments), so specs
  can grow without breaking plugins;
* ``tryfirst`` / ``trylast`` order the plugins' registrations;
* a hook wrapper (``wrapper=True``) of a plugin that implements nothing else for that hook runs around
  every plugin's call; one beside the plugin's own implementation runs around that one.

What is refused, with one line naming the plugin(s):

* a name that another plugin registered for the same kind, or an extractor and a baseline of one name
  (``gfp train --method`` takes either): an error naming both plugins (exit 1 for the commands that need
  the registries; ``gfp --help`` and the others still work);
* a registration hook that raises, or a class that breaks its interface (not a subclass, abstract methods
  left, no ``Config`` dataclass, a GAN family without ``resolution`` and ``iters``, an extractor without
  fingerprints): a warning naming the plugin and the hook, and that plugin's items of that kind are
  skipped (all of them: none half-registered);
* a plugin that fails to import, a ``gfp_register_commands`` that raises, or a command named like a
  built-in one (or like another plugin's): a warning, and that plugin (or command) is skipped; the
  built-in always keeps its name. So is a third-party entry point named like a built-in plugin.

Warnings are one line on stderr each (``gfp plugins --json`` lists them under ``problems``); everything
else in gfp works. :func:`gfcore.plugins.register_plugin` (plugins registered by hand, in tests) raises
instead.

``GFP_DISABLE_PLUGIN_AUTOLOAD=1`` loads the built-in plugins only.
"""

import pluggy

hookspec = pluggy.HookspecMarker("gfp")


@hookspec
def gfp_register_extractors(register):
    """Register fingerprint extractors: learned attribution networks and their variants.

    :param register: ``register(cls, name=None)``; ``cls`` is a :class:`gfcore.interfaces.Attributor` with
        ``has_fingerprints = True``, ``image_fingerprints`` and ``model_fingerprints``.
    """


@hookspec
def gfp_register_baselines(register):
    """Register comparison methods (kNN, Eigenface, PRNU, ...).

    :param register: ``register(cls, name=None)``; ``cls`` is a :class:`gfcore.interfaces.Attributor`.
        Extractor and baseline names share one namespace, since ``gfp train --method`` takes either.
    """


@hookspec
def gfp_register_gan_sources(register):
    """Register generator families (ProGAN, SNGAN, ...) that ``gfp gan train`` can train and sample.

    :param register: ``register(cls, name=None)``; ``cls`` is a :class:`gfcore.interfaces.GanSource`, its
        ``Config`` has ``resolution`` and ``iters``. A family ships pretrained generators through
        :meth:`GanSource.shipped_generators <gfcore.interfaces.GanSource.shipped_generators>`.
    """


@hookspec
def gfp_register_attacks(register):
    """Register image perturbations (noise, blur, crop, jpeg, ...).

    :param register: ``register(cls, name=None)``; ``cls`` is a :class:`gfcore.interfaces.Attack`.
    """


@hookspec
def gfp_register_real_sources(register):
    """Register sets of real images that ship with a plugin (the bundled photographs, ...).

    :param register: ``register(cls, name=None)``; ``cls`` is a :class:`gfcore.interfaces.RealSource`.
    """


@hookspec
def gfp_register_commands(cli):
    """Add commands to the ``gfp`` command line.

    :param cli: the root :class:`click.Group`; call ``cli.add_command(cmd)`` (or use ``@cli.command()``).
        A command reports a user's mistake by raising :class:`gfcore.errors.GfpError` (one line, exit 1),
        prints results on stdout and progress on stderr, and supports ``--help``. The names of built-in
        commands (``train``, ``gan``, ...) are refused. This hook runs on every ``gfp`` call, ``--help``
        included: import torch and other heavy modules inside the command's body, not at module level.
    """
