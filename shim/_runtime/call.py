"""One ``os.system`` call, as the shim performs it.

The steps, in the order plain ``os.system`` takes them: check and encode
the argument, raise the ``os.system`` audit event, run the command, return
the wait status.  The shim's own work (capture, the audit trail, logging)
hangs off that path and can never change its outcome.
"""

import os
import sys
import time
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple

from shim._common import platform, status
from shim._runtime import capture, runner
from shim._runtime.signals import HOLD, raise_signal

if TYPE_CHECKING:
    from types import FrameType

    from shim._common.settings import Settings
    from shim._runtime.session import Session

__all__ = ["Call", "Shim", "call_site", "encode", "perform", "shell_argv"]

#: The C function the proxy wraps (``posix.system``).
ORIGINAL: Callable[..., int] = __import__(os.name).system

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_NO_COMMAND = object()
# No sys.audit before Python 3.8, and no os.system audit event either.
_audit_event: Optional[Callable[..., None]] = getattr(sys, "audit", None)


class Shim:
    """The handler of the shim's wrapt proxies: the body of the shimmed ``os.system``.

    One instance per process, owned by the lifecycle, which sets
    :attr:`session` (``None``: switched off, every call passes through).
    While the interpreter shuts down, calls pass through as well: a
    ``__del__`` may call ``os.system`` after the module globals the shim
    needs have been cleared.
    """

    __slots__ = ("finalizing", "session")

    def __init__(self) -> None:
        self.session: Optional[Session] = None
        self.finalizing: Callable[[], bool] = sys.is_finalizing

    def __call__(
        self,
        wrapped: Callable[..., int],
        instance: Any,
        args: Tuple[Any, ...],
        kwargs: Dict[str, Any],
    ) -> int:
        session = self.session
        if session is None or wrapped is not ORIGINAL or self.finalizing():
            # Uninstalled while another wrapper still holds us, wrapping a
            # function we cannot see through, or too late: stay out of the way.
            return wrapped(*args, **kwargs)
        command = _split_arguments(args, kwargs)
        if command is _NO_COMMAND:
            return wrapped(*args, **kwargs)  # raises the original TypeError, runs nothing
        if platform.IS_WINDOWS:  # pragma: no cover - Windows only
            return _windows_system(wrapped, command)
        data = encode(command)
        if _audit_event is not None:
            _audit_event("os.system", data)
        # system(3)'s signal dispositions from here to the return (see
        # shim._runtime.signals); deferred handlers run in this frame, last.
        held = HOLD.enter()
        try:
            return perform(data, session, held)
        finally:
            if held:
                for sig in HOLD.leave():
                    raise_signal(sig)


