"""Settings: from keyword arguments of ``install()`` and from ``SHIM_*`` variables.

This module runs at interpreter start-up when ``SHIM_ENABLE`` is set, so it
imports nothing beyond what the interpreter has already loaded (``os``), and
its annotations are strings: ``typing`` costs milliseconds at start-up, and
Python 3.6 has no postponed evaluation of annotations.  Regular expressions
(``SHIM_REDACT``) are checked for their syntax only when the shim is
activated, because importing :mod:`re` would cost start-up time in every
process.

Start-up, ``install()``, ``shim run`` and ``shim doctor`` all validate through
:func:`from_env` and :func:`from_kwargs`, so a value is accepted or refused
the same way everywhere.
"""

import os

from shim.exceptions import ConfigError

# mypy reads a module-level TYPE_CHECKING like typing's.
TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Callable, Dict, Mapping, Optional, Tuple

__all__ = [
    "CAPTURE_MODES",
    "FALSY",
    "LOG_LEVELS",
    "SHELL_MODES",
    "TRUTHY",
    "VARIABLES",
    "Settings",
    "enabled",
    "from_env",
    "from_kwargs",
]

TRUTHY = ("1", "true", "yes", "on")
FALSY = ("0", "false", "no", "off")
CAPTURE_MODES = ("off", "tee")
SHELL_MODES = ("always", "auto", "never")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
DEFAULT_CAPTURE_LIMIT = 65536

#: keyword argument -> environment variable
VARIABLES = {
    "capture": "SHIM_CAPTURE",
    "capture_limit": "SHIM_CAPTURE_LIMIT",
    "shell": "SHIM_SHELL",
    "audit": "SHIM_AUDIT",
    "log": "SHIM_LOG",
    "redact": "SHIM_REDACT",
    "otel": "SHIM_OTEL",
    "otel_propagate": "SHIM_OTEL_PROPAGATE",
}


class Settings:
    """The validated settings of one installation (immutable)."""

    __slots__ = (
        "audit",
        "capture",
        "capture_limit",
        "log",
        "otel",
        "otel_propagate",
        "redact",
        "shell",
    )

    if TYPE_CHECKING:  # pragma: no cover
        capture: str
        capture_limit: int
        shell: str
        audit: Optional[str]
        log: Optional[str]
        redact: Tuple[str, ...]
        otel: bool
        otel_propagate: bool

    def __init__(
        self,
        *,
        capture: "str" = "off",
        capture_limit: "int" = DEFAULT_CAPTURE_LIMIT,
        shell: "str" = "always",
        audit: "Optional[str]" = None,
        log: "Optional[str]" = None,
        redact: "Tuple[str, ...]" = (),
        otel: bool = False,
        otel_propagate: bool = False,
    ) -> None:
        object.__setattr__(self, "capture", capture)
        object.__setattr__(self, "capture_limit", capture_limit)
        object.__setattr__(self, "shell", shell)
        object.__setattr__(self, "audit", audit)
        object.__setattr__(self, "log", log)
        object.__setattr__(self, "redact", redact)
        object.__setattr__(self, "otel", otel)
        object.__setattr__(self, "otel_propagate", otel_propagate)

    def __setattr__(self, name: "str", value: "object") -> None:
        raise AttributeError("Settings are immutable")

    def as_dict(self) -> "Dict[str, Any]":
        return {name: getattr(self, name) for name in self.__slots__}

    def __eq__(self, other: "object") -> bool:
        return isinstance(other, Settings) and self.as_dict() == other.as_dict()

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.as_dict().items())))

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in sorted(self.as_dict().items()))
        return f"Settings({inner})"


def enabled(environ: "Mapping[str, str]") -> bool:
    """Whether ``SHIM_ENABLE`` asks for the shim."""
    return environ.get("SHIM_ENABLE", "").strip().lower() in TRUTHY


def _bad(name: str, value: object, accepted: str) -> ConfigError:
    return ConfigError(f"{name}={value!r} is not valid; accepted values: {accepted}")


def _choice(name: str, value: object, choices: "Tuple[str, ...]") -> str:
    if isinstance(value, str) and value.strip().lower() in choices:
        return value.strip().lower()
    raise _bad(name, value, "|".join(choices))


def _limit(name: str, value: object) -> int:
    if isinstance(value, str):
        text = value.strip()
        # str.isdigit() also accepts other scripts' digits; int() would too.
        if text and all("0" <= c <= "9" for c in text):
            return int(text)
    elif isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise _bad(name, value, "a whole number of bytes, 0 or more")


def _level(name: str, value: object) -> str:
    if isinstance(value, str) and value.strip().upper() in LOG_LEVELS:
        return value.strip().upper()
    raise _bad(name, value, "|".join(LOG_LEVELS))


def _audit(name: str, value: object) -> str:
    try:
        path = os.fspath(value)  # type: ignore[call-overload]
    except TypeError:
        raise _bad(name, value, "a file path") from None
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not path or "\0" in path:
        raise _bad(name, value, "a file path")
    # Relative to where the program started, not to wherever it has chdir'ed
    # by the time of its first call.
    try:
        return str(os.path.abspath(path))
    except OSError:  # the working directory is gone
        return str(path)


def _redact(name: str, value: object) -> "Tuple[str, ...]":
    if isinstance(value, str):
        parts = tuple(p for p in value.split(";") if p.strip())
    elif isinstance(value, (list, tuple)) and all(isinstance(p, str) for p in value):
        parts = tuple(value)
    else:
        raise _bad(name, value, "regular expressions (a list, or ';'-separated in the environment)")
    if any(not p for p in parts):
        raise _bad(name, value, "non-empty regular expressions")
    return parts


def _flag(name: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text in TRUTHY:
            return True
        if text in FALSY:
            return False
    raise _bad(name, value, "|".join(TRUTHY + FALSY) + " (or a bool)")


# A string annotation: module-level annotations are evaluated (Python 3.6).
_CHECKS: "Dict[str, Callable[[str, object], Any]]" = {
    "capture": lambda n, v: _choice(n, v, CAPTURE_MODES),
    "capture_limit": _limit,
    "shell": lambda n, v: _choice(n, v, SHELL_MODES),
    "audit": _audit,
    "log": _level,
    "redact": _redact,
    "otel": _flag,
    "otel_propagate": _flag,
}


def from_env(environ: "Mapping[str, str]") -> "Dict[str, Any]":
    """The settings the environment gives, validated.

    Unset and empty variables give nothing.  Raises :class:`ConfigError`
    naming the variable for a bad value.
    """
    found: Dict[str, Any] = {}
    for key, var in VARIABLES.items():
        raw = environ.get(var)
        if raw is None or not raw.strip():
            continue
        found[key] = _CHECKS[key](var, raw)
    return found


def from_kwargs(options: "Mapping[str, Any]") -> "Dict[str, Any]":
    """The settings keyword arguments give, validated (``None`` means unset)."""
    found: Dict[str, Any] = {}
    for key, value in options.items():
        if key not in _CHECKS:
            raise ConfigError(
                f"unknown option {key!r}; accepted options: {', '.join(sorted(_CHECKS))}"
            )
        if value is None:
            continue
        found[key] = _CHECKS[key](key, value)
    return found
