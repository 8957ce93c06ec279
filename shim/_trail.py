"""Publishing a finished call: the log record and the audit line.

Everything here is side work: whatever fails (a handler that raises, an
audit file that cannot be written) is reported once per process as a
:class:`~shim.exceptions.ShimWarning` and never changes what ``os.system``
returns.  Secrets are masked (:mod:`shim._redact`) in everything published,
never in the command that runs.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Set, Tuple

from shim._common import status as _status

if TYPE_CHECKING:
    from types import FrameType

    from shim._call import Call
    from shim._common.settings import Settings
    from shim._common.redact import Redactor

__all__ = ["SCHEMA_VERSION", "configure", "getcwd", "logger", "publish", "record", "wants_record"]

SCHEMA_VERSION = 1

logger = logging.getLogger("shim")
if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
    logger.addHandler(logging.NullHandler())


def wants_record(settings: Settings) -> bool:
    """Whether this call needs a record (audit file set, or the logger listens)."""
    return settings.audit is not None or logger.isEnabledFor(logging.INFO)


def getcwd() -> Optional[str]:
    """Return the working directory, or ``None`` when it is gone or unreadable."""
    try:
        return os.getcwd()
    except OSError:
        return None


# --- configuration --------------------------------------------------------

_config_lock = threading.Lock()
_redactors: Dict[Tuple[str, ...], Redactor] = {}
# Audit paths as configured -> absolute, fixed at installation so that a
# program that changes directory keeps writing to the same file.
_audit_paths: Dict[str, str] = {}


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record is emitted."""

    def __init__(self, level: int) -> None:
        logging.Handler.__init__(self, level)
        self.setFormatter(logging.Formatter("%(name)s: %(levelname)s: %(message)s"))

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        """Ignore: the stream is always the current ``sys.stderr``."""


_stderr_handler: Optional[_StderrHandler] = None
# The logger level before SHIM_LOG set it, and the level it set.
_saved_level: Optional[Tuple[int, int]] = None


def configure(settings: Settings) -> None:
    """Prepare logging and redaction for ``settings``.

    Raises :class:`~shim.exceptions.ConfigError` when an extra redaction
    pattern does not compile.  ``settings.log`` adds one stderr handler to
    the ``shim`` logger (however often this is called) and lowers the
    logger's level to it; ``log=None`` takes both back.  A relative audit
    path is resolved against the working directory of this call.
    """
    with _config_lock:
        _redactor(settings.redact)
        _set_stderr_level(settings.log)
        if settings.audit is not None:
            _audit_paths[settings.audit] = os.path.abspath(settings.audit)
        elif "shim._audit" in sys.modules:
            from shim import _audit

            _audit.close()


def reset() -> None:
    """Undo :func:`configure`: no stderr handler, no open audit file."""
    with _config_lock:
        _set_stderr_level(None)
        if "shim._audit" in sys.modules:
            from shim import _audit

            _audit.close()


def _redactor(patterns: Tuple[str, ...]) -> Redactor:
    found = _redactors.get(patterns)
    if found is None:
        from shim._common import redact as _redact

        found = _redact.Redactor(_redact.compile_patterns(patterns))
        _redactors[patterns] = found
    return found


def _set_stderr_level(level_name: Optional[str]) -> None:
    global _stderr_handler, _saved_level
    handler = _stderr_handler
    if level_name is None:
        _stderr_handler = None
        if handler is not None:
            logger.removeHandler(handler)
        saved, _saved_level = _saved_level, None
        # Put the level back, unless the program changed it since.
        if saved is not None and logger.level == saved[1]:
            logger.setLevel(saved[0])
        return
    level = logging.getLevelName(level_name)
    if not isinstance(level, int):  # pragma: no cover - Settings validates the name
        level = logging.INFO
    if handler is None:
        _stderr_handler = _StderrHandler(level)
        logger.addHandler(_stderr_handler)
    else:
        handler.setLevel(level)
    if _saved_level is not None:
        _saved_level = (_saved_level[0], level)
        logger.setLevel(level)
    elif logger.level == logging.NOTSET or logger.level > level:
        # Records below the logger's level never reach a handler; a level
        # the program set lower than ours is left alone.
        _saved_level = (logger.level, level)
        logger.setLevel(level)


# --- publishing ------------------------------------------------------------

_local = threading.local()


def publish(call: Call, settings: Settings) -> None:
    """Append the audit line and emit the log record of a finished call.

    Never raises: each failure gives one warning per process.  A log
    handler that itself calls ``os.system`` does not recurse: calls made
    while a record is being logged are audited but not logged.
    """
    try:
        nested = getattr(_local, "logging", False)
        data = record(call, settings)
        if settings.audit is not None:
            _write_audit(_audit_paths.get(settings.audit, settings.audit), data)
        if not nested and logger.isEnabledFor(logging.INFO):
            _local.logging = True
            try:
                _log(data)
            except Exception as exc:
                warn_once("log", f"a handler of the 'shim' logger failed: {exc!r}")
            finally:
                _local.logging = False
    except Exception as exc:
        warn_once("publish", f"could not record an os.system call: {exc!r}")


