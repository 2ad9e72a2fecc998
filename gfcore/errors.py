"""User-facing errors: the CLI prints their message as one line and exits 1, never a traceback."""


class GfpError(Exception):
    """A failure the user can act on (bad input, unknown name, incompatible checkpoint)."""


class UnknownNameError(GfpError, KeyError):
    """A name that no plugin registered; the message lists the valid names."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class PluginError(GfpError):
    """A plugin broke its contract (its hook raised, it registered something unusable); names the plugin."""


class DuplicateNameError(PluginError):
    """Two plugins registered the same name for one kind; the message names both."""


class NothingToDo(GfpError):
    """The request is already fulfilled (resuming a finished run): the CLI says so and exits 0."""
