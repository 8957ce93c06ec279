"""One ``os.system`` call, as the shim performs it.

The steps, in the order plain ``os.system`` takes them: check and encode
the argument, raise the ``os.system`` audit event, run the command, return
the wait status.  The shim's own work (capture, the audit trail, logging)
hangs off that path and can never change its outcome.
"""

import os
import sys
import time
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple, Union

from shim._common import platform, status
from shim._runtime import capture, runner
from shim._runtime.signals import HOLD, raise_signal

if TYPE_CHECKING:
    from types import FrameType
    from typing import NoReturn

    from shim._common.settings import Settings
    from shim._runtime.session import Session
    from shim._runtime.shellfree import Launch, Snapshot
    from shim._runtime.telemetry import Begun

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
        "end",
        "function",
        "launch",
        "outcome",
        "pid",
        "popen_mode",
        "sh",
        "shell",
        "shell_reason",
        "site",
        "started",
        "status",
        "t0",
        "trace",
    )

    def __init__(self, command: bytes) -> None:
        self.command = command
        self.argv: Optional[List[bytes]] = None
        # For a run without the shell: how to start the program so that it
        # gets what /bin/sh would have given it.
        self.launch: Optional[Launch] = None
        #: What /bin/sh is ("dash", "bash 5.2.37", ...): the shell that runs
        #: the command, or would have run it.
        self.sh: Optional[str] = None
        self.shell = True
        self.shell_reason: Optional[str] = None
        #: "ran", "refused" (``shell="never"``: nothing ran), or for
        #: ``os.popen`` "unfinished" (still running when the program exited).
        self.outcome = "ran"
        #: The function called: "os.system" or "os.popen".
        self.function = "os.system"
        #: ``os.popen`` only: its mode ("r" or "w"), and how the stream
        #: ended ("close", "collected", "exit").
        self.popen_mode: Optional[str] = None
        self.end: Optional[str] = None
        self.started = time.time()
        self.t0 = time.monotonic()
        self.duration = 0.0
        self.status = status.WAIT_FAILED
        self.cwd: Optional[str] = None
        self.site: Optional[Tuple[str, int, str]] = None
        self.captured: Any = None
        #: The process started (``/bin/sh`` or the program); 0 until then.
        self.pid = 0
        #: What telemetry noted when the call began (``SHIM_OTEL``), else ``None``.
        self.trace: Optional[Begun] = None

    def spawned(self, pid: int) -> None:
        self.pid = pid


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


#: A plan's answer: ``sh -c command`` could not even start (E2BIG).
_CANNOT_START = "command too long for /bin/sh -c (E2BIG)"
_NEAR_LIMIT = "command near the kernel's size limit for /bin/sh -c"


def _plan_without_shell(call: Call, settings: "Settings", held: bool) -> Optional[str]:
    """Decide, for ``shell="auto"`` and ``"never"``, whether to skip ``/bin/sh``.

    In ``auto`` mode the shell is skipped only when the command needs no
    shell syntax *and* shim can hand the program exactly what this
    ``/bin/sh`` (dash, bash or BusyBox ash, see :func:`shim._common.platform.shell`)
    would have handed it: the file found on PATH, the environment, the
    signal state (:func:`shim._runtime.shellfree.plan`).  In ``never`` mode
    only the syntax counts.  A command the kernel would not let ``sh -c``
    take gives plain ``os.system``'s outcome: ``auto`` mode leaves a
    command near that limit to the shell (which then fails or runs exactly
    as without the shim), ``never`` mode tries the size with a stand-in
    that runs nothing.  ``held``: this thread holds the signal
    dispositions.  Returns why the call must be refused (``never`` mode, a
    command that needs the shell), :data:`_CANNOT_START`, or ``None``.
    """
    from shim._common import syntax
    from shim._runtime import shellfree

    analysis = syntax.analyze(call.command)
    reason = analysis.reason
    never = settings.shell == "never"
    sh = platform.shell()
    call.sh = sh.text
    unavailable = platform.shell_free_reason(sh)
    environment = None
    if never or (analysis.argv is not None and unavailable is None):
        environment = shellfree.ENVIRONMENT.snapshot()
        argv = shell_argv(call.command)
        if not shellfree.exec_surely_fits(argv, platform.SHELL_PATH, environment):
            if not never:
                call.shell_reason = _NEAR_LIMIT
                return None
            stand_in = shell_argv(b":" + b" " * (len(call.command) - 1))
            if not runner.shell_can_start(stand_in, platform.SHELL_PATH):
                call.shell_reason = _CANNOT_START
                return _CANNOT_START
    if analysis.argv is not None and unavailable is not None and not never:
        reason = unavailable
    elif analysis.argv is not None and environment is not None:
        if unavailable is not None:
            sh = _DASH  # "never" where shim does not know /bin/sh: dash's rules
        launch = shellfree.plan(analysis.argv, sh, environment, held)
        if isinstance(launch, str) and never and launch != _NOT_FOUND:
            # The team chose no shell over what it would have changed.
            launch = _without_environment_checks(analysis.argv, sh.kind, environment)
        if (
            not isinstance(launch, str)
            and not launch.waits
            and not never
            and call.trace is not None
            and call.trace.variables is not None
        ):
            # SHIM_OTEL_PROPAGATE adds TRACEPARENT where bash and BusyBox
            # would place it in their own order, which is modelled for the
            # environment as it is, not for one with a variable added.
            launch = _PROPAGATED
        if not isinstance(launch, str) and b"/" not in launch.executable and not never:
            # Found through an empty PATH entry (the current directory): the
            # shell execs the bare name, which Popen would look up on PATH
            # again, and a script's $0 would change with a "./" in front.
            launch = _EMPTY_PATH_ENTRY
        if isinstance(launch, str):
            reason = launch
        else:
            call.argv = analysis.argv
            call.launch = launch
            call.shell = False
            return None
    call.shell_reason = reason
    if never:
        return reason or "unknown"
    return None