def _write_audit(path: str, data: Dict[str, Any]) -> None:
    from shim import _audit

    try:
        _audit.append(path, _audit.encode(data))
    except OSError as exc:
        reason = exc.strerror or str(exc)
        warn_once(
            f"audit:{path}",
            f"cannot write the audit file {path!r} ({reason}); "
            "commands still run, their records are lost",
        )


def _log(data: Dict[str, Any]) -> None:
    site = data["site"]
    where = f"{site['file']}:{site['line']}" if site else None
    logger.info(
        "os.system(%r) returned %d (%s) in %.1f ms at %s",
        data["command"],
        data["status"],
        _outcome(data),
        data["duration_ms"],
        f"{where} in {site['function']}" if site else "an unknown place",
        extra={
            "shim": data,
            "shim_command": data["command"],
            "shim_status": data["status"],
            "shim_exit_code": data["exit_code"],
            "shim_signal": data["signal"],
            "shim_duration_ms": data["duration_ms"],
            "shim_site": where,
        },
    )


def _outcome(data: Dict[str, Any]) -> str:
    if data["exit_code"] is not None:
        return f"exit code {data['exit_code']}"
    if data["signal"] is not None:
        return f"signal {data['signal']}" + (", core dumped" if data["core_dumped"] else "")
    return "status not collected"


def record(call: Call, settings: Settings) -> Dict[str, Any]:
    """Return the audit record (schema v1) of a finished call, secrets masked."""
    import datetime as dt

    from shim._common import redact as _redact

    redactor = _redactor(settings.redact)
    command = redactor.command(_redact.render(call.command))
    argv: Optional[List[str]] = None
    if call.argv is not None and not call.shell:
        argv = redactor.argv([_redact.render(arg) for arg in call.argv])
    # The suggestion needs only the syntax: a command that ran under the
    # shell for another reason (shell="always", the environment) can still
    # be replaced by an argv list.  The real bytes are analysed, not the
    # masked text, where "***" would look like a glob.
    suggest_argv = argv
    if suggest_argv is None:
        from shim._common import syntax as _shell

        parsed = _shell.analyze(call.command).argv
        if parsed is not None:
            suggest_argv = redactor.argv([_redact.render(arg) for arg in parsed])
    status = call.status
    captured = call.captured
    site = call.site
    started = dt.datetime.fromtimestamp(call.started, dt.timezone.utc)
    return {
        "v": SCHEMA_VERSION,
        "ts": started.isoformat(timespec="microseconds"),
        "pid": os.getpid(),
        "command": command,
        "argv": argv,
        "shell": bool(call.shell),
        "shell_reason": call.shell_reason if call.shell else None,
        "mode": settings.shell,
        "cwd": _redact.render_str(call.cwd) if call.cwd is not None else None,
        "site": (
            {"file": _redact.render_str(site[0]), "line": site[1], "function": site[2]}
            if site is not None
            else None
        ),
        "status": status,
        "exit_code": _status.exit_code(status),
        "signal": _status.term_signal(status),
        "core_dumped": _status.core_dumped(status),
        "duration_ms": round(call.duration * 1000.0, 3),
        "capture": settings.capture,
        "stdout_bytes": getattr(captured, "stdout_bytes", None),
        "stderr_bytes": getattr(captured, "stderr_bytes", None),
        "stdout_tail": _tail(redactor, getattr(captured, "stdout_tail", None)),
        "stderr_tail": _tail(redactor, getattr(captured, "stderr_tail", None)),
        "merged": bool(getattr(captured, "merged", False)),
        "suggestion": _suggestion(command, suggest_argv),
    }


def _tail(redactor: Redactor, data: Optional[bytes]) -> Optional[str]:
    if data is None:
        return None
    from shim._common import redact as _redact

    return redactor.output(_redact.render(bytes(data)))


def _suggestion(command: str, argv: Optional[List[str]]) -> str:
    """Return the ``subprocess`` replacement, built from the masked command."""
    try:
        from shim._common import suggest as _suggest

        return _suggest.suggestion(command, argv)
    except Exception as exc:
        warn_once("suggest", f"could not suggest a subprocess call: {exc!r}")
        return ""


# --- warnings --------------------------------------------------------------

_warned: Set[str] = set()
_warned_lock = threading.Lock()


def warn_once(key: str, message: str) -> None:
    """Warn once per process and ``key``; never raise.

    The warning is a :class:`~shim.exceptions.ShimWarning` attributed to the
    line that called ``os.system``.  When warnings are turned into errors,
    the message goes to stderr instead.
    """
    with _warned_lock:
        if key in _warned:
            return
        _warned.add(key)
    try:
        import warnings

        from shim.exceptions import ShimWarning

        warnings.warn(message, ShimWarning, stacklevel=_stacklevel())
    except Exception:
        try:
            sys.stderr.write(f"shim: warning: {message}\n")
            sys.stderr.flush()
        except Exception:
            pass


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
