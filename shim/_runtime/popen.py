"""One ``os.popen`` call, as the shim performs it, and the record of it when it ends.

``os.popen`` already runs its command through ``subprocess.Popen`` (with
``shell=True``) and returns an ``os._wrap_close`` around the pipe.  The
shim therefore does not run the command itself: it calls the original
``os.popen``, so that the object returned, its type, its buffering, its
text mode and the ``subprocess.Popen`` audit event are exactly what the
program would get without the shim, and watches the process it started.

The record is made when the status of the command is collected, which is
where ``os.popen``'s file learns it: in ``close()`` (also from a ``with``
block), or when a stream that was never closed is garbage-collected and
``Popen``'s own finalizer polls the process.  To see that moment without
changing the object, the shim puts a function in front of the ``Popen``
instance's ``_handle_exitstatus``, the one method every way of collecting
the status goes through, as an attribute of that instance only; it holds
no reference to the process or the stream, so both are collected exactly
when they would be without the shim.  A stream whose command has not been
collected when the program exits is recorded then, with what is known.

With ``shell="auto"`` or ``"never"`` a command the shell-free plan
(:func:`shim._runtime.call._plan_without_shell`) can run directly is
started as ``subprocess.Popen(argv)`` with the same pipe, buffering and
text mode as ``os.popen`` gives it, and the status the program sees at
``close()`` is the one ``sh -c`` would have reported
(:func:`shim._runtime.shellfree.shell_status`).
"""

import contextlib
import io
import os
import sys
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple

from shim._common import platform, status
from shim._runtime import call as _call
from shim._runtime import runner

if TYPE_CHECKING:
    from shim._runtime.session import Session

__all__ = ["PopenShim", "record_unfinished"]

_NAMES = ("cmd", "mode", "buffering")
# os.popen passes text=True to Popen from Python 3.10 on; before, it
# wrapped the binary pipe in a TextIOWrapper itself (no write_through).
_TEXT_POPEN = sys.version_info >= (3, 10)


class PopenShim:
    """The handler of the shim's wrapt proxies on ``os.popen``.

    One instance per process, owned by the lifecycle, which sets
    :attr:`session` together with ``os.system``'s handler (``None``:
    switched off, every call passes through).  ``original`` is ``os.popen``
    as the os module defines it: the lifecycle keeps it, since ``os.popen``
    itself may be the lifecycle's placeholder when this is made.
    """

    __slots__ = ("finalizing", "original", "session")

    def __init__(self, original: Callable[..., Any]) -> None:
        self.original = original
        self.session: Optional[Session] = None
        self.finalizing: Callable[[], bool] = sys.is_finalizing

    def __call__(
        self,
        wrapped: Callable[..., Any],
        instance: Any,
        args: Tuple[Any, ...],
        kwargs: Dict[str, Any],
    ) -> Any:
        session = self.session
        if session is None or wrapped is not self.original or self.finalizing():
            return wrapped(*args, **kwargs)
        bound = _bind(args, kwargs)
        if bound is None:
            # Arguments os.popen refuses (it raises its own TypeError or
            # ValueError) or unusual ones: the original does what it does.
            return wrapped(*args, **kwargs)
        command, mode, buffering = bound
        try:
            data = os.fsencode(command)
        except UnicodeError:
            data = b"\0"
        if b"\0" in data:
            return wrapped(*args, **kwargs)  # Popen raises, nothing runs
        return _open(wrapped, (args, kwargs), data, (mode, buffering), session)


