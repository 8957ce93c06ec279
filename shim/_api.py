"""The public functions: install, uninstall, installed, is_installed."""

from __future__ import annotations

import os
import sys

from shim import _startup
from shim._common import settings as _config
from shim.exceptions import ConfigError

# Annotations only: `typing` costs milliseconds at start-up (mypy treats a
# module-level TYPE_CHECKING like typing's).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, Optional

__all__ = ["install", "install_settings", "installed", "is_installed", "uninstall"]


def install(
    *,
    capture: Optional[str] = None,
    capture_limit: Optional[int] = None,
    shell: Optional[str] = None,
    audit: Optional[str] = None,
    log: Optional[str] = None,
    redact: Optional[Any] = None,
    **unknown: Any,
) -> None:
    """Route every ``os.system`` call through ``subprocess.Popen``.

    Options not given come from the ``SHIM_*`` environment variables, then
    from the defaults.  Calling it again changes the settings of the
    installed shim.  A bad keyword argument raises :class:`ValueError`
    (:class:`shim.exceptions.ConfigError`) naming it; a bad environment
    variable that no keyword overrides prints one line on stderr and leaves
    ``os.system`` untouched.
    """
    if unknown:
        raise ConfigError(
            f"unknown option {min(unknown)!r}; accepted options: "
            f"{', '.join(sorted(_config.VARIABLES))}"
        )
    options = {
        "capture": capture,
        "capture_limit": capture_limit,
        "shell": shell,
        "audit": audit,
        "log": log,
        "redact": redact,
    }
    given = _config.from_kwargs(options)
    if "redact" in given:
        from shim._common import redact as _redact

        _redact.compile_patterns(given["redact"], "redact")
    try:
        settings = _config.from_env(_env_not_overridden(given))
        if "redact" in settings:
            from shim._common import redact as _redact

            _redact.compile_patterns(settings["redact"], "SHIM_REDACT")
    except ValueError as exc:
        _startup._say(f"{exc}; running without the shim")
        return
    settings.update(given)
    install_settings(settings)


def _env_not_overridden(given: Dict[str, Any]) -> Dict[str, str]:
    found = {}
    for key, var in _config.VARIABLES.items():
        value = os.environ.get(var)
        if key not in given and value is not None:
            found[var] = value
    return found


def install_settings(values: Dict[str, Any]) -> None:
    """Install with already validated values (internal)."""
    from shim import _patch, _trail

    settings = _config.Settings(**values)
    _trail.configure(settings)
    _patch.install(settings)


def uninstall() -> None:
    """Restore the original ``os.system`` and every global rebound to the shim."""
    patch = sys.modules.get("shim._patch")
    trail = sys.modules.get("shim._trail")
    if trail is not None:
        trail.reset()
    if patch is not None:
        patch.uninstall()
    elif _startup.pending() or os.system is _startup.placeholder:
        os.system = sys.modules[os.name].system
        _startup.deactivated()


def is_installed() -> bool:
    """Whether ``os.system`` currently goes through the shim."""
    if _startup.pending():
        return True
    patch = sys.modules.get("shim._patch")
    return bool(patch is not None and patch.is_installed())


class installed:  # noqa: N801 - used like a function: `with shim.installed(...):`
    """Install for the duration of a ``with`` block, then put things back.

    If the shim was already installed, its previous settings are restored
    on exit instead of uninstalling it.
    """

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._previous: Optional[_config.Settings] = None

    def __enter__(self) -> None:
        patch = sys.modules.get("shim._patch")
        self._previous = patch.active_settings() if patch is not None else None
        install(**self._options)

    def __exit__(self, *exc_info: object) -> None:
        if self._previous is not None:
            install_settings(self._previous.as_dict())
        else:
            uninstall()
