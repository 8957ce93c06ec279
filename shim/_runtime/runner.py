"""Start a program through ``subprocess.Popen`` and wait for it as ``system(3)`` does.

This is the replica of glibc's ``do_system`` (``sysdeps/posix/system.c``):

* the child inherits every inheritable descriptor (``close_fds=False``) and
  every ignored signal and the signal mask (``restore_signals=False``);
* while the child runs, the caller ignores SIGINT and SIGQUIT, so Ctrl-C
  kills the command and not the caller;
* the status is collected with ``waitpid`` so the core-dump bit survives;
* other Python signal handlers run after the child has finished, never in
  the middle of it.

The signal dispositions themselves are :data:`shim._runtime.signals.HOLD`'s.
"""

import _signal
import contextlib
import errno
import os
import subprocess
import sys
import threading
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from shim._common import status as _status
from shim._runtime.signals import HOLD, ShellWouldDie

__all__ = ["Stdio", "run", "shell_can_start"]


class Stdio:
    """Hooks through which output capture takes part in a run.

    The default does nothing: the child writes straight to fds 1 and 2.
    """

    def child_fds(self) -> Tuple[Optional[int], Optional[int]]:
        """Descriptors to give the child as fd 1 and fd 2 (``None``: inherit)."""
        return None, None

    def spawned(self, pid: Optional[int]) -> None:
        """The child ``pid`` runs: close the child's ends, copy.

        May copy until the child has exited, but must not collect it.
        """

    def exited(self) -> None:
        """The shell has exited: copy what it wrote, then return promptly."""

    def failed(self) -> None:
        """The child could not be started: release everything."""


_PASS_THROUGH = Stdio()


def _inherit_trick() -> Dict[str, int]:
    """Keyword arguments that keep ``Popen`` off its ``posix_spawn`` path.

    ``Popen`` uses ``os.posix_spawn`` with ``env=os.environ`` when it can;
    ``system(3)`` passes the C library's ``environ``, which also holds
    what ``os.putenv`` set.  Passing an inherited standard descriptor as
    itself (``stdin=0``) changes nothing for the child but makes ``Popen``
    take the fork/exec path, which execs with the C ``environ``.
    """
    for fd, name in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
        try:
            if os.get_inheritable(fd):
                return {name: fd}
        except OSError:
            continue
    return {}


#: Before 3.10, Popen forks (the whole address space) unless it can take its
#: ``posix_spawn`` path, which glibc runs as a vfork: the cheaper way by far
#: for a large program.  From 3.10 on, the fork/exec path vforks itself.
_SPAWN_BEFORE_310 = sys.version_info < (3, 10) and bool(
    getattr(subprocess, "_USE_POSIX_SPAWN", False)
)


class _CEnviron:
    """The C ``environ`` as a mapping that ``posix_spawn`` passes on unchanged.

    For Popen's ``posix_spawn`` path (3.8 and 3.9) with the environment
    ``system(3)`` would pass: ``os.environ`` misses what ``os.putenv`` set.
    The mapping of the last entries read is kept, so an unchanged
    environment costs one read of the array.  Shared by every thread; each
    field is replaced by one assignment of a finished value.
    """

    __slots__ = ("array", "entries", "mapping")

    def __init__(self) -> None:
        self.array: Any = None  # ctypes view of environ; False when unavailable
        self.entries: List[bytes] = []
        self.mapping: Optional[Dict[bytes, bytes]] = {}

    def read(self) -> Optional[Dict[bytes, bytes]]:
        """The environment, or ``None`` when a mapping cannot reproduce it.

        A mapping loses an entry without ``=``, an empty name and a name
        that appears twice; ``execve`` would pass those on, so such an
        environment is left to the fork/exec path.
        """
        array = self.array
        if array is None:
            try:
                import ctypes

                array = ctypes.POINTER(ctypes.c_char_p).in_dll(ctypes.CDLL(None), "environ")
            except (ImportError, OSError, ValueError, AttributeError):
                array = False
            self.array = array
        if array is False:
            return None
        entries: List[bytes] = []
        if array:  # NULL after clearenv(): no environment at all
            index = 0
            while True:
                entry = array[index]
                if entry is None:
                    break
                entries.append(entry)
                index += 1
        if entries == self.entries:
            return self.mapping
        found: Dict[bytes, bytes] = {}
        for entry in entries:
            name, sep, value = entry.partition(b"=")
            if not sep or not name or name in found:
                self.entries, self.mapping = entries, None
                return None
            found[name] = value
        self.entries, self.mapping = entries, found
        return found


_C_ENVIRON = _CEnviron()


def direct_executable(executable: bytes) -> bytes:
    """The name to give Popen for a program started without the shell.

    A program found through an empty PATH entry (``shell="never"``) has a
    bare name, which Popen would look up on PATH again, possibly finding
    another file: it is named relative to the working directory instead.
    """
    return executable if b"/" in executable else b"./" + executable


#: The real Popen, as imported: a replacement (a test's fake) is waited for with its own wait().
_POPEN = subprocess.Popen


def _wait(pid: int) -> int:
    """``waitpid`` until the child is collected; -1 if it cannot be."""
    while True:
        try:
            _, status = os.waitpid(pid, 0)
        except ChildProcessError:
            # SIGCHLD is ignored: the kernel reaped the child (waitpid blocks
            # until it has exited, then fails with ECHILD), like system(3).
            return _status.WAIT_FAILED
        except InterruptedError:  # pragma: no cover - PEP 475 retries already
            continue
        return status


def _reap(pid: int) -> None:
    with contextlib.suppress(OSError):
        os.waitpid(pid, 0)