def _bind(args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Optional[Tuple[str, str, int]]:
    """``(cmd, mode, buffering)`` when ``os.popen`` accepts them, else ``None``."""
    if len(args) > len(_NAMES):
        return None
    values = dict(zip(_NAMES, args))
    for key, value in kwargs.items():
        if key not in _NAMES or key in values:
            return None
        values[key] = value
    command = values.get("cmd")
    mode = values.get("mode", "r")
    buffering = values.get("buffering", -1)
    if not isinstance(command, str) or type(mode) is not str or mode not in ("r", "w"):
        return None
    if type(buffering) is not int or buffering == 0:
        return None
    return command, mode, buffering


def _open(
    wrapped: Callable[..., Any],
    arguments: Tuple[Tuple[Any, ...], Dict[str, Any]],
    data: bytes,
    options: Tuple[str, int],
    session: "Session",
) -> Any:
    """Open the stream (the original ``os.popen``, or the program directly) and watch it.

    ``arguments`` are the call's, for the original; ``options`` its mode and buffering.
    """
    args, kwargs = arguments
    mode, buffering = options
    _OPEN.flush()
    settings = session.settings
    record = _call.Call(data)
    record.function = "os.popen"
    record.popen_mode = mode
    wants_record = session.wants_record()
    if wants_record:
        record.site = _call.call_site()
        record.cwd = _call._getcwd()
        if settings.shell == "always":
            record.sh = platform.shell_text()
    if session.telemetry is not None:
        session.telemetry.begin(record)
    if settings.shell != "always":
        refusal = _call._plan_without_shell(record, settings, held=False)
        if refusal is not None and refusal != _call._CANNOT_START:
            _call._refuse(record, session, refusal, wants_record)
        # _CANNOT_START: sh -c cannot take the command; os.popen raises
        # the same OSError (E2BIG) it raises without the shim.
    stream = None
    launch = record.launch
    if record.argv is not None and not record.shell and launch is not None:
        env = _call._environment(record, launch.env, dash_order=launch.waits)
        try:
            stream = _open_direct(record, launch.executable, mode, buffering, env)
        except OSError:
            # The program could not be executed (not executable, no "#!"
            # line, ...): nothing ran, and /bin/sh takes over.
            record.argv = None
            record.launch = None
            record.shell = True
            record.shell_reason = "program cannot be executed directly"
            if settings.shell == "never":
                _call._refuse(record, session, record.shell_reason, wants_record)
    if stream is None:
        stream = wrapped(*args, **kwargs)
    direct = record.argv is not None and not record.shell
    if wants_record or direct:
        # Without the shell the watch is not only for the record: it gives
        # close() the status the shell would have given.
        with contextlib.suppress(Exception):
            _watch(stream, record, session, wants_record)
    return stream


def _open_direct(
    record: "_call.Call",
    executable: bytes,
    mode: str,
    buffering: int,
    env: Optional[Dict[bytes, bytes]],
) -> Any:
    """What ``os.popen`` returns, for a program started without the shell."""
    import subprocess

    name = "stdout" if mode == "r" else "stdin"
    options: Dict[str, Any] = {
        name: subprocess.PIPE,
        "bufsize": buffering,
        "executable": runner.direct_executable(executable),
        "env": env,
    }
    argv = list(record.argv or ())
    if _TEXT_POPEN:
        proc = subprocess.Popen(argv, text=True, **options)
        pipe = getattr(proc, name)
    else:
        proc = subprocess.Popen(argv, **options)
        pipe = io.TextIOWrapper(getattr(proc, name))
    wrap_close: Any = getattr(os, "_wrap_close")  # noqa: B009 - not in typeshed
    return wrap_close(pipe, proc)


class _Watched:
    """One open stream of ``os.popen``, until its command's status is collected."""

    __slots__ = ("__weakref__", "direct", "record", "session", "stream")

    def __init__(self, record: "_call.Call", session: "Session", stream: Any) -> None:
        self.record = record
        self.session = session
        #: Whether the stream still exists tells close() from garbage collection.
        self.stream = weakref.ref(stream)
        #: Run without the shell where it is dash, which would have run the
        #: program as its child and reported a signal that killed it (bash
        #: and BusyBox replace themselves with the program: its status is
        #: theirs).
        launch = record.launch
        self.direct = record.argv is not None and not record.shell and bool(launch and launch.waits)

    def collected(self, wstatus: int, end: Optional[str] = None, *, later: bool = False) -> None:
        """The status is known: publish the record, once (``later``: at a safe point)."""
        if not _OPEN.take(self):
            return
        record = self.record
        record.status = wstatus
        record.duration = time.monotonic() - record.t0
        record.end = end or ("close" if self.stream() is not None else "collected")
        if later:
            _OPEN.defer(self)
            return
        self.session.publish(record)
        _OPEN.flush()


def _watch(stream: Any, record: "_call.Call", session: "Session", wants_record: bool) -> None:
    """Watch the process behind ``stream``: to record it (``wants_record``), to give its status."""
    proc: Any = getattr(stream, "_proc", None)
    handle: Any = getattr(type(proc), "_handle_exitstatus", None)
    watched = _Watched(record, session, stream)
    pid = getattr(proc, "pid", None)
    if isinstance(pid, int) and pid > 0:
        record.spawned(pid)
    if wants_record:
        _OPEN.add(watched)
    if handle is None or not callable(handle) or "_handle_exitstatus" in vars(proc):
        # Not a Popen whose status can be watched (a replacement of
        # subprocess.Popen, a test's fake): the record is made at exit.
        return
    proc_ref = weakref.ref(proc)
    kind = type(proc)
    direct = watched.direct

    def _handle_exitstatus(sts: int, *args: Any, **kwargs: Any) -> Any:
        shown = sts
        report = b""
        if direct:
            from shim._runtime import shellfree

            shown, report = shellfree.shell_status(sts)
        target = proc_ref()
        if target is None:
            # The stream was part of a reference cycle: the cyclic collector
            # clears weak references before it runs Popen.__del__, which is
            # calling this.  The process is that method's ``self``; without
            # it the status would never reach the Popen, which would then
            # wait for a pid that may name another child by then.
            caller = sys._getframe(1).f_locals.get("self")
            target = caller if type(caller) is kind else None
        result = handle(target, shown, *args, **kwargs) if target is not None else None
        if report:
            # What dash writes when the program it ran is killed by a signal.
            with contextlib.suppress(OSError):
                os.write(2, report)
        with contextlib.suppress(Exception):
            # The cyclic collector can run at any allocation, also while this
            # thread holds a lock of the shim's (the audit file's): its
            # record waits for the next call or the exit.
            watched.collected(shown, later=proc_ref() is None)
        return result

    proc._handle_exitstatus = _handle_exitstatus


class _Open:
    """Streams not recorded yet, for their records at exit; one instance, :data:`_OPEN`."""

    def __init__(self) -> None:
        # Reentrant: a stream collected by the cyclic collector in the middle
        # of one of these methods comes back here in the same thread.
        self.lock = threading.RLock()
        self.watched: Dict[int, _Watched] = {}
        #: Collected by the cyclic collector, to be published at a safe point.
        self.deferred: List[_Watched] = []
        self.registered = False

    def add(self, watched: _Watched) -> None:
        with self.lock:
            self.watched[id(watched)] = watched
            register = not self.registered
            self.registered = True
        if register:
            import atexit

            atexit.register(record_unfinished)

    def take(self, watched: _Watched) -> bool:
        """Whether ``watched`` was still waiting for its record (it no longer is)."""
        with self.lock:
            return self.watched.pop(id(watched), None) is not None

    def pending(self) -> List[_Watched]:
        with self.lock:
            return list(self.watched.values())

    def defer(self, watched: _Watched) -> None:
        with self.lock:
            self.deferred.append(watched)

    def flush(self) -> None:
        """Publish the records deferred by the cyclic collector (from a safe point)."""
        if not self.deferred:
            return
        with self.lock:
            ready, self.deferred = self.deferred, []
        for watched in ready:
            watched.session.publish(watched.record)

    def after_fork_in_child(self) -> None:
        # The parent's streams are the parent's to record.
        self.lock = threading.RLock()
        self.watched = {}
        self.deferred = []


_OPEN = _Open()

if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_OPEN.after_fork_in_child)