def _split_arguments(args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Any:
    """The ``command`` argument, or a marker when the call does not bind.

    ``os.system`` takes exactly one argument, positionally or as
    ``command=``; for anything else the original function raises its own
    ``TypeError`` (before running anything).
    """
    if len(args) == 1 and not kwargs:
        return args[0]
    if not args and len(kwargs) == 1 and "command" in kwargs:
        return kwargs["command"]
    return _NO_COMMAND


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


def _windows_system(wrapped: Callable[..., int], command: Any) -> int:  # pragma: no cover
    from shim._runtime import windows

    if not isinstance(command, str):
        return wrapped(command)  # raises the original TypeError
    if "\0" in command:
        raise ValueError("embedded null character")
    if _audit_event is not None:
        _audit_event("os.system", command)
    return windows.run(command, os.environ)


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
        self.status = status.WAIT_FAILED
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


# co_filename -> whether it belongs to shim or wrapt (a handful of entries;
# a cache, written with single assignments that any thread may repeat).
_internal_files: Dict[str, bool] = {}


def _is_internal(filename: str) -> bool:
    if not filename:
        return False
    directory = os.path.dirname(os.path.abspath(filename))
    if directory == _PACKAGE_DIR or directory.startswith(_PACKAGE_DIR + os.sep):
        return True
    return directory == _wrapt_dir()


def _wrapt_dir() -> Optional[str]:
    module = sys.modules.get("wrapt")
    path = getattr(module, "__file__", None)
    return os.path.dirname(os.path.abspath(path)) if path else None


def shell_argv(command: bytes) -> List[bytes]:
    """The argv ``system(3)`` gives ``/bin/sh``."""
    if platform.SYSTEM_PASSES_DASHDASH:
        return [platform.SHELL_NAME, b"-c", b"--", command]
    return [platform.SHELL_NAME, b"-c", command]


def _plan_without_shell(call: Call, settings: "Settings") -> None:
    """Decide, for ``shell="auto"`` and ``"never"``, whether to skip ``/bin/sh``.

    In ``auto`` mode the shell is skipped only when the command needs no
    shell syntax *and* dash would hand the program exactly what a direct
    exec hands it (environment, signal mask, the file found on PATH).  In
    ``never`` mode only the syntax counts; a command that needs the shell
    raises :class:`~shim.exceptions.ShellRequiredError`, naming the reason
    and the call site.
    """
    from shim._common import syntax
    from shim._runtime import shellfree

    analysis = syntax.analyze(call.command)
    reason = analysis.reason
    unavailable = platform.shell_free_reason() if settings.shell == "auto" else None
    if analysis.argv is not None and unavailable is not None:
        reason = unavailable
    elif analysis.argv is not None:
        names, ordered = shellfree.ENVIRONMENT.current()
        if settings.shell == "auto":
            reason = shellfree.environment_reason(names)
        if reason is None:
            program = shellfree.locate(analysis.argv[0], names.get(b"PATH"))
            if program is not None:
                call.argv = analysis.argv
                call.executable = program
                call.env = ordered
                call.shell = False
                return
            reason = "program not found on PATH"
    call.shell_reason = reason
    if settings.shell == "never":
        _refuse(call, reason or "unknown")


def _refuse(call: Call, reason: str) -> None:
    """Raise :class:`~shim.exceptions.ShellRequiredError` for ``call`` (``shell="never"``)."""
    from shim.exceptions import ShellRequiredError

    site = call.site or call_site()
    where = f"{site[0]}:{site[1]}" if site else None
    raise ShellRequiredError(os.fsdecode(call.command), reason, where)


def perform(command: bytes, session: "Session", held: bool) -> int:
    """Run an already encoded and audited command; return the wait status.

    ``held``: whether this thread holds the signal dispositions (the main
    thread does, see :data:`shim._runtime.signals.HOLD`).
    """
    settings = session.settings
    call = Call(command)
    wants_record = session.wants_record()
    if wants_record:
        call.site = call_site()
        call.cwd = _getcwd()
    if settings.shell != "always":
        _plan_without_shell(call, settings)
    stdio = capture.stdio_for(settings)

    def finish(wait_status: int) -> None:
        call.status = wait_status
        call.duration = time.monotonic() - call.t0
        if wants_record:
            call.captured = capture.result(stdio)
            session.publish(call)

    if call.argv is not None:
        result = runner.run(call.argv, call.executable, stdio, held, finish=finish, env=call.env)
        if result is not None:
            return result
        # The program could not be executed (not executable, no "#!" line,
        # ...). Nothing has run, so /bin/sh takes over and gives exactly its
        # own status and message (or, in "never" mode, the call is refused).
        call.argv = None
        call.shell = True
        call.shell_reason = "program cannot be executed directly"
        if settings.shell == "never":
            _refuse(call, call.shell_reason)
        stdio = capture.stdio_for(settings)
    result = runner.run(shell_argv(command), platform.SHELL_PATH, stdio, held, finish=finish)
    return status.SHELL_START_FAILED if result is None else result


def _getcwd() -> Optional[str]:
    """The working directory, or ``None`` when it is gone or unreadable."""
    try:
        return os.getcwd()
    except OSError:
        return None
