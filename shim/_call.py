"""One ``os.system`` call, as the shim performs it.

The steps, in the order plain ``os.system`` takes them: check and encode
the argument, raise the ``os.system`` audit event, run the command, return
the wait status.  The shim's own work (capture, the audit trail, logging)
hangs off that path and can never change its outcome.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

from shim import _capture, _runner, _trail
from shim._common import platform as _env
from shim._common import status as _status

if TYPE_CHECKING:
    from types import FrameType

    from shim._common.settings import Settings

__all__ = ["Call", "encode", "perform", "split_arguments"]

_SHIM_DIR = os.path.dirname(os.path.abspath(__file__))
_NO_COMMAND = object()


def split_arguments(args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Any:
    """The ``command`` argument, or a marker when the call does not bind.

    ``os.system`` takes exactly one argument, positionally or as
    ``command=``; for anything else the caller lets the original function
    raise its own ``TypeError`` (it raises before running anything).
    """
    if len(args) == 1 and not kwargs:
        return args[0]
    if not args and len(kwargs) == 1 and "command" in kwargs:
        return kwargs["command"]
    return _NO_COMMAND


def binds(command: Any) -> bool:
    return command is not _NO_COMMAND


def encode(command: Any) -> bytes:
    """The bytes ``os.system`` passes to ``system(3)``, or its exception.

    ``str`` is encoded with the file system encoding and ``surrogateescape``
    (``os.fsencode``), an ``os.PathLike`` is resolved first, anything else
    is a ``TypeError`` with the message ``os.system`` gives.
    """
    path = os.fspath(command)
    data = os.fsencode(path) if isinstance(path, str) else path
    if b"\0" in data:
        raise ValueError("embedded null byte")
    return data


class Call:
    """What the shim knows about one call, for capture, logs and the audit trail."""

    __slots__ = (
        "argv",
        "captured",
        "command",
        "cwd",
        "duration",
        "env",
        "executable",
        "shell",
        "shell_reason",
        "site",
        "started",
        "status",
        "t0",
    )

    def __init__(self, command: bytes) -> None:
        self.command = command
        self.argv: Optional[List[bytes]] = None
        # For a run without the shell: the file dash would execute, and the
        # environment in the order dash would pass it.
        self.executable = b""
        self.env: Optional[Dict[bytes, bytes]] = None
        self.shell = True
        self.shell_reason: Optional[str] = None
        self.started = time.time()
        self.t0 = time.monotonic()
        self.duration = 0.0
        self.status = _status.WAIT_FAILED
        self.cwd: Optional[str] = None
        self.site: Optional[Tuple[str, int, str]] = None
        self.captured: Any = None


def call_site() -> Optional[Tuple[str, int, str]]:
    """``(file, line, function)`` of the first frame outside shim and wrapt.

    That is the line that called ``os.system``, whatever name it used: the
    wrapper is C code when wrapt's extension is loaded and Python code
    (``wrapt/wrappers.py``) when it is not, so both are skipped.
    """
    frame: Optional[FrameType] = sys._getframe(1)
    while frame is not None:
        code = frame.f_code
        filename = code.co_filename
        internal = _internal_files.get(filename)
        if internal is None:
            internal = _internal_files[filename] = _is_internal(filename)
        if not internal:
            return filename, frame.f_lineno, getattr(code, "co_qualname", code.co_name)
        frame = frame.f_back
    return None


# co_filename -> whether it belongs to shim or wrapt (a handful of entries).
_internal_files: Dict[str, bool] = {}


def _is_internal(filename: str) -> bool:
    if not filename:
        return False
    directory = os.path.dirname(os.path.abspath(filename))
    return directory == _SHIM_DIR or directory == _wrapt_dir()


def _wrapt_dir() -> Optional[str]:
    module = sys.modules.get("wrapt")
    path = getattr(module, "__file__", None)
    return os.path.dirname(os.path.abspath(path)) if path else None


def shell_argv(command: bytes) -> List[bytes]:
    """The argv ``system(3)`` gives ``/bin/sh``."""
    if _env.SYSTEM_PASSES_DASHDASH:
        return [_env.SHELL_NAME, b"-c", b"--", command]
    return [_env.SHELL_NAME, b"-c", command]


def plan_without_shell(call: Call, settings: Settings) -> None:
    """Decide, for ``shell="auto"`` and ``"never"``, whether to skip ``/bin/sh``.

    In ``auto`` mode the shell is skipped only when the command needs no
    shell syntax *and* dash would hand the program exactly what a direct
    exec hands it (environment, signal mask, the file found on PATH).  In
    ``never`` mode only the syntax counts; a command that needs the shell
    raises :class:`ShellRequiredError`, naming the reason and the call site.
    """
    from shim._common import syntax as _shell
    from shim._runtime import shellfree as _shellfree

    analysis = _shell.analyze(call.command)
    reason = analysis.reason
    if analysis.argv is not None and settings.shell == "auto" and not _env.SHELL_IS_DASH:
        reason = "/bin/sh is not dash"
    elif analysis.argv is not None:
        names, ordered = _environment()
        if settings.shell == "auto":
            reason = _shellfree.environment_reason(names)
        if reason is None:
            program = _shellfree.locate(analysis.argv[0], names.get(b"PATH"))
            if program is not None:
                call.argv = analysis.argv
                call.executable = program
                call.env = ordered
                call.shell = False
                return
            reason = "program not found on PATH"
    call.shell_reason = reason
    if settings.shell == "never":
        refuse(call, reason or "unknown")


# The last environment seen and what was derived from it: most programs
# call os.system many times with the same environment.
_last_environment: List[Any] = [None, None, None]


def _environment() -> Tuple[Dict[bytes, bytes], Dict[bytes, bytes]]:
    """The C environment as a mapping, and in the order dash passes it on."""
    from shim._runtime import shellfree as _shellfree

    entries = tuple(_shellfree.c_environment())
    if _last_environment[0] != entries:
        names = dict(entries)
        ordered = {name: names[name] for name in _shellfree.environment_order(names)}
        _last_environment[:] = [entries, names, ordered]
    return _last_environment[1], _last_environment[2]


def refuse(call: Call, reason: str) -> None:
    """Raise :class:`ShellRequiredError` for ``call`` (``shell="never"``)."""
    from shim.exceptions import ShellRequiredError

    site = call.site or call_site()
    where = f"{site[0]}:{site[1]}" if site else None
    raise ShellRequiredError(os.fsdecode(call.command), reason, where)


def perform(command: bytes, settings: Settings) -> int:
    """Run an already encoded and audited command; return the wait status."""
    call = Call(command)
    wants_record = _trail.wants_record(settings)
    if wants_record:
        call.site = call_site()
        call.cwd = _trail.getcwd()
    if settings.shell != "always":
        plan_without_shell(call, settings)
    stdio = _capture.stdio_for(settings)

    def finish(status: int) -> None:
        call.status = status
        call.duration = time.monotonic() - call.t0
        if wants_record:
            call.captured = _capture.result(stdio)
            _trail.publish(call, settings)

    if call.argv is not None:
        status = _runner.run(call.argv, call.executable, stdio, finish=finish, env=call.env)
        if status is not None:
            return status
        # The program could not be executed (not executable, no "#!" line,
        # ...). Nothing has run, so /bin/sh takes over and gives exactly its
        # own status and message (or, in "never" mode, the call is refused).
        call.argv = None
        call.shell = True
        call.shell_reason = "program cannot be executed directly"
        if settings.shell == "never":
            refuse(call, call.shell_reason)
        stdio = _capture.stdio_for(settings)
    status = _runner.run(shell_argv(command), _env.SHELL_PATH, stdio, finish=finish)
    return _status.SHELL_START_FAILED if status is None else status
