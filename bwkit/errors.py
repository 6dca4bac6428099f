"""The kit's exceptions: one base, one subclass per kind of failure.

Every message a user reads from the CLI is one of these; each names what was
wrong (the parameter, the file, column and row, the stage and cell) and what
would fix it.
"""


class BwkitError(Exception):
    """Base of every error the kit raises on purpose."""

    def _render_traceback_(self) -> list[str]:
        """In a notebook (IPython and papermill ask for this), the kit's own error is its one line, no traceback."""
        return [f"{type(self).__name__}: {self}"]


class ParameterError(BwkitError, ValueError):
    """A parameter no notebook declares, or a value of the wrong type or range."""


class DataError(BwkitError, ValueError):
    """Input data the kit refuses; the message names the file, the column and the row."""


class RunError(BwkitError, RuntimeError):
    """A run that could not start (its folder) or a stage that failed (its notebook cell)."""


class RunInterrupted(RunError):
    """A run stopped by SIGINT or SIGTERM; its record says `interrupted` and `bwkit resume` finishes it."""


class DiskFull(RunError):
    """A write that found no space left on its device; nothing half-written is left behind."""


class ExportError(BwkitError, RuntimeError):
    """An exported model that does not reproduce PyTorch's answers."""
