"""The plugin manager: loads the ``gfp`` entry points once and builds one registry per kind.

Built-in plugins are entry points of the ``gfp`` distribution itself, so they load exactly like a third
party's. Set ``GFP_DISABLE_PLUGIN_AUTOLOAD=1`` to load only the built-in plugins (third-party entry points
are then skipped); plugins can still be registered by hand with :func:`register_plugin`.

A plugin that cannot be loaded (its import raises, its hooks do not match the specs, its entry point is
named like a plugin already loaded) is skipped, and so are a plugin's items of one kind when its
registration hook raises or a class is refused; each is recorded in :func:`plugin_problems`, which the
CLI prints as one line on stderr, and the rest of gfp works. Two plugins registering one name is a
:class:`DuplicateNameError` naming both (see :mod:`gfcore.hookspecs` for the whole policy).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points

import pluggy

from gfcore import hookspecs
from gfcore.errors import DuplicateNameError, GfpError, PluginError, UnknownNameError
from gfcore.interfaces import Attack, Attributor, GanSource, RealSource, contract_problem
from gfcore.registry import Registry

PROJECT = "gfp"
AUTOLOAD_ENV = "GFP_DISABLE_PLUGIN_AUTOLOAD"

_pm: pluggy.PluginManager | None = None
_registries: Registries | None = None
_origins: dict[str, str] = {}  # plugin name -> distribution that provided it
_builtin: set[str] = set()  # names of the plugins of the gfp distribution itself
_problems: list[str] = []  # one line per plugin (or part of one) that was skipped
_watchers: list[Callable[[str], None]] = []
# What a plugin's import or hook may raise and lose only itself: any error, and SystemExit (a `sys.exit`
# at import once silenced every command, --help included). KeyboardInterrupt is the user's: it stops gfp.
PLUGIN_FAILURES = (Exception, SystemExit)


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, with entry points loaded on first use."""
    global _pm
    if _pm is None:
        pm = pluggy.PluginManager(PROJECT)
        pm.add_hookspecs(hookspecs)
        _load_entry_points(pm)
        _drop_unverifiable_plugins(pm)
        _pm = pm
    return _pm


def plugin_problems() -> list[str]:
    """One line per plugin (or plugin command) that was skipped, in the order they were met."""
    get_plugin_manager()
    return list(_problems)


def report_problem(line: str) -> None:
    """Record that a plugin, or part of one, was skipped; each line once, passed on to the watchers."""
    if line not in _problems:
        _problems.append(line)
        for watcher in _watchers:
            watcher(line)


def watch_problems(callback: Callable[[str], None]) -> None:
    """Call ``callback(line)`` for every problem so far and every later one (the CLI prints them)."""
    _watchers.append(callback)
    for line in plugin_problems():
        callback(line)


def is_builtin(plugin: str) -> bool:
    return plugin in _builtin


_HINT = f" (set {AUTOLOAD_ENV}=1 to load only gfp's built-in plugins)"


def hint(plugin: str) -> str:
    """What a user can do about a broken plugin installed by a third party (nothing, for other ones)."""
    return _HINT if plugin in _origins and not is_builtin(plugin) else ""


