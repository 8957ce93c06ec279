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
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

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
_UTC = dt.timezone.utc


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
        warn.warn_once("publish", f"could not record an {call.function} call: {exc!r}")


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
    args: Tuple[Any, ...]
    if data["function"] == "os.popen":
        # os.popen(cmd, mode): the mode is part of what was called.
        called = "%s(%r, %r)"
        args = (data["function"], data["command"], data["popen_mode"])
    else:
        called = "%s(%r)"
        args = (data["function"], data["command"])
    if data["outcome"] == "refused":
        message = called + " refused (needs a shell: %s) after %.1f ms at %s"
        args += (data["shell_reason"],)
    elif data["outcome"] == "unfinished":
        message = called + " still running at exit (%s) after %.1f ms at %s"
        args += ("not closed",)
    elif data["function"] == "os.popen":
        message = called + " ended with status %d (%s, %s) after %.1f ms at %s"
        args += (data["status"], _outcome(data), _ENDS.get(data["end"], data["end"]))
    else:
        message = called + " returned %d (%s) in %.1f ms at %s"
        args += (data["status"], _outcome(data))
    logs.logger.info(
        message,
        *args,
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
            "shim_function": data["function"],
        },
    )


_ENDS = {
    "close": "closed",
    "collected": "collected unclosed",
    "exit": "unclosed at exit",
}


def _outcome(data: Dict[str, Any]) -> str:
    if data["exit_code"] is not None:
        return f"exit code {data['exit_code']}"
    if data["signal"] is not None:
        return f"signal {data['signal']}" + (", core dumped" if data["core_dumped"] else "")
    return "status not collected"


def record(call: "Call", session: "Session") -> Dict[str, Any]:
    """Return the audit record of a finished (or refused) call, secrets masked.

    Every field that shows the command in some form (``command``,
    ``argv``, ``suggestion``, the tails) comes from one masking of its
    bytes (:meth:`~shim._common.redact.Redactor.call`): a value hidden in
    one is hidden in all.
    """
    settings = session.settings
    ran_directly = call.argv is not None and not call.shell
    command, argv, secrets, suggestion = masked(call, session, ran_directly)
    refused = call.outcome == "refused"
    # A call refused, or an os.popen command still running at exit, has no status.
    wait_status = None if refused or call.outcome == "unfinished" else call.status
    captured = call.captured
    site = call.site
    started = dt.datetime.fromtimestamp(call.started, _UTC)
    return {
        "v": schema.VERSION,
        "ts": started.isoformat(timespec="microseconds"),
        "pid": os.getpid(),
        "command": command,
        "argv": argv,
        "shell": bool(call.shell) and not refused,
        "shell_reason": call.shell_reason if call.shell or refused else None,
        "sh": call.sh,
        "mode": settings.shell,
        "cwd": redact.render_str(call.cwd) if call.cwd is not None else None,
        "site": (
            {"file": redact.render_str(site[0]), "line": site[1], "function": site[2]}
            if site is not None
            else None
        ),
        "status": wait_status,
        "exit_code": None if wait_status is None else status.exit_code(wait_status),
        "signal": None if wait_status is None else status.term_signal(wait_status),
        "core_dumped": False if wait_status is None else status.core_dumped(wait_status),
        "duration_ms": round(call.duration * 1000.0, 3),
        "capture": settings.capture,
        "stdout_bytes": getattr(captured, "stdout_bytes", None),
        "stderr_bytes": getattr(captured, "stderr_bytes", None),
        "stdout_tail": _tail(session, captured, "stdout", secrets),
        "stderr_tail": _tail(session, captured, "stderr", secrets),
        "stdout_note": getattr(captured, "stdout_note", None),
        "stderr_note": getattr(captured, "stderr_note", None),
        "merged": bool(getattr(captured, "merged", False)),
        "suggestion": suggestion,
        "outcome": call.outcome,
        "function": call.function,
        "popen_mode": call.popen_mode,
        "end": call.end,
    }


#: Commands longer than this are masked anew each time, never kept.
_KEPT_COMMAND = 4096


def masked(
    call: "Call", session: "Session", ran_directly: bool
) -> Tuple[str, Optional[List[str]], List[str], str]:
    """The masked command, its masked argv or ``None``, the secrets, the suggestion.

    All four depend only on the command's bytes (and the argv it ran as)
    and the session's patterns, and a program tends to run the same
    commands again and again: they are kept per session, so a repeated
    command costs a dictionary lookup instead of masking, analysing and
    suggesting again.
    """
    key = (
        call.command,
        tuple(call.argv) if ran_directly and call.argv is not None else None,
        call.popen_mode,  # os.popen's suggestion differs from os.system's
    )
    kept = session.masks.get(key)
    if kept is None:
        # The suggestion needs only the syntax: a command that ran under the
        # shell for another reason (shell="always", the environment) can still
        # be replaced by an argv list.  The real bytes are analysed, not the
        # masked text, where "***" would look like a glob.
        words = call.argv if ran_directly else syntax.analyze(call.command).argv
        masked = session.redactor.call(call.command, words)
        kept = (
            masked.command,
            tuple(masked.argv) if ran_directly and masked.argv is not None else None,
            tuple(masked.secrets),
            _suggestion(call, masked.command, masked.argv),
        )
        if len(call.command) <= _KEPT_COMMAND:
            masks = session.masks
            if len(masks) >= session.MASKS_KEPT:
                masks.clear()
            masks[key] = kept
    command, argv, secrets, suggestion = kept
    # Fresh lists for every record: a log handler may change what it is given.
    return command, None if argv is None else list(argv), list(secrets), suggestion


def _tail(session: "Session", captured: Any, stream: str, known: List[str]) -> Optional[str]:
    data: Optional[bytes] = getattr(captured, f"{stream}_tail", None)
    if data is None:
        return None
    context: bytes = getattr(captured, f"{stream}_context", None) or b""
    count: Optional[int] = getattr(captured, f"{stream}_bytes", None)
    cut = count is not None and count > len(data) + len(context)
    return session.redactor.tail(bytes(data), context=bytes(context), known=known, cut=cut)


def _suggestion(call: "Call", command: str, argv: Optional[List[str]]) -> str:
    """Return the ``subprocess`` replacement, built from the masked command."""
    try:
        if call.popen_mode is not None:
            return suggest.popen_literal_suggestion(command, argv, mode=call.popen_mode)
        return suggest.suggestion(command, argv)
    except Exception as exc:
        warn.warn_once("suggest", f"could not suggest a subprocess call: {exc!r}")
        return ""