def record_unfinished() -> None:
    """Record every stream whose command was not collected (at exit).

    The status of a command that has ended is read without collecting it
    (``waitid`` with ``WNOWAIT``): the process stays for whoever collects
    it, as without the shim.  A command still running is recorded as
    ``"unfinished"``, without a status.
    """
    _OPEN.flush()
    for watched in _OPEN.pending():
        with contextlib.suppress(Exception):
            wait_status = _peek(watched.record.pid)
            if wait_status is None:
                watched.record.outcome = "unfinished"
                wait_status = status.WAIT_FAILED
            elif watched.direct:
                from shim._runtime import shellfree

                wait_status = shellfree.shell_status(wait_status)[0]
            watched.collected(wait_status, "exit")


def _peek(pid: int) -> Optional[int]:
    """The wait status of an ended child, without collecting it; ``None`` if it runs."""
    waitid = getattr(os, "waitid", None)
    if waitid is None or pid <= 0:
        return None
    try:
        info: Any = waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except OSError:
        return None
    if info is None:
        return None
    code: int = info.si_code
    value: int = info.si_status
    if code == _CLD_EXITED:
        return (value & 0xFF) << 8
    if code == _CLD_KILLED:
        return value & 0x7F
    if code == _CLD_DUMPED:
        return (value & 0x7F) | 0x80
    return None


# The si_code values of waitid (os.CLD_KILLED and os.CLD_DUMPED exist from
# Python 3.9 on; the numbers are the kernel's).
_CLD_EXITED = getattr(os, "CLD_EXITED", 1)
_CLD_KILLED = getattr(os, "CLD_KILLED", 2)
_CLD_DUMPED = getattr(os, "CLD_DUMPED", 3)
