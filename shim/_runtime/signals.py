"""The caller's signal dispositions while ``os.system`` runs, as ``system(3)`` sets them.

While a command runs, glibc's ``system()`` ignores SIGINT and SIGQUIT in the
caller (Ctrl-C kills the command, not the caller) and Python's own signal
handlers run only once it has returned.  The shim reproduces both by
swapping Python-level handlers for the duration of a call (see
:meth:`Hold.enter`).

Who touches this state, and why there is no lock: only the main thread may
change signal handlers, so only the main thread ever enters a hold; other
threads get ``False`` from :meth:`Hold.enter` and change nothing.  The one
interleaving left is a signal handler that runs in the main thread in the
middle of :meth:`Hold.enter` or :meth:`Hold.leave` (Python runs handlers
between any two bytecodes) and itself calls ``os.system``: a lock there
would deadlock (a non-reentrant one) or let the handler see half-swapped
state (a reentrant one).  Instead every step is written so that such a
nested call finds a consistent state: the handlers already swapped are
recognised as ours, the originals live in one dictionary that both levels
use, and only the outermost :meth:`Hold.leave` puts them back.  This does
not rely on the GIL: the state is confined to one thread.

This module is imported at interpreter start-up (the first call must be
able to hold signals before it imports anything), so it uses only the C
modules ``_signal`` and ``_thread``: ``signal`` imports ``enum``.
"""

import _operator
import _signal
import _thread
import os
import sys

# Annotations are strings: this module is imported at start-up, before
# `typing`, and Python 3.6 cannot postpone their evaluation.
TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Dict, List, Optional, Tuple

__all__ = ["HOLD", "VALID_SIGNALS", "Hold", "ShellWouldDie", "raise_signal"]

_SIGINT = _signal.SIGINT
_SIGQUIT = _signal.SIGQUIT
_INTERRUPTS = (_SIGINT, _SIGQUIT)
_SIG_IGN = _signal.SIG_IGN
_getsignal = _signal.getsignal
_is = _operator.is_


def _valid_signals() -> "List[int]":
    found = getattr(_signal, "valid_signals", None)
    if found is not None:
        return sorted(found())
    return list(range(1, _signal.NSIG))  # Python 3.6 and 3.7


# Signals raised by a fault in the thread itself (a Python handler cannot
# meaningfully defer them) and the two that cannot be caught.
_SYNCHRONOUS = frozenset(
    getattr(_signal, name)
    for name in ("SIGSEGV", "SIGBUS", "SIGFPE", "SIGILL", "SIGTRAP", "SIGSYS", "SIGKILL", "SIGSTOP")
    if hasattr(_signal, name)
)
#: Every signal number of this platform (``signal.valid_signals()`` from 3.8 on).
VALID_SIGNALS = tuple(_valid_signals())
_SWAPPABLE = tuple(sig for sig in VALID_SIGNALS if sig not in _SYNCHRONOUS)