def one_line(exc: BaseException) -> str:
    """``Type: first line of the message``: an exception as one line of a report."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _dist_name(ep: EntryPoint) -> str:
    return getattr(ep.dist, "name", None) or "an unknown distribution"


def _load_entry_points(pm: pluggy.PluginManager) -> None:
    third_party_allowed = not os.environ.get(AUTOLOAD_ENV)
    # Built-in plugins first, so that a third-party entry point can never take a built-in plugin's name.
    for ep in sorted(entry_points(group=PROJECT), key=lambda ep: _dist_name(ep) != PROJECT):
        dist = _dist_name(ep)
        builtin = dist == PROJECT
        if (not builtin and not third_party_allowed) or pm.is_blocked(ep.name):
            continue
        where = f"{dist} (entry point {ep.value})"
        if pm.get_plugin(ep.name) is not None:
            report_problem(
                f"plugin {ep.name!r} of {where} is skipped: plugin {ep.name!r} of {_origins[ep.name]} "
                f"already has that name{'' if builtin else _HINT}"
            )
            continue
        try:
            pm.register(ep.load(), name=ep.name)
        # a broken plugin must say who it is, and must not take gfp down with it
        except PLUGIN_FAILURES as exc:
            report_problem(
                f"plugin {ep.name!r} of {where} failed to load and is skipped: {one_line(exc)}"
                f"{'' if builtin else _HINT}"
            )
            continue
        _origins[ep.name] = where
        if builtin:
            _builtin.add(ep.name)


def _drop_unverifiable_plugins(pm: pluggy.PluginManager) -> None:
    """Skip plugins with ``gfp_*`` hook implementations that match no spec (a typo, or a newer gfp's hook)."""
    while True:
        try:
            pm.check_pending()
            return
        except pluggy.PluginValidationError as exc:
            name = pm.get_name(exc.plugin) or repr(exc.plugin)
            pm.unregister(exc.plugin)
            report_problem(f"plugin {name!r} is skipped: {one_line(exc)}{hint(name)}")


def plugin_hook_callers(hook_name: str) -> Iterator[tuple[str, Callable[..., object]]]:
    """``(plugin name, caller)`` for each plugin implementing ``hook_name``, in the order pluggy calls them.

    ``caller(**kwargs)`` calls the hook through pluggy restricted to that plugin (plus the plugins that only
    wrap this hook), so opt-in arguments and hook wrappers work and whatever happens is the plugin's.
    """
    pm = get_plugin_manager()
    impls = getattr(pm.hook, hook_name).get_hookimpls()  # pluggy calls them last to first
    wrapping = {i.plugin_name for i in impls if i.wrapper or i.hookwrapper}
    calling = [i.plugin_name for i in reversed(impls) if not (i.wrapper or i.hookwrapper)]
    wrapping -= set(calling)
    for name in dict.fromkeys(calling):
        keep = {name} | wrapping
        others = [plugin for other, plugin in pm.list_name_plugin() if other not in keep]
        yield name, pm.subset_hook_caller(hook_name, remove_plugins=others)


@dataclass
class Registries:
    extractors: Registry
    baselines: Registry
    gan_sources: Registry
    attacks: Registry
    real_sources: Registry

    def attributor(self, name: str):
        """An extractor or baseline class by name (both are Attributors, ``gfp train --method`` takes either)."""
        for reg in (self.extractors, self.baselines):
            if name in reg:
                return reg.get(name)
        valid = ", ".join(self.attributor_names())
        raise UnknownNameError(f"unknown method {name!r}; valid names: {valid}")

    def attributor_names(self) -> list[str]:
        return sorted(self.extractors.names() + self.baselines.names())

    def all_with_role(self, role: str) -> list[str]:
        """The names of every method that declares ``role``, extractors then baselines, each in the order
        its plugins registered them."""
        return [
            e.name for reg in (self.extractors, self.baselines) for e in reg.entries() if role in e.item.roles
        ]

    def with_role(self, role: str) -> str:
        """The name of the method that declares ``role`` (``Attributor.roles``, :data:`gfcore.interfaces.ROLES`);
        none, or several, is one line."""
        names = self.all_with_role(role)
        if len(names) != 1:
            held = (
                f"{len(names)} methods declare it ({', '.join(names)})"
                if names
                else "no installed method declares it"
            )
            raise GfpError(f"role {role!r}: {held}; name the method explicitly")
        return names[0]

    def by_kind(self) -> dict[str, Registry]:
        return {
            "extractors": self.extractors,
            "baselines": self.baselines,
            "gan_sources": self.gan_sources,
            "attacks": self.attacks,
            "real_sources": self.real_sources,
        }


#: registry attribute -> (hook, kind in messages, what an item is checked against)
_KINDS: dict[str, tuple[str, str, Callable[[object], str | None]]] = {
    "extractors": (
        "gfp_register_extractors",
        "extractor",
        lambda item: contract_problem(item, Attributor, fingerprints=True),
    ),
    "baselines": ("gfp_register_baselines", "baseline", lambda item: contract_problem(item, Attributor)),
    "gan_sources": ("gfp_register_gan_sources", "GAN source", lambda item: contract_problem(item, GanSource)),
    "attacks": ("gfp_register_attacks", "attack", lambda item: contract_problem(item, Attack)),
    "real_sources": (
        "gfp_register_real_sources",
        "real source",
        lambda item: contract_problem(item, RealSource),
    ),
}


def _build_registry(hook_name: str, kind: str, check) -> Registry:
    registry = Registry(kind, check)
    for plugin, call in plugin_hook_callers(hook_name):

        def register(item, name=None, _plugin=plugin):
            registry.register(item, plugin=_plugin, name=name)

        try:
            call(register=register)
        except DuplicateNameError:
            raise  # two plugins want one name: which one the user means is theirs to say
        except PLUGIN_FAILURES as exc:  # a broken plugin loses this kind, the rest of gfp works
            registry.drop_plugin(plugin)
            if isinstance(exc, PluginError):  # refused by the registry; the message names the plugin
                why = str(exc)
            else:
                why = f"plugin {plugin!r} failed in {hook_name}: {one_line(exc)}"
            report_problem(f"{why}; its {kind}s are skipped{hint(plugin)}")
    return registry


def get_registries(refresh: bool = False) -> Registries:
    """All registries, built from every registered plugin's hooks (cached; ``refresh`` rebuilds)."""
    global _registries
    if _registries is None or refresh:
        built = {attr: _build_registry(*spec) for attr, spec in _KINDS.items()}
        for name in sorted(set(built["extractors"].names()) & set(built["baselines"].names())):
            raise DuplicateNameError(
                f"method name {name!r} is registered twice: as an extractor by plugin "
                f"{built['extractors'].entry(name).plugin!r} and as a baseline by plugin "
                f"{built['baselines'].entry(name).plugin!r}"
            )
        _registries = Registries(**built)
    return _registries


def register_plugin(plugin: object, name: str) -> None:
    """Register a plugin object at run time (tests, notebooks) and rebuild the registries.

    A plugin that breaks the contract (a hook raises, a class or name is refused) is unregistered again
    and the :class:`PluginError` raised, rather than skipped with a warning as an installed one is."""
    pm = get_plugin_manager()
    pm.register(plugin, name=name)
    before = len(_problems)
    try:
        get_registries(refresh=True)
    except PluginError:
        pm.unregister(name=name)
        get_registries(refresh=True)
        raise
    mine = [line for line in _problems[before:] if line.startswith(f"plugin {name!r} ")]
    if mine:
        _problems[:] = [line for line in _problems if line not in mine]
        pm.unregister(name=name)
        get_registries(refresh=True)
        raise PluginError(mine[0])


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