_NOT_FOUND = "program not found on PATH"
_EMPTY_PATH_ENTRY = "program found through an empty PATH entry"
_PROPAGATED = "trace context handed to the command, in an order reproduced for dash only"
_DASH = platform.Shell("dash", (), "dash", platform.DASH_OWN)


def _without_environment_checks(
    argv: List[bytes], kind: str, environment: "Snapshot"
) -> "Union[Launch, str]":
    """``shell="never"``: the program with the environment as it is, in dash's order."""
    from shim._runtime import shellfree

    executable = shellfree.locate(argv[0], environment.names.get(b"PATH"), kind)
    if executable is None:
        return _NOT_FOUND
    return shellfree.Launch(
        executable, environment.ordered, waits=kind == "dash", ignore_quit=False
    )


def _refuse(call: Call, session: "Session", reason: str, wants_record: bool) -> "NoReturn":
    """Record, then raise :class:`~shim.exceptions.ShellRequiredError` (``shell="never"``).

    Nothing has run.  The exception carries the command masked as the
    audit record shows it: an exception is published too (tracebacks,
    error reports, logs).
    """
    from shim._common import syntax
    from shim.exceptions import ShellRequiredError

    site = call.site or call_site()
    where = f"{site[0]}:{site[1]}" if site else None
    masked = session.redactor.call(call.command, syntax.analyze(call.command).argv)
    call.argv = None
    call.shell = False
    call.shell_reason = reason
    call.outcome = "refused"
    call.duration = time.monotonic() - call.t0
    if wants_record:
        session.publish(call)
    raise ShellRequiredError(masked.command, reason, where)


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
        if settings.shell == "always":
            call.sh = platform.shell_text()
    if session.telemetry is not None:
        session.telemetry.begin(call)
    stdio = capture.PASS_THROUGH

    def finish(wait_status: int) -> None:
        call.status = wait_status
        call.duration = time.monotonic() - call.t0
        if wants_record:
            call.captured = capture.result(stdio)
            session.publish(call)

    if settings.shell != "always":
        refusal = _plan_without_shell(call, settings, held)
        if refusal == _CANNOT_START:
            # What system(3) returns when the shell cannot be started; nothing ran.
            finish(status.SHELL_START_FAILED)
            return status.SHELL_START_FAILED
        if refusal is not None:
            _refuse(call, session, refusal, wants_record)
    stdio = capture.stdio_for(settings)

    launch = call.launch
    if call.argv is not None and launch is not None:
        result = runner.run(
            call.argv,
            launch.executable,
            stdio,
            held,
            finish=finish,
            env=_environment(call, launch.env, dash_order=launch.waits),
            started=call.spawned,
            waits=launch.waits,
            ignore_quit=launch.ignore_quit,
        )
        if result is not None:
            return result
        # The program could not be executed (not executable, no "#!" line,
        # ...). Nothing has run, so /bin/sh takes over and gives exactly its
        # own status and message (or, in "never" mode, the call is refused).
        call.argv = None
        call.launch = None
        call.shell = True
        call.shell_reason = "program cannot be executed directly"
        if settings.shell == "never":
            _refuse(call, session, call.shell_reason, wants_record)
        stdio = capture.stdio_for(settings)
    result = runner.run(
        shell_argv(command),
        platform.SHELL_PATH,
        stdio,
        held,
        finish=finish,
        env=_environment(call, None, dash_order=True),
        direct=False,
        started=call.spawned,
    )
    return status.SHELL_START_FAILED if result is None else result


def _environment(
    call: Call, planned: Optional[Dict[bytes, bytes]], *, dash_order: bool
) -> Optional[Dict[bytes, bytes]]:
    """The command's environment: as planned (``None``: the C environment), or with a trace context.

    Only ``SHIM_OTEL_PROPAGATE`` changes it (see :mod:`shim._runtime.telemetry`);
    ``dash_order``: the planned environment is in dash's order.
    """
    if call.trace is None or call.trace.variables is None:
        return planned
    from shim._runtime import telemetry

    return telemetry.environment(call.trace.variables, planned=planned, dash_order=dash_order)


def _getcwd() -> Optional[str]:
    """The working directory, or ``None`` when it is gone or unreadable."""
    try:
        return os.getcwd()
    except OSError:
        return None
