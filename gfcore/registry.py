"""One generic name -> item registry per kind of plugin item (extractor, baseline, GAN source, attack)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gfcore.errors import DuplicateNameError, PluginError, UnknownNameError


@dataclass(frozen=True)
class Entry:
    name: str
    item: Any  # the registered class (or object)
    plugin: str  # name of the plugin that registered it
    description: str


class Registry:
    """Names of one kind, each registered by exactly one plugin.

    ``check(item)`` returns what is wrong with an item (``None`` when it keeps the kind's contract); a
    refused item is a :class:`PluginError` naming the plugin, so a broken plugin is found at registration,
    not halfway through a user's command.
    """

    def __init__(self, kind: str, check: Callable[[Any], str | None] | None = None):
        self.kind = kind  # e.g. "attack"; used in error messages
        self._check = check
        self._entries: dict[str, Entry] = {}

    def register(self, item: Any, *, plugin: str, name: str | None = None) -> None:
        name = name or getattr(item, "name", None)
        if not name or not isinstance(name, str):
            raise PluginError(f"plugin {plugin!r} registered a {self.kind} without a name: {item!r}")
        problem = self._check(item) if self._check else None
        if problem:
            raise PluginError(f"plugin {plugin!r} registered {self.kind} {name!r}, which {problem}")
        if name in self._entries:
            both = " and ".join(repr(p) for p in sorted({self._entries[name].plugin, plugin}))
            raise DuplicateNameError(f"{self.kind} name {name!r} is registered by two plugins: {both}")
        description = (getattr(item, "description", "") or "").strip().splitlines()
        self._entries[name] = Entry(name, item, plugin, description[0] if description else "")

    def drop_plugin(self, plugin: str) -> None:
        """Forget everything ``plugin`` registered (it failed halfway: all of it or none)."""
        self._entries = {n: e for n, e in self._entries.items() if e.plugin != plugin}

    def get(self, name: str) -> Any:
        return self.entry(name).item

    def entry(self, name: str) -> Entry:
        try:
            return self._entries[name]
        except KeyError:
            valid = ", ".join(self.names()) or "(none registered)"
            raise UnknownNameError(f"unknown {self.kind} {name!r}; valid names: {valid}") from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def entries(self) -> list[Entry]:
        return [self._entries[n] for n in self.names()]

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def __len__(self) -> int:
        return len(self._entries)
