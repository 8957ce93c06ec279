"""Start a program through ``subprocess.Popen`` and wait for it as ``system(3)`` does.

This is the replica of glibc's ``do_system`` (``sysdeps/posix/system.c``):

* the child inherits every inheritable descriptor (``close_fds=False``) and
  every ignored signal and the signal mask (``restore_signals=False``);
* while the child runs, the caller ignores SIGINT and SIGQUIT, so Ctrl-C
  kills the command and not the caller;
* the status is collected with ``waitpid`` so the core-dump bit survives;
* other Python signal handlers run after the child has finished, never in
  the middle of it.
"""

from __future__ import annotations

# The C module: signal.getsignal/signal.signal wrap every value in an enum,
# which costs more than the rest of the bookkeeping of a call together.
import _signal
import contextlib
import os
import signal
import subprocess
import threading
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from shim._common import status as _status

__all__ = ["Stdio", "run"]

_INTERRUPTS = (signal.SIGINT, signal.SIGQUIT)

# Signals raised by a fault in the thread itself (a Python handler cannot
# meaningfully defer them) and the two that cannot be caught.
_SYNCHRONOUS = frozenset(
    getattr(signal, name)
    for name in ("SIGSEGV", "SIGBUS", "SIGFPE", "SIGILL", "SIGTRAP", "SIGSYS", "SIGKILL", "SIGSTOP")
    if hasattr(signal, name)
)
_SWAPPABLE = tuple(sorted(sig for sig in signal.valid_signals() if sig not in _SYNCHRONOUS))


class Stdio:
    """Hooks through which output capture takes part in a run.

    The default does nothing: the child writes straight to fds 1 and 2.
    """

    def child_fds(self) -> Tuple[Optional[int], Optional[int]]:
        """Descriptors to give the child as fd 1 and fd 2 (``None``: inherit)."""
        return None, None

    def spawned(self, pid: int) -> None:
        """The child ``pid`` runs: close the child's ends, copy.

        May copy until the child has exited, but must not collect it.
        """

    def exited(self) -> None:
        """The shell has exited: copy what it wrote, then return promptly."""

    def failed(self) -> None:
        """The child could not be started: release everything."""


_PASS_THROUGH = Stdio()


