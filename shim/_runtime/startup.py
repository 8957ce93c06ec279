"""Switching the shim on at interpreter start-up, and by ``import shim.auto``.

The ``.pth`` line (the ``.start`` entry point on Python 3.15+) calls
:func:`main` only when ``SHIM_ENABLE`` is truthy.  Start-up runs in every
process, including the many that never call ``os.system``, so it only
validates the ``SHIM_*`` settings (string checks) and arms the lifecycle:
a plain placeholder goes on ``os.system`` and the first call does the real
work (see :mod:`shim._runtime.lifecycle`).

This module and what it imports at start-up use only what the interpreter
has loaded before ``site`` runs, plus the shim's own small modules.
"""

import os

from shim._runtime import lifecycle, warn
from shim._runtime.signals import HOLD

__all__ = ["arm", "main"]


def arm() -> bool:
    """Read the ``SHIM_*`` settings and arm the shim with them.

    A bad value prints one line naming the variable and what it accepts,
    and leaves ``os.system`` alone.  Returns whether the shim is armed.
    """
    from shim._common.settings import Settings, from_env

    try:
        values = from_env(os.environ)
    except ValueError as exc:
        warn.say(f"{exc}; running without the shim")
        return False
    lifecycle.arm(Settings(**values))
    return True


class _Once:
    """Whether start-up has run in this process: its one piece of state.

    ``site`` can process the same ``.pth`` file twice (a virtual environment
    made from another one lists its site-packages twice), and Python 3.15
    may run both the ``.start`` entry point and the ``.pth`` line.
    """

    ran = False


def main() -> None:
    """Entry point of the ``.pth`` line and the ``.start`` file: once per process; never raises."""
    if _Once.ran:
        return
    _Once.ran = True
    try:
        from shim._common.settings import enabled

        if enabled(os.environ):
            # site runs in the main thread: remember it without importing
            # threading, which would cost every process milliseconds.
            HOLD.adopt_main_thread()
            arm()
    except Exception as exc:
        warn.say(f"start-up failed, running without the shim: {exc}")
