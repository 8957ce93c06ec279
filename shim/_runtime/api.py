"""The public functions: install, uninstall, installed and is_installed.

Imported with ``shim`` itself, at start-up when ``SHIM_ENABLE`` is set, so
it stays light: validation here, the work in :mod:`shim._runtime.lifecycle`.
"""

import os

from shim._common import settings as _settings
from shim._runtime import lifecycle, warn
from shim.exceptions import ConfigError

# Annotations are strings: see shim._runtime.signals.
TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Dict, Optional

__all__ = ["install", "installed", "is_installed", "uninstall"]


def install(
    *,
    capture: "Optional[str]" = None,
    capture_limit: "Optional[int]" = None,
    shell: "Optional[str]" = None,
    audit: "Optional[str]" = None,
    log: "Optional[str]" = None,
    redact: "Optional[Any]" = None,
    otel: "Optional[bool]" = None,
    otel_propagate: "Optional[bool]" = None,
    **unknown: "Any",
) -> None:
    """Route every ``os.system`` call through ``subprocess.Popen``.

    Options not given come from the ``SHIM_*`` environment variables, then
    from the defaults.  Calling it again changes the settings of the
    installed shim.  A bad keyword argument raises :class:`ValueError`
    (:class:`shim.exceptions.ConfigError`) naming it; a bad environment
    variable that no keyword overrides prints one line on stderr and leaves
    ``os.system`` untouched.

    ``otel=True`` also reports every call to OpenTelemetry (a span and two
    metrics, see the telemetry page of the docs), and ``otel_propagate=True``
    hands the trace context to each command in ``TRACEPARENT`` and
    ``TRACESTATE``, which changes its environment.
    """
    if unknown:
        raise ConfigError(
            f"unknown option {min(unknown)!r}; accepted options: "
            f"{', '.join(sorted(_settings.VARIABLES))}"
        )
    given = _settings.from_kwargs(
        {
            "capture": capture,
            "capture_limit": capture_limit,
            "shell": shell,
            "audit": audit,
            "log": log,
            "redact": redact,
            "otel": otel,
            "otel_propagate": otel_propagate,
        }
    )
    if "redact" in given:
        from shim._common import redact as _redact

        _redact.compile_patterns(given["redact"], "redact")
    try:
        values = _settings.from_env(_env_not_overridden(given))
        if "redact" in values:
            from shim._common import redact as _redact

            _redact.compile_patterns(values["redact"], "SHIM_REDACT")
    except ValueError as exc:
        warn.say(f"{exc}; running without the shim")
        return
    values.update(given)
    lifecycle.activate(_settings.Settings(**values))


def _env_not_overridden(given: "Dict[str, Any]") -> "Dict[str, str]":
    found = {}
    for key, var in _settings.VARIABLES.items():
        value = os.environ.get(var)
        if key not in given and value is not None:
            found[var] = value
    return found


def uninstall() -> None:
    """Restore the original ``os.system`` and every global rebound to the shim."""
    lifecycle.uninstall()


def is_installed() -> bool:
    """Whether ``os.system`` currently goes through the shim (or will, at its first call)."""
    return lifecycle.state() is not lifecycle.OFF


class installed:  # noqa: N801 - used like a function: `with shim.installed(...):`
    """Install for the duration of a ``with`` block, then put things back.

    If the shim was already installed (or armed), its previous settings are
    restored on exit instead of uninstalling it.
    """

    def __init__(self, **options: "Any") -> None:
        self._options = options
        self._previous = None  # type: Optional[_settings.Settings]

    def __enter__(self) -> None:
        self._previous = lifecycle.settings()
        install(**self._options)

    def __exit__(self, *exc_info: object) -> None:
        if self._previous is not None:
            lifecycle.activate(self._previous)
        else:
            uninstall()
