"""The conformance kit: checks a plugin's classes and commands against the contract of
:mod:`gfcore.interfaces` and :mod:`gfcore.hookspecs`, on small synthetic data, on the CPU.

Each check raises :class:`ConformanceError` (an ``AssertionError``) saying what is wrong::

    from gfcore.testing import check_attributor
    check_attributor(MyBaseline, overrides={"epochs": 1})

In a test file, one test per item a plugin registers (like timm's tests over its registry)::

    import pytest
    from gfcore.testing import check_registered, registered_params

    @pytest.mark.parametrize("kind,name", registered_params(plugin="my-plugin"))
    def test_conformance(kind, name):
        check_registered(kind, name)

Config values come from the check's own small defaults, then the class's ``conformance_overrides``, then
``overrides``: give your class ``conformance_overrides`` (tiny widths, one epoch) so the checks stay fast.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gfcore.plugins import register_plugin, unregister_plugin
from gfcore.testing.checks import (
    check_attack,
    check_attributor,
    check_command,
    check_gan_source,
    check_real_source,
)
from gfcore.testing.harness import ConformanceError, make_config

__all__ = [
    "ConformanceError",
    "check_attack",
    "check_attributor",
    "check_command",
    "check_gan_source",
    "check_plugin",
    "check_real_source",
    "check_registered",
    "make_config",
    "plugin_commands",
    "registered",
    "register_plugin",
    "registered_params",
    "unregister_plugin",
]

CHECKS: dict[str, Callable[..., None]] = {
    "extractors": check_attributor,
    "baselines": check_attributor,
    "gan_sources": check_gan_source,
    "attacks": check_attack,
    "real_sources": check_real_source,
}


def plugin_commands(plugin: str | None = None) -> dict[str, Any]:
    """``{name: click command}`` of the commands plugins add through ``gfp_register_commands`` (only
    ``plugin``'s when given), each plugin's hook called on a scratch group of its own."""
    import click

    from gfcore.plugins import plugin_hook_callers

    found = {}
    for owner, call in plugin_hook_callers("gfp_register_commands"):
        if plugin is not None and owner != plugin:
            continue
        scratch = click.Group("gfp")
        call(cli=scratch)
        found.update(scratch.commands)
    return found


def registered(plugin: str | None = None) -> list[tuple[str, str]]:
    """``(kind, name)`` of every registered item and plugin command (only ``plugin``'s when given)."""
    from gfcore.plugins import get_registries

    out = [
        (kind, entry.name)
        for kind, reg in get_registries().by_kind().items()
        for entry in reg.entries()
        if plugin is None or entry.plugin == plugin
    ]
    return out + [("commands", name) for name in sorted(plugin_commands(plugin))]


def check_registered(kind: str, name: str, overrides: dict[str, Any] | None = None) -> None:
    """Run the check of ``kind`` on the item registered as ``name``."""
    if kind == "commands":
        check_command(plugin_commands()[name], name)
        return
    from gfcore.plugins import get_registries

    CHECKS[kind](get_registries().by_kind()[kind].get(name), overrides)


def check_plugin(plugin: str) -> list[str]:
    """Check everything ``plugin`` registers; returns ``kind:name`` of each item checked."""
    done = []
    for kind, name in registered(plugin):
        check_registered(kind, name)
        done.append(f"{kind}:{name}")
    return done


def registered_params(plugin: str | None = None) -> list:
    """``pytest.param(kind, name, id="kind:name")`` for :func:`registered` (for ``parametrize``)."""
    import pytest

    return [pytest.param(kind, name, id=f"{kind}:{name}") for kind, name in registered(plugin)]
