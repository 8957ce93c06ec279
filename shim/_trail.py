"""Publishing a finished call: the log record and the audit line."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from shim._call import Call
    from shim._config import Settings

logger = logging.getLogger("shim")


def wants_record(settings: Settings) -> bool:
    """Whether this call needs a record (audit file set, or the logger listens)."""
    return bool(settings.audit) or logger.isEnabledFor(logging.INFO)


def getcwd() -> Optional[str]:
    try:
        return os.getcwd()
    except OSError:
        return None


def publish(call: Call, settings: Settings) -> None:
    """Emit the log record and append the audit line for a finished call."""


_warned: set = set()


def warn_once(key: str, message: str) -> None:
    """One warning per process and kind of failure, never an exception."""
    if key in _warned:
        return
    _warned.add(key)
    import warnings

    from shim.exceptions import ShimWarning

    try:
        warnings.warn(message, ShimWarning, stacklevel=2)
    except Exception:  # noqa: BLE001 - warnings turned into errors must not break the call
        try:
            import sys

            sys.stderr.write(f"shim: warning: {message}\n")
        except Exception:  # noqa: BLE001
            pass


def configure(settings: Settings) -> None:
    """Prepare logging and redaction for ``settings`` (raises ConfigError)."""
