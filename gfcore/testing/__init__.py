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

from .checks import (
    ConformanceError,
    check_attack,
    check_attributor,
    check_command,
    check_gan_source,
    make_config,
)

__all__ = [
    "ConformanceError",
    "check_attack",
    "check_attributor",
    "check_command",
    "check_gan_source",
    "check_plugin",
    "check_registered",
    "make_config",
    "registered",
    "registered_params",
]

CHECKS: dict[str, Callable[..., None]] = {
    "extractors": check_attributor,
    "baselines": check_attributor,
    "gan_sources": check_gan_source,
    "attacks": check_attack,
}


def registered(plugin: str | None = None) -> list[tuple[str, str]]:
    """``(kind, name)`` of every registered item and command (only ``plugin``'s when given)."""
    import click

    from gfp.app import BUILTIN_COMMANDS, get_cli, plugin_commands

    from ..plugins import get_registries

    out = [
        (kind, entry.name)
        for kind, reg in get_registries().by_kind().items()
        for entry in reg.entries()
        if plugin is None or entry.plugin == plugin
    ]
    cli = get_cli()
    for name in cli.list_commands(click.Context(cli)):
        owner = plugin_commands.get(name, "gfp" if name in BUILTIN_COMMANDS else None)
        if plugin is None or owner == plugin:
            out.append(("commands", name))
    return out


def check_registered(kind: str, name: str, overrides: dict[str, Any] | None = None) -> None:
    """Run the check of ``kind`` on the item registered as ``name``."""
    if kind == "commands":
        import click

        from gfp.app import get_cli

        cli = get_cli()
        check_command(cli.get_command(click.Context(cli), name), name)
        return
    from ..plugins import get_registries

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
