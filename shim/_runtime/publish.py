"""Publishing a finished call: its audit record and its log record.

Everything here is side work: whatever fails (a handler that raises, an
audit file that cannot be written) is reported once per process as a
:class:`~shim.exceptions.ShimWarning` and never changes what ``os.system``
returns.  Secrets are masked (:mod:`shim._common.redact`) in everything
published, never in the command that runs.
"""

import datetime as dt
import logging
import os
import threading
from typing import TYPE_CHECKING, Any, Dict, List, Optional

from shim._common import redact, schema, status, suggest, syntax
from shim._runtime import logs, warn

if TYPE_CHECKING:
    from shim._runtime.call import Call
    from shim._runtime.session import Session

__all__ = ["publish", "record"]


class _Publishing(threading.local):
    """Per thread: whether this thread is inside a log handler of ours."""

    logging = False


_PUBLISHING = _Publishing()


def publish(call: "Call", session: "Session") -> None:
    """Append the audit line and emit the log record of a finished call.

    Never raises: each failure gives one warning per process.  A log
    handler that itself calls ``os.system`` does not recurse: calls made
    while a record is being logged are audited but not logged.
    """
    try:
        data = record(call, session)
        if session.audit is not None:
            _write_audit(session, data)
        if not _PUBLISHING.logging and logs.logger.isEnabledFor(logging.INFO):
            _PUBLISHING.logging = True
            try:
                _log(data)
            except Exception as exc:
                warn.warn_once("log", f"a handler of the 'shim' logger failed: {exc!r}")
            finally:
                _PUBLISHING.logging = False
    except Exception as exc:
        warn.warn_once("publish", f"could not record an os.system call: {exc!r}")


def _write_audit(session: "Session", data: Dict[str, Any]) -> None:
    audit_file = session.audit
    assert audit_file is not None  # noqa: S101 - checked by the caller
    try:
        audit_file.append(schema.encode(data))
    except OSError as exc:
        reason = exc.strerror or str(exc)
        warn.warn_once(
            f"audit:{audit_file.path}",
            f"cannot write the audit file {audit_file.path!r} ({reason}); "
            "commands still run, their records are lost",
        )


def _log(data: Dict[str, Any]) -> None:
    site = data["site"]
    where = f"{site['file']}:{site['line']}" if site else None
    logs.logger.info(
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


def record(call: "Call", session: "Session") -> Dict[str, Any]:
    """Return the audit record of a finished call, secrets masked."""
    settings = session.settings
    redactor = session.redactor
    command = redactor.command(redact.render(call.command))
    argv: Optional[List[str]] = None
    if call.argv is not None and not call.shell:
        argv = redactor.argv([redact.render(arg) for arg in call.argv])
    # The suggestion needs only the syntax: a command that ran under the
    # shell for another reason (shell="always", the environment) can still
    # be replaced by an argv list.  The real bytes are analysed, not the
    # masked text, where "***" would look like a glob.
    suggest_argv = argv
    if suggest_argv is None:
        parsed = syntax.analyze(call.command).argv
        if parsed is not None:
            suggest_argv = redactor.argv([redact.render(arg) for arg in parsed])
    wait_status = call.status
    captured = call.captured
    site = call.site
    started = dt.datetime.fromtimestamp(call.started, dt.timezone.utc)
    return {
        "v": schema.VERSION,
        "ts": started.isoformat(timespec="microseconds"),
        "pid": os.getpid(),
        "command": command,
        "argv": argv,
        "shell": bool(call.shell),
        "shell_reason": call.shell_reason if call.shell else None,
        "mode": settings.shell,
        "cwd": redact.render_str(call.cwd) if call.cwd is not None else None,
        "site": (
            {"file": redact.render_str(site[0]), "line": site[1], "function": site[2]}
            if site is not None
            else None
        ),
        "status": wait_status,
        "exit_code": status.exit_code(wait_status),
        "signal": status.term_signal(wait_status),
        "core_dumped": status.core_dumped(wait_status),
        "duration_ms": round(call.duration * 1000.0, 3),
        "capture": settings.capture,
        "stdout_bytes": getattr(captured, "stdout_bytes", None),
        "stderr_bytes": getattr(captured, "stderr_bytes", None),
        "stdout_tail": _tail(redactor, getattr(captured, "stdout_tail", None)),
        "stderr_tail": _tail(redactor, getattr(captured, "stderr_tail", None)),
        "merged": bool(getattr(captured, "merged", False)),
        "suggestion": _suggestion(command, suggest_argv),
    }


def _tail(redactor: redact.Redactor, data: Optional[bytes]) -> Optional[str]:
    if data is None:
        return None
    return redactor.output(redact.render(bytes(data)))


def _suggestion(command: str, argv: Optional[List[str]]) -> str:
    """Return the ``subprocess`` replacement, built from the masked command."""
    try:
        return suggest.suggestion(command, argv)
    except Exception as exc:
        warn.warn_once("suggest", f"could not suggest a subprocess call: {exc!r}")
        return ""