class _ShellWouldDie(BaseException):
    """SIGINT/SIGQUIT reached the caller while a program runs without a shell."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


# While the main thread runs a program without /bin/sh: whether it is in the
# wait, and the interrupt that reached the caller (the one the shell would
# have died of).
_direct_mode = False
_direct_wait = False
_interrupted: Optional[int] = None


def _ignore_interrupt(signum: int, frame: Any) -> None:
    """Swallow SIGINT/SIGQUIT in the caller while a command runs.

    Under ``/bin/sh`` a non-interactive shell dies of the signal at once
    (its disposition is the default again), whatever the program does with
    it.  When the program runs without the shell, that death is reproduced:
    the wait ends (or is skipped) and the call returns the shell's status.
    """
    global _interrupted
    if _direct_mode:
        if _interrupted is None:
            _interrupted = signum
        if _direct_wait:
            raise _ShellWouldDie(signum)


_Handler = Any
_lock = threading.Lock()
_nesting = 0
_saved: Dict[int, _Handler] = {}
_deferred: List[int] = []


def _defer(signum: int, frame: Any) -> None:
    """Note a signal whose Python handler must run once the command has finished."""
    if signum not in _deferred:
        _deferred.append(signum)


def _hold_signals() -> bool:
    """Give the caller ``system(3)``'s signal dispositions for the duration of a call.

    SIGINT and SIGQUIT are swallowed: a Python handler that does nothing is
    installed *before* the spawn, so the child gets the default action back
    at ``exec`` (exec resets caught signals) and Ctrl-C kills the command,
    while the caller ignores it.  ``SIG_IGN`` instead would be inherited by
    the child, and setting it after the spawn would leave a window.  A signal
    already ignored stays ignored, in the caller and in the child.

    Every other signal with a Python handler gets a handler that only notes
    it; the real handlers run once the command has been collected (see
    :func:`_release_signals`), never in the middle of it: one that raised in
    the middle of ``waitpid`` would abandon the child.  Blocking the signals
    instead would be inherited by the child as well.

    Only the main thread may change signal handlers; from another thread
    nothing is changed (see the README).  Returns whether handlers changed.
    """
    global _nesting
    if threading.current_thread() is not threading.main_thread():
        return False
    with _lock:
        _nesting += 1
        if _nesting > 1:  # a call from a signal handler during a call: already held
            return True
        for sig in _SWAPPABLE:
            try:
                old = _signal.getsignal(sig)
            except (OSError, ValueError):  # pragma: no cover - defensive
                continue
            if sig in _INTERRUPTS:
                if old == _signal.SIG_IGN or old is None:
                    continue
                _signal.signal(sig, _ignore_interrupt)
            elif callable(old):
                _signal.signal(sig, _defer)
            else:
                continue
            _saved[sig] = old
    return True


def _release_signals() -> None:
    """Put the caller's handlers back and deliver the signals that were deferred.

    ``raise_signal`` hands each deferred signal to the interpreter's own
    machinery, so its handler runs at the next bytecode boundary exactly as
    it would have after a plain ``os.system`` returned.
    """
    global _nesting
    with _lock:
        _nesting -= 1
        if _nesting:
            return
        while _saved:
            sig, old = _saved.popitem()
            with contextlib.suppress(OSError, ValueError, TypeError):
                _signal.signal(sig, old)
        pending = sorted(_deferred)
        del _deferred[:]
    for sig in pending:
        signal.raise_signal(sig)


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


def _wait_direct(pid: int, main: bool) -> int:
    """Wait for a program started without the shell; return the shell's status.

    ``main``: whether the caller holds the signal dispositions (the main
    thread), which is where an interrupt can end the wait.
    """
    global _direct_wait
    # An interrupt that arrived while the program was being started counts
    # as one that arrived during the wait.
    died_of = _interrupted if main else None
    if died_of is None:
        if main:
            _direct_wait = True
        try:
            status = _wait(pid)
        except _ShellWouldDie as death:
            died_of = death.signum
        finally:
            if main:
                _direct_wait = False
    if died_of is not None:
        # The shell would have died of the signal, leaving the program
        # running on its own: return "killed by SIGINT/SIGQUIT" now (no core
        # file is written for the shell that is not there) and collect the
        # program whenever it ends, as init would have.
        threading.Thread(target=_reap, args=(pid,), name="shim-reaper", daemon=True).start()
        return died_of
    from shim._runtime import shellfree as _shellfree

    status, report = _shellfree.shell_status(status)
    if report:
        with contextlib.suppress(OSError):
            os.write(2, report)
    return status


def run(
    argv: Sequence[bytes],
    executable: bytes,
    stdio: Stdio = _PASS_THROUGH,
    *,
    finish: Optional[Callable[[int], None]] = None,
    env: Optional[Dict[bytes, bytes]] = None,
) -> Optional[int]:
    """Run ``argv`` with ``executable`` and return the raw wait status.

    Returns 127 << 8 when the program cannot be started, -1 when its status
    cannot be collected; never raises because the command failed.
    ``finish(status)`` runs once the child is collected, while Python
    signal handlers are still deferred, so that the bookkeeping it does is
    not cut short by a handler that raises.

    With ``env`` given, the program runs without the shell, with that
    environment, and as dash would report it; a program that cannot be
    executed then gives ``None`` instead, and nothing has run.
    """
    global _direct_mode, _interrupted
    direct = env is not None
    held = _hold_signals()
    if held and direct:
        _direct_mode, _interrupted = True, None
    try:
        out, err = stdio.child_fds()
        kwargs: Dict[str, Any] = _inherit_trick()
        if out is not None:
            kwargs["stdout"] = out
        if err is not None:
            kwargs["stderr"] = err
        try:
            proc = subprocess.Popen(
                list(argv),
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
        status = _status.WAIT_FAILED
        try:
            stdio.spawned(proc.pid)
            status = _wait_direct(proc.pid, held) if direct else _wait(proc.pid)
        finally:
            # Popen must not try to reap the child a second time.
            proc.returncode = _status.returncode(status)
        stdio.exited()
        if finish is not None:
            finish(status)
        return status
    finally:
        if held:
            if direct:
                _direct_mode, _interrupted = False, None
            _release_signals()