class ShellWouldDie(BaseException):
    """SIGINT/SIGQUIT reached the caller while a program runs without a shell.

    A ``BaseException``: it ends the wait for the program, and nothing
    between the wait and the runner may swallow it.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_in_this_thread(signum: int) -> None:  # Python 3.6 and 3.7
    _signal.pthread_kill(_thread.get_ident(), signum)


#: Hand a signal to the interpreter's signal machinery, in this (the main)
#: thread: its Python handler runs before this returns.  The C function
#: from Python 3.8 on, so that a handler runs one frame above the caller.
raise_signal = getattr(_signal, "raise_signal", _raise_in_this_thread)


class Hold:
    """The signal dispositions of the main thread while it runs ``os.system``.

    ``depth`` counts the holds in progress (a call made from a handler or a
    log handler during a call is nested); ``saved`` maps each swapped
    signal to the handler to put back; ``deferred`` lists the signals whose
    handlers wait for the outermost :meth:`leave`.  ``direct`` and the two
    fields after it describe a program running without ``/bin/sh`` (see
    :meth:`begin_direct`).
    """

    __slots__ = (
        "_on_defer",
        "_on_interrupt",
        "_plan",
        "_seen",
        "deferred",
        "depth",
        "direct",
        "direct_wait",
        "interrupted",
        "main",
        "pid",
        "saved",
    )

    def __init__(self) -> None:
        self.depth = 0
        self.saved: Dict[int, Any] = {}
        self.deferred: List[int] = []
        self.main: Optional[int] = None
        self.pid = os.getpid()
        self.direct = False
        self.direct_wait = False
        self.interrupted: Optional[int] = None
        # The handlers we install, made once: a bound method is a new object
        # at every attribute access, and `is` must recognise ours.
        self._on_interrupt = self._interrupt
        self._on_defer = self._defer
        # The handlers found by the last outermost hold, and the swaps they
        # called for: a program rarely changes its handlers between calls,
        # so the next hold only has to see that they are the same objects.
        self._seen: List[Any] = []
        self._plan: List[Tuple[int, Any, Any]] = []

    # -- which thread is the main one ------------------------------------------

    def adopt_main_thread(self) -> None:
        """Record the calling thread as the main thread (start-up runs in it).

        Outside start-up the main thread is asked of :mod:`threading` once,
        when the shim is armed or installed: never in the middle of a call,
        where importing a module could itself be interrupted by a handler.
        """
        self.main = _thread.get_ident()

    def learn_main_thread(self) -> None:
        if self.main is None:
            import threading

            self.main = threading.main_thread().ident

    def holds_here(self) -> bool:
        """Whether the calling thread is the one that may change signal handlers."""
        if self.main is None:
            self.learn_main_thread()
        return _thread.get_ident() == self.main

    # -- holding ---------------------------------------------------------------

    def enter(self) -> bool:
        """Give the caller ``system(3)``'s signal dispositions; return whether anything is held.

        SIGINT and SIGQUIT are swallowed: a Python handler that does nothing
        is installed *before* the spawn, so the child gets the default action
        back at ``exec`` (exec resets caught signals) and Ctrl-C kills the
        command, while the caller ignores it.  ``SIG_IGN`` instead would be
        inherited by the child, and setting it after the spawn would leave a
        window.  A signal already ignored stays ignored, in the caller and
        in the child.

        Every other signal with a Python handler gets one that only notes it;
        the real handlers run after the outermost :meth:`leave`, never in the
        middle of the command: one that raised in the middle of ``waitpid``
        would abandon the child.  Blocking the signals instead would be
        inherited by the child as well.

        Only the main thread may change handlers: from another thread nothing
        changes and ``False`` is returned (see the docs' fidelity page).
        """
        if self.pid != os.getpid():
            # Python 3.6 has no at-fork hook: the first call of a child
            # forked by another thread drops the parent's hold, and makes the
            # forking thread the main one before asking which thread holds.
            self._forked()
        if not self.holds_here():
            return False
        self.depth += 1
        try:
            self._swap()
        except BaseException:
            # KeyboardInterrupt from a SIGINT that came before its handler
            # was swapped: as if it had come just before the call.
            for sig in self.leave():
                raise_signal(sig)
            raise
        return True

    def _swap(self) -> None:
        # Idempotent, so that a call nested in the middle of this loop (from
        # a handler that was not swapped yet) completes it, and the loop then
        # goes on without recording our own handlers as originals.
        saved = self.saved
        try:
            handlers = list(map(_getsignal, _SWAPPABLE))
        except (OSError, ValueError):  # pragma: no cover - defensive
            handlers = []
            for sig in _SWAPPABLE:
                try:
                    handlers.append(_getsignal(sig))
                except (OSError, ValueError):
                    handlers.append(None)
        seen = self._seen
        if saved or len(seen) != len(handlers) or not all(map(_is, handlers, seen)):
            plan = self._plan_for(handlers)
            if not saved:
                self._seen, self._plan = handlers, plan
        else:
            plan = self._plan
        for sig, old, new in plan:
            if sig in saved:
                continue
            try:
                _signal.signal(sig, new)
            except (OSError, ValueError, TypeError):  # pragma: no cover - defensive
                continue
            saved.setdefault(sig, old)

    def _plan_for(self, handlers: "List[Any]") -> "List[Tuple[int, Any, Any]]":
        """``(signal, handler found, handler to install)`` for each signal to swap."""
        plan = []
        ours = (self._on_interrupt, self._on_defer)
        for sig, old in zip(_SWAPPABLE, handlers):
            if old is ours[0] or old is ours[1]:
                continue
            if sig in _INTERRUPTS:
                if old == _SIG_IGN or old is None:
                    continue
                new = ours[0]
            elif callable(old):
                new = ours[1]
            else:
                continue
            plan.append((sig, old, new))
        return plan

    def leave(self) -> "List[int]":
        """End one hold; the outermost puts the handlers back and gives the deferred signals.

        The caller raises each of them again with :func:`raise_signal`, in
        its own frame, as the last thing before it returns: the handlers then
        run as they would have right after a plain ``os.system`` returned,
        and a handler that calls ``os.system`` again nests one frame per
        level, as with plain ``os.system``, not one per frame of the shim
        (a storm of such signals would otherwise reach the recursion limit
        where plain ``os.system`` does not).
        """
        self.depth -= 1
        if self.depth > 0:
            return []
        self.depth = 0
        self._restore()
        pending = sorted(set(self.deferred))
        del self.deferred[:]
        return pending

    def _restore(self) -> None:
        saved = self.saved
        while saved:
            sig, old = saved.popitem()
            try:  # noqa: SIM105 - contextlib is not loaded at start-up
                _signal.signal(sig, old)
            except (OSError, ValueError, TypeError):  # pragma: no cover - defensive
                pass

    def _defer(self, signum: int, frame: "Any") -> None:
        """Note a signal whose Python handler must run once the command has finished."""
        if signum not in self.deferred:
            self.deferred.append(signum)

    def _interrupt(self, signum: int, frame: "Any") -> None:
        """Swallow SIGINT/SIGQUIT in the caller while a command runs.

        Under ``/bin/sh`` a non-interactive shell dies of the signal at once
        (its disposition is the default again), whatever the program does
        with it.  When the program runs without the shell, that death is
        reproduced: the wait ends (or is skipped) and the call returns the
        shell's status.
        """
        if self.direct:
            if self.interrupted is None:
                self.interrupted = signum
            if self.direct_wait:
                raise ShellWouldDie(signum)

    # -- a program run without the shell -------------------------------------------

    def begin_direct(self) -> "Tuple[bool, bool, Optional[int]]":
        """Start watching for the interrupt the shell would have died of; give what to restore."""
        previous = (self.direct, self.direct_wait, self.interrupted)
        self.direct, self.direct_wait, self.interrupted = True, False, None
        return previous

    def end_direct(self, previous: "Tuple[bool, bool, Optional[int]]") -> None:
        self.direct, self.direct_wait, self.interrupted = previous

    # -- fork ------------------------------------------------------------------

    def _forked(self) -> None:
        """In a child made by ``fork()``: drop a hold the parent's other thread had.

        A hold belongs to frames of the main thread.  When another thread
        forked, those frames do not exist in the child, which would keep
        our handlers (Ctrl-C swallowed) forever: put the originals back.
        When the main thread itself forked, its frames go on and leave the
        hold as usual.
        """
        self.pid = os.getpid()
        current = _thread.get_ident()
        if current == self.main:
            return
        self.main = current  # the forking thread is the child's main thread
        self.depth = 0
        self.direct, self.direct_wait, self.interrupted = False, False, None
        del self.deferred[:]
        self._restore()


#: The one hold of this process.
HOLD = Hold()


def _after_fork_in_child() -> None:
    HOLD._forked()


if sys.platform != "win32" and hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
