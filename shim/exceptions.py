"""Exceptions and warnings raised by shim.

Each exception also subclasses the builtin a caller is most likely to catch
already, so switching the shim on breaks no existing ``except`` clause.
"""

# Annotations are strings: `typing` costs milliseconds at start-up, and
# Python 3.6 has no postponed evaluation of annotations.  mypy reads a
# module-level TYPE_CHECKING like typing's.
TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Optional, Tuple

__all__ = ["ConfigError", "ShellRequiredError", "ShimError", "ShimWarning"]


class ShimError(Exception):
    """Base class of every exception raised by shim."""


class ConfigError(ShimError, ValueError):
    """A setting has a value shim does not accept.

    The message names the setting (the keyword argument or the environment
    variable) and the values it accepts.
    """


class ShellRequiredError(ShimError, OSError):
    """A command needs ``/bin/sh`` but the shell is switched off (``shell="never"``).

    Subclasses :class:`OSError`, which is what ``subprocess`` raises when a
    program cannot be run, so code that already guards its command runs with
    ``except OSError`` keeps working.  Nothing has run when this is raised.

    ``command`` (and the message) show the command as the audit record
    does, secrets masked: exceptions end up in tracebacks, error reports
    and logs.  ``reason`` says why a shell is needed, ``site`` where the
    call was made (``file:line``).
    """

    def __init__(self, command: str, reason: str, site: "Optional[str]" = None) -> None:
        where = f" (called from {site})" if site else ""
        super().__init__(f"command needs a shell ({reason}){where}: {command}")
        self.command = command
        self.reason = reason
        self.site = site

    def __str__(self) -> str:
        return str(self.args[0])

    def __reduce__(self) -> "Tuple[Any, Tuple[str, str, Optional[str]]]":
        return (type(self), (self.command, self.reason, self.site))


class ShimWarning(UserWarning):
    """Base class of the warnings shim emits when its own side work fails."""
