"""How the shim tells the user that its own work failed: once, and never by raising.

:func:`say` writes one line on stderr (start-up, where the ``warnings``
machinery is not the right channel: a bad setting in the environment).
:func:`warn_once` emits one :class:`~shim.exceptions.ShimWarning` per
process and kind of failure (an audit file that cannot be written, a log
handler that raises), attributed to the line that called ``os.system``.

Imported at start-up: only ``sys`` and ``_thread`` at import time.
"""

import _thread
import os
import sys

# Annotations are strings, or inside functions (never evaluated): see
# shim._runtime.signals.
TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from types import FrameType
    from typing import Optional, Set

__all__ = ["say", "warn_once"]


def say(message: str) -> None:
    """One line on stderr, prefixed ``shim:``; never raises."""
    try:
        stream = sys.stderr
        if stream is not None:
            stream.write(f"shim: {message}\n")
            stream.flush()
    except Exception:
        pass


class _Once:
    """The kinds of failure already reported in this process."""

    __slots__ = ("keys", "lock")

    def __init__(self) -> None:
        self.keys: Set[str] = set()
        # Reentrant: a signal handler may warn while its thread is in here.
        self.lock = _thread.RLock()  # type: ignore[attr-defined]  # typeshed: 3.13+

    def first(self, key: str) -> bool:
        with self.lock:
            if key in self.keys:
                return False
            self.keys.add(key)
            return True


_ONCE = _Once()


def warn_once(key: str, message: str) -> None:
    """Warn once per process and ``key``; never raise.

    When warnings are turned into errors (``-W error``), the message goes
    to stderr instead: the shim's failures never become the program's.
    """
    if not _ONCE.first(key):
        return
    try:
        import warnings

        from shim.exceptions import ShimWarning

        warnings.warn(message, ShimWarning, stacklevel=_stacklevel())
    except Exception:
        say(f"warning: {message}")


def _stacklevel() -> int:
    """Return the ``stacklevel`` that points ``warnings.warn`` past shim and wrapt."""
    level = 2  # warn_once's caller, seen from warnings.warn in warn_once
    frame: Optional[FrameType] = sys._getframe(2)
    while frame is not None:
        module = frame.f_globals.get("__name__")
        if not isinstance(module, str) or module.partition(".")[0] not in ("shim", "wrapt"):
            return level
        frame = frame.f_back
        level += 1
    return level


def _after_fork_in_child() -> None:
    _ONCE.lock = _thread.RLock()  # type: ignore[attr-defined]  # typeshed: 3.13+


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
