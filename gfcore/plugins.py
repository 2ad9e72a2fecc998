"""The plugin manager: loads the ``gfp`` entry points once and builds one registry per kind.

Built-in plugins are entry points of the ``gfp`` distribution itself, so they load exactly like a third
party's. Set ``GFP_DISABLE_PLUGIN_AUTOLOAD=1`` to load only the built-in plugins (third-party entry points
are then skipped); plugins can still be registered by hand with ``get_plugin_manager().register(obj)``.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from importlib.metadata import entry_points

import pluggy

from . import hookspecs
from .errors import GfpError, UnknownNameError
from .registry import Registry

PROJECT = "gfp"
AUTOLOAD_ENV = "GFP_DISABLE_PLUGIN_AUTOLOAD"

_pm: pluggy.PluginManager | None = None
_registries: Registries | None = None
_origins: dict[str, str] = {}  # plugin name -> distribution that provided it


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, with entry points loaded on first use."""
    global _pm
    if _pm is None:
        pm = pluggy.PluginManager(PROJECT)
        pm.add_hookspecs(hookspecs)
        _load_entry_points(pm)
        pm.check_pending()
        _pm = pm
    return _pm


def _load_entry_points(pm: pluggy.PluginManager) -> None:
    third_party_allowed = not os.environ.get(AUTOLOAD_ENV)
    for ep in entry_points(group=PROJECT):
        dist = getattr(ep.dist, "name", None)
        if not third_party_allowed and dist != PROJECT:
            continue
        if pm.get_plugin(ep.name) is not None or pm.is_blocked(ep.name):
            continue
        try:
            module = importlib.import_module(ep.value) if ":" not in ep.value else ep.load()
        except Exception as exc:  # a broken plugin must say who it is
            raise GfpError(f"error importing plugin {ep.name!r} ({ep.value}): {exc}") from exc
        pm.register(module, name=ep.name)
        _origins[ep.name] = f"{dist} (entry point {ep.value})"


@dataclass
class Registries:
    extractors: Registry
    baselines: Registry
    gan_sources: Registry
    attacks: Registry

    def attributor(self, name: str):
        """An extractor or baseline class by name (both are Attributors, ``gfp train --method`` takes either)."""
        for reg in (self.extractors, self.baselines):
            if name in reg:
                return reg.get(name)
        valid = ", ".join(self.attributor_names())
        raise UnknownNameError(f"unknown method {name!r}; valid names: {valid}")

    def attributor_names(self) -> list[str]:
        return sorted(self.extractors.names() + self.baselines.names())

    def by_kind(self) -> dict[str, Registry]:
        return {
            "extractors": self.extractors,
            "baselines": self.baselines,
            "gan_sources": self.gan_sources,
            "attacks": self.attacks,
        }


_HOOKS = {
    "extractors": ("gfp_register_extractors", "extractor"),
    "baselines": ("gfp_register_baselines", "baseline"),
    "gan_sources": ("gfp_register_gan_sources", "GAN source"),
    "attacks": ("gfp_register_attacks", "attack"),
}


def get_registries(refresh: bool = False) -> Registries:
    """All registries, built from every registered plugin's hooks (cached; ``refresh`` rebuilds)."""
    global _registries
    if _registries is None or refresh:
        pm = get_plugin_manager()
        built = {}
        for attr, (hook_name, kind) in _HOOKS.items():
            registry = Registry(kind)
            # Call each implementation ourselves so every registered item knows its plugin's name.
            for impl in getattr(pm.hook, hook_name).get_hookimpls():
                def register(item, name=None, _plugin=impl.plugin_name, _registry=registry):
                    _registry.register(item, plugin=_plugin, name=name)

                impl.function(register=register)
            built[attr] = registry
        names_both = set(built["extractors"].names()) & set(built["baselines"].names())
        if names_both:
            raise GfpError(f"names registered as both extractor and baseline: {', '.join(sorted(names_both))}")
        _registries = Registries(**built)
    return _registries


def register_plugin(plugin: object, name: str) -> None:
    """Register a plugin object at run time (tests, notebooks) and rebuild the registries."""
    get_plugin_manager().register(plugin, name=name)
    get_registries(refresh=True)


def unregister_plugin(name: str) -> None:
    get_plugin_manager().unregister(name=name)
    get_registries(refresh=True)


def plugin_names() -> list[tuple[str, str]]:
    """(plugin name, where it comes from) for every registered plugin."""
    pm = get_plugin_manager()
    out = []
    for name, plugin in pm.list_name_plugin():
        origin = _origins.get(name) or f"registered at run time ({type(plugin).__name__})"
        out.append((name, origin))
    return sorted(out)
