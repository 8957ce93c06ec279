"""Putting the shim on ``os.system`` and taking it off again, with wrapt.

The shim is a ``wrapt.FunctionWrapper`` around the C function
(``posix.system`` or ``nt.system``).  It goes at the *bottom* of whatever
chain of wrapt proxies is already on ``os.system``, so that another
instrumentation's wrapper keeps running in front of it, and a wrapper added
later simply wraps ours.  Taking it off unlinks it from that chain again.

``from os import system`` made before installation leaves a module global
holding the C function; those globals are rebound on install and restored
on uninstall, so every spelling of the call goes through the shim.
"""

from __future__ import annotations

import os
import sys
import threading
from types import ModuleType
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple

import wrapt as _wrapt

from shim import _call, _startup
from shim._common import platform as _env

if TYPE_CHECKING:
    from shim._common.settings import Settings

__all__ = ["active_settings", "install", "is_installed", "uninstall"]

ORIGINAL: Callable[..., int] = sys.modules[os.name].system

# wrapt's type stubs differ between the 1.x and 2.x lines supported; the few
# objects used here are checked by the tests, on both lines.
wrapt: Any = _wrapt

# wrapt 2 renamed the base of its proxies (FunctionWrapper is no longer an
# ObjectProxy); either way it is the type that has a settable __wrapped__.
_PROXY_BASE: Any = getattr(wrapt, "BaseObjectProxy", wrapt.ObjectProxy)

_lock = threading.RLock()
_settings: Optional[Settings] = None
_proxy: Any = None
# (module namespace, name, value it held, value we put there)
_rebound: List[Tuple[Dict[str, Any], str, Any, Any]] = []


def _system(
    wrapped: Callable[..., int], instance: Any, args: Tuple[Any, ...], kwargs: Dict[str, Any]
) -> int:
    """The body of the shimmed ``os.system``."""
    settings = _settings
    if settings is None or wrapped is not ORIGINAL:
        # Uninstalled while another wrapper still holds us, or wrapping a
        # function we cannot see through: stay out of the way.
        return wrapped(*args, **kwargs)
    command = _call.split_arguments(args, kwargs)
    if not _call.binds(command):
        return wrapped(*args, **kwargs)  # raises the original TypeError, runs nothing
    if _env.IS_WINDOWS:  # pragma: no cover - Windows only
        return _windows_system(wrapped, command)
    data = _call.encode(command)
    sys.audit("os.system", data)
    return _call.perform(data, settings)


def _windows_system(wrapped: Callable[..., int], command: Any) -> int:  # pragma: no cover
    from shim import _windows

    if not isinstance(command, str):
        return wrapped(command)  # raises the original TypeError
    if "\0" in command:
        raise ValueError("embedded null character")
    sys.audit("os.system", command)
    return _windows.run(command, os.environ)


def active_settings() -> Optional[Settings]:
    """The settings in force, or ``None`` when the shim is not installed."""
    return _settings


def is_installed() -> bool:
    return _settings is not None


def _is_ours(obj: Any) -> bool:
    return isinstance(obj, wrapt.FunctionWrapper) and getattr(obj, "_self_wrapper", None) is _system


def _is_plain(obj: Any) -> bool:
    """The C function itself, or the start-up placeholder standing in for it."""
    return obj is ORIGINAL or obj is _startup.placeholder


def _chain(obj: Any) -> List[Any]:
    """``obj`` and everything under it through wrapt's ``__wrapped__``."""
    chain = [obj]
    while isinstance(chain[-1], _PROXY_BASE) and len(chain) < 100:
        chain.append(chain[-1].__wrapped__)
    return chain


def _place() -> Any:
    """Put our proxy on ``os.system``; return what module globals holding the C function get."""
    global _proxy
    current = os.system
    if any(_is_ours(link) for link in _chain(current)):
        return current
    _proxy = wrapt.FunctionWrapper(ORIGINAL, _system)
    chain = _chain(current)
    if _is_plain(chain[-1]):
        if len(chain) == 1:
            os.system = _proxy
        else:
            # Keep the other tool's wrappers in front of ours.
            chain[-2].__wrapped__ = _proxy
        return os.system
    # Something we cannot see through (a mock, a plain function) replaced
    # os.system. Wrapping it keeps it working; _system then calls through.
    _proxy = wrapt.FunctionWrapper(current, _system)
    os.system = _proxy
    from shim import _trail

    _trail.warn_once(
        "opaque",
        f"os.system is {current!r}, not the original function; "
        "shim leaves it in charge and does not run commands itself",
    )
    # Globals that still hold the C function never went through that
    # replacement: they get a proxy of their own around the C function.
    return wrapt.FunctionWrapper(ORIGINAL, _system)


def _take_off() -> None:
    global _proxy
    proxy, _proxy = _proxy, None
    if proxy is None:
        return
    if os.system is proxy:
        os.system = proxy.__wrapped__
        return
    for link in _chain(os.system):
        if isinstance(link, _PROXY_BASE) and link.__wrapped__ is proxy:
            link.__wrapped__ = proxy.__wrapped__
            return
    # Wrapped by something opaque: our proxy stays, but passes calls through
    # now that no settings are active.


def _namespaces() -> List[Tuple[str, Dict[str, Any]]]:
    skip = {"os", "posix", "nt", "shim", "builtins", "sys"}
    found = []
    for name, module in list(sys.modules.items()):
        if name in skip or name.startswith("shim.") or not isinstance(module, ModuleType):
            continue
        namespace = getattr(module, "__dict__", None)
        if isinstance(namespace, dict):
            found.append((name, namespace))
    return found


def _rebind(target: Any) -> None:
    """Point module globals holding the original function at ``target``."""
    for _, namespace in _namespaces():
        for key, value in list(namespace.items()):
            if _is_plain(value) and value is not target:
                namespace[key] = target
                _rebound.append((namespace, key, value, target))


def install(settings: Settings) -> None:
    """Install, or change the settings of the installed shim."""
    global _settings
    with _lock:
        _settings = settings
        target = _place()
        _rebind(target)
        _startup.activated()


def current_proxy() -> Any:
    """Our proxy while installed (what the start-up placeholder forwards to)."""
    return _proxy if _settings is not None else None


def uninstall() -> None:
    """Take the shim off; a no-op when it is not installed."""
    global _settings
    with _lock:
        _settings = None
        _take_off()
        if os.system is _startup.placeholder:
            os.system = ORIGINAL
        while _rebound:
            namespace, key, before, ours = _rebound.pop()
            if namespace.get(key) is ours:
                namespace[key] = ORIGINAL if before is _startup.placeholder else before
        _startup.deactivated()
