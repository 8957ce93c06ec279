"""Switching the shim on at interpreter start-up.

The ``.pth`` line (``.start`` entry point on Python 3.15+) calls
:func:`main` only when ``SHIM_ENABLE`` is truthy.  Start-up must stay cheap
in every process, including the many that never call ``os.system``: wrapt
2.x imports asyncio (~100 ms here) and ``subprocess`` another few ms.  So
start-up does not install the wrapt proxy.  It validates the ``SHIM_*``
settings (string checks only) and puts :func:`placeholder`, a plain
function, on ``os.system``.  The first call through the placeholder does
the real installation, then forwards to it.  A process that never calls
``os.system`` therefore pays for importing this small package and nothing
else.

This module imports only what the interpreter has loaded before ``site``
runs.
"""

from __future__ import annotations

import os
import sys

# Annotations only: `typing` costs milliseconds at start-up (mypy treats a
# module-level TYPE_CHECKING like typing's).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, Optional

__all__ = ["arm", "main", "placeholder"]

_ran = False
# Settings read from the environment while armed, or None.
_armed: Optional[Dict[str, Any]] = None


def _say(message: str) -> None:
    """One line on stderr; start-up must never raise."""
    try:
        stream = sys.stderr
        if stream is not None:
            stream.write(f"shim: {message}\n")
            stream.flush()
    except Exception:
        pass


def placeholder(*args: Any, **kwargs: Any) -> int:
    """Stand-in for ``os.system`` until its first call installs the shim."""
    global _armed
    pending, _armed = _armed, None
    if pending is not None:
        _activate(pending)
    target = _installed_proxy()
    if target is None:
        target = sys.modules[os.name].system
    return target(*args, **kwargs)  # type: ignore[no-any-return]


placeholder.__name__ = "system"
placeholder.__qualname__ = "system"


def _installed_proxy() -> Any:
    patch = sys.modules.get("shim._patch")
    return patch.current_proxy() if patch is not None else None


def _activate(pending: Dict[str, Any]) -> None:
    try:
        from shim import _api

        _api.install_settings(pending)
    except Exception as exc:
        _say(f"could not install, running without the shim: {exc}")
        if os.system is placeholder:
            os.system = sys.modules[os.name].system


def arm() -> bool:
    """Read the ``SHIM_*`` settings and put the placeholder in place.

    A bad value prints one line naming the variable and what it accepts,
    and leaves ``os.system`` alone.  Returns whether the shim is armed.
    """
    global _armed
    from shim._common import settings as _config

    try:
        settings = _config.from_env(os.environ)
    except ValueError as exc:
        _say(f"{exc}; running without the shim")
        return False
    if os.system is sys.modules[os.name].system:
        os.system = placeholder
    elif os.system is not placeholder:
        # Already installed, or someone else owns os.system: install now so
        # that the wrappers are chained properly.
        _activate(settings)
        return True
    _armed = settings
    return True


def main() -> None:
    """Entry point of the ``.pth`` line and the ``.start`` file: once per process."""
    global _ran
    if _ran:
        return
    _ran = True
    try:
        from shim._common import settings as _config

        if _config.enabled(os.environ):
            arm()
    except Exception as exc:
        _say(f"start-up failed, running without the shim: {exc}")


def pending() -> bool:
    """Whether the placeholder is waiting for its first call."""
    return _armed is not None


def activated() -> None:
    """The wrapt proxy is installed: the placeholder only forwards now."""
    global _armed
    _armed = None


def deactivated() -> None:
    global _armed
    _armed = None