def _wait_direct(pid: int, held: bool) -> int:
    """Wait for a program started without the shell; return the shell's status.

    ``held``: whether this thread holds the signal dispositions (the main
    thread), which is where an interrupt can end the wait.
    """
    # An interrupt that arrived while the program was being started counts
    # as one that arrived during the wait.
    died_of = HOLD.interrupted if held else None
    if died_of is None:
        if held:
            HOLD.direct_wait = True
        try:
            status = _wait(pid)
        except ShellWouldDie as death:
            died_of = death.signum
        finally:
            if held:
                HOLD.direct_wait = False
    if died_of is not None:
        # The shell would have died of the signal, leaving the program
        # running on its own: return "killed by SIGINT/SIGQUIT" now (no core
        # file is written for the shell that is not there) and collect the
        # program whenever it ends, as init would have.
        threading.Thread(target=_reap, args=(pid,), name="shim-reaper", daemon=True).start()
        return died_of
    from shim._runtime import shellfree

    status, report = shellfree.shell_status(status)
    if report:
        with contextlib.suppress(OSError):
            os.write(2, report)
    return status


def run(
    argv: Sequence[bytes],
    executable: bytes,
    stdio: Stdio = _PASS_THROUGH,
    held: bool = False,
    *,
    finish: Optional[Callable[[int], None]] = None,
    env: Optional[Dict[bytes, bytes]] = None,
    direct: Optional[bool] = None,
    started: Optional[Callable[[int], None]] = None,
    waits: bool = True,
    ignore_quit: bool = False,
) -> Optional[int]:
    """Run ``argv`` with ``executable`` and return the raw wait status.

    Returns 127 << 8 when the program cannot be started, -1 when its status
    cannot be collected; never raises because the command failed.
    ``held``: the caller holds the signal dispositions of ``system(3)``
    (:data:`shim._runtime.signals.HOLD`, main thread only) for the whole
    call.  ``finish(status)`` runs once the child is collected, while
    Python signal handlers are still deferred, so that the bookkeeping it
    does is not cut short by a handler that raises.

    With ``env`` given, the program runs without the shell, with that
    environment; a program that cannot be executed then gives ``None``
    instead, and nothing has run.  ``waits``: the shell would have run the
    program as its child, so its end is reported as dash reports it and an
    interrupt that would have killed the shell ends the call (see
    :func:`_wait_direct`); otherwise the shell would have replaced itself
    with the program, whose status is then the call's.  ``ignore_quit``:
    the program starts with SIGQUIT ignored (only the main thread, which
    ``held`` says this is, may arrange that).  ``direct=False`` runs
    ``/bin/sh`` with ``env`` instead (the C environment plus a trace
    context).  ``started(pid)`` runs once the child exists.
    """
    if direct is None:
        direct = env is not None
    if direct:
        executable = direct_executable(executable)
    previous = HOLD.begin_direct() if held and direct and waits else None
    try:
        out, err = stdio.child_fds()
        kwargs: Dict[str, Any] = {}
        if env is None and _SPAWN_BEFORE_310:
            # The C environment given as it is, and no standard descriptor
            # redirected: Popen takes its posix_spawn path.
            env = _C_ENVIRON.read()
        if env is None:
            kwargs = _inherit_trick()
        if out is not None:
            kwargs["stdout"] = out
        if err is not None:
            kwargs["stderr"] = err
        quit_handler = None
        if ignore_quit and held:
            # Ignored by the caller too until the program has started: the
            # caller ignores SIGQUIT for the whole call anyway (system(3)).
            quit_handler = _signal.getsignal(_signal.SIGQUIT)
            _signal.signal(_signal.SIGQUIT, _signal.SIG_IGN)
        try:
            proc = subprocess.Popen(
                argv if type(argv) is list else list(argv),
                executable=executable,
                # system(3) hands the shell every inheritable descriptor...
                close_fds=False,
                # ...and keeps ignored signals ignored (SIGPIPE, SIGXFSZ).
                restore_signals=False,
                env=env,
                **kwargs,
            )
        except BaseException as exc:
            stdio.failed()
            if not isinstance(exc, OSError):
                raise
            if direct:
                return None
            if finish is not None:
                finish(_status.SHELL_START_FAILED)
            return _status.SHELL_START_FAILED
        finally:
            if quit_handler is not None:
                _signal.signal(_signal.SIGQUIT, quit_handler)
        status = _status.WAIT_FAILED
        pid = proc.pid
        if not isinstance(proc, _POPEN) or not isinstance(pid, int) or pid <= 0:
            # Not a process of ours: a stand-in for Popen (a test's fake,
            # whose pid names no child).  Its own wait() has the status.
            stdio.spawned(None)
            status = _status.from_returncode(proc.wait())
            stdio.exited()
            if finish is not None:
                finish(status)
            return status
        try:
            if started is not None:
                started(pid)
            stdio.spawned(pid)
            status = _wait_direct(pid, held) if direct and waits else _wait(pid)
        finally:
            # Popen must not try to reap the child a second time.
            proc.returncode = _status.returncode(status)
        stdio.exited()
        if finish is not None:
            finish(status)
        return status
    finally:
        if previous is not None:
            HOLD.end_direct(previous)


def shell_can_start(argv: Sequence[bytes], executable: bytes) -> bool:
    """Whether the kernel lets ``/bin/sh -c command`` start, found without running ``command``.

    ``argv`` is the shell's, with a stand-in for the command: as many bytes
    that do nothing (``:`` and blanks).  ``execve`` counts only sizes (the
    same environment, file name and argv lengths), so it accepts or refuses
    (E2BIG) the stand-in exactly as it would the command.
    """
    try:
        probe = subprocess.Popen(
            list(argv),
            executable=executable,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            close_fds=True,
        )
    except OSError as exc:
        return exc.errno != errno.E2BIG
    probe.wait()
    return True
