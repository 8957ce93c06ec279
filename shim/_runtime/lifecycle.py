"""The shim's one state machine, and the only code that changes ``os.system`` and ``os.popen``.

::

    OFF ──arm()──▶ ARMED ──first call, or install()──▶ ACTIVE ──install()──▶ ACTIVE
     ▲                │                                    │      (new settings)
     └──uninstall()───┴────────────uninstall()─────────────┘

* OFF: ``os.system`` is what it was before the shim.
* ARMED: start-up (``SHIM_ENABLE=1``, ``import shim.auto``) has put
  :func:`placeholder`, a plain function, on ``os.system``.  Nothing heavy is
  imported yet: wrapt 2.x imports asyncio (~100 ms here) and ``subprocess``
  several more, which a process that never calls ``os.system`` must not pay.
* ACTIVE: a wrapt proxy sits at the bottom of the chain of wrappers on
  ``os.system``; its handler (:class:`shim._runtime.call.Shim`) runs every
  call with the current :class:`~shim._runtime.session.Session`.

``os.popen`` goes through the same states at the same moments, with its
own placeholder and proxy (:class:`shim._runtime.popen.PopenShim`): one
:class:`_Function` each, one state and one session for both.

Every transition happens under one lock, here.  This module is also the
only one that looks through ``sys.modules``: module globals that hold the
original functions (``from os import system`` made before the shim was
installed) are rebound on activation and restored on uninstall.

Concurrency, and why it holds without relying on the GIL:

* The first call through the placeholder, from any number of threads at
  once: each thread imports what activation needs *outside* the lock (the
  import system serialises imports of one module across threads), then one
  of them commits under the lock and the others find the state ACTIVE;
  every one of those calls is forwarded to the same proxy.  No import
  happens under the lock, so a thread waiting for it never waits for a
  module another thread is importing.
* The hot path (a call through the placeholder once ACTIVE) reads
  ``state`` and ``core`` without the lock: ``core`` is set before ``state``
  becomes ACTIVE, and neither changes while it stays ACTIVE (new settings
  only swap the session inside the one handler).  Each is a single
  reference read, atomic also on free-threaded builds.
* A Python signal handler runs in the main thread between any two
  bytecodes, also in the middle of an activation.  The first call in the
  main thread therefore holds signals (:data:`shim._runtime.signals.HOLD`)
  *before* it imports anything, for the whole call, as ``system(3)`` does
  from its first instruction: a handler that itself calls ``os.system``
  runs after the command, with the shim fully active, and can never meet a
  half-imported module.
* ``fork()``: the child gets a fresh lock (the parent's may have been held
  by a thread that does not exist in the child).
"""

import _thread
import os
import sys

from shim._runtime import warn
from shim._runtime.signals import HOLD, raise_signal

# Annotations are strings: this module is imported at start-up, before
# `typing`, and Python 3.6 cannot postpone their evaluation.
TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Callable, Dict, List, Optional, Tuple

    from shim._common.settings import Settings
    from shim._runtime.call import Shim
    from shim._runtime.popen import PopenShim

__all__ = [
    "ACTIVE",
    "ARMED",
    "OFF",
    "ORIGINAL",
    "ORIGINAL_POPEN",
    "activate",
    "arm",
    "placeholder",
    "popen_placeholder",
    "settings",
    "state",
    "uninstall",
]

OFF = "off"
ARMED = "armed"
ACTIVE = "active"

#: The C function: ``posix.system`` (``nt.system`` on Windows).
ORIGINAL: "Callable[..., int]" = __import__(os.name).system

#: ``os.popen`` as the os module defines it (a Python function around ``subprocess``).
ORIGINAL_POPEN: "Callable[..., Any]" = os.popen

#: Modules whose globals are never rebound: the C function's own homes, and ours.
_NOT_REBOUND = frozenset({"os", "posix", "nt", "shim", "builtins", "sys"})


def _make_placeholder() -> "Callable[..., int]":
    # The placeholder keeps what it needs at interpreter shutdown in its
    # closure: by then module globals, this module's included, may already
    # be None, and a __del__ that calls os.system must still run its command.
    original = ORIGINAL
    finalizing = sys.is_finalizing

    def system(*args: "Any", **kwargs: "Any") -> int:
        """Stand-in for ``os.system`` until its first call activates the shim.

        Signals are held from the start, for the whole call (see the
        module's docstring); the call itself nests another hold, which
        costs nothing.  While the interpreter shuts down, the call is plain
        ``os.system``: the shim can no longer be activated then.
        """
        if finalizing():
            return original(*args, **kwargs)
        held = HOLD.enter()
        try:
            status: int = _LIFECYCLE.target()(*args, **kwargs)
            return status
        finally:
            if held:
                for sig in HOLD.leave():
                    raise_signal(sig)

    system.__qualname__ = "system"
    return system


placeholder = _make_placeholder()


def _make_popen_placeholder() -> "Callable[..., Any]":
    original = ORIGINAL_POPEN
    finalizing = sys.is_finalizing

    def popen(*args: "Any", **kwargs: "Any") -> "Any":
        """Stand-in for ``os.popen`` until its first call activates the shim.

        Unlike ``os.system``, ``os.popen`` changes no signal disposition:
        signals are held only while the first call activates the shim (a
        handler that calls ``os.system`` then runs after the activation,
        never in its middle), and an interrupt that came meanwhile is raised
        again before the command starts.
        """
        if finalizing():
            return original(*args, **kwargs)
        if _LIFECYCLE.state is ARMED:
            _activate_holding_signals()
        return _LIFECYCLE.target(_LIFECYCLE.popen)(*args, **kwargs)

    popen.__qualname__ = "popen"
    return popen


def _activate_holding_signals() -> None:
    held = HOLD.enter()
    # Outermost only: the hold then notes SIGINT/SIGQUIT instead of
    # swallowing them (what it does for a program run without the shell).
    watching = held and HOLD.depth == 1
    previous = HOLD.begin_direct() if watching else None
    try:
        _LIFECYCLE.activate(None)
    finally:
        if held:
            interrupted = HOLD.interrupted if watching else None
            if previous is not None:
                HOLD.end_direct(previous)
            pending = HOLD.leave()
            if interrupted is not None and interrupted not in pending:
                pending.insert(0, interrupted)
            for sig in pending:
                raise_signal(sig)


popen_placeholder = _make_popen_placeholder()


class _Function:
    """One function the shim takes over (``os.system`` or ``os.popen``), and where it stands.

    Changed only under the lifecycle's lock.
    """

    __slots__ = ("core", "handler", "name", "original", "placeholder", "top")

    def __init__(self, name: str, original: "Any", stand_in: "Any") -> None:
        self.name = name
        self.original = original
        self.placeholder = stand_in
        #: The one handler of this function: every proxy of ours on it calls
        #: it, so switching its session switches them all.
        self.handler: Any = None
        #: A proxy around the original: where the placeholder forwards.
        self.core: Any = None
        #: The proxy we put into the chain on ``os.<name>`` (``core``, unless
        #: an opaque replacement made us wrap that instead).
        self.top: Any = None

    def current(self) -> "Any":
        return getattr(os, self.name)

    def assign(self, value: "Any") -> None:
        setattr(os, self.name, value)


class _Prepared:
    """What activation builds outside the lock: a session, and the handlers if there are none."""

    __slots__ = ("handler", "make_proxy", "popen_handler", "session", "settings")

    def __init__(
        self, settings: "Settings", handler: "Optional[Shim]", popen_handler: "Optional[PopenShim]"
    ) -> None:
        from shim._runtime import call, patch, popen, session

        self.settings = settings
        self.session = session.Session(settings)
        self.handler = handler if handler is not None else call.Shim()
        if popen_handler is None:
            popen_handler = popen.PopenShim(ORIGINAL_POPEN)
        self.popen_handler = popen_handler
        self.make_proxy = patch.make_proxy


class _Lifecycle:
    """The state of the shim in this process; one instance, :data:`_LIFECYCLE`."""

    __slots__ = ("armed", "lock", "popen", "rebound", "settings", "state", "system")

    def __init__(self) -> None:
        self.lock = _thread.RLock()  # type: ignore[attr-defined]  # typeshed: 3.13+
        self.state = OFF
        #: Settings waiting for the first call (ARMED), or in force (ACTIVE).
        self.armed: Optional[Settings] = None
        self.settings: Optional[Settings] = None
        self.system = _Function("system", ORIGINAL, placeholder)
        self.popen = _Function("popen", ORIGINAL_POPEN, popen_placeholder)
        #: (module namespace, name, value it held, value we put there)
        self.rebound: List[Tuple[Dict[str, Any], str, Any, Any]] = []

    @property
    def functions(self) -> "Tuple[_Function, _Function]":
        return self.system, self.popen

    @property
    def handler(self) -> "Optional[Shim]":
        """The handler of ``os.system`` (the one whose session the tests inspect)."""
        return self.system.handler  # type: ignore[no-any-return]

    @property
    def core(self) -> "Any":
        return self.system.core

    # -- reading ----------------------------------------------------------------

    def target(self, function: "Optional[_Function]" = None) -> "Callable[..., Any]":
        """Where a call through a placeholder goes: activating first when armed."""
        function = function or self.system
        if self.state is ARMED:
            self.activate(None)
        core = function.core
        if self.state is ACTIVE and core is not None:
            return core  # type: ignore[no-any-return]
        return function.original  # type: ignore[no-any-return]

    # -- transitions --------------------------------------------------------------

    def arm(self, settings: "Settings") -> None:
        """OFF → ARMED: put the placeholders on ``os.system`` and ``os.popen``."""
        HOLD.learn_main_thread()
        with self.lock:
            if self.state is ARMED:
                self.armed = settings
                return
            if self.state is OFF and all(f.current() is f.original for f in self.functions):
                for function in self.functions:
                    function.assign(function.placeholder)
                self.armed = settings
                self.state = ARMED
                return
        # Already active, or someone else's function is on os.system or
        # os.popen: install now, so that the wrappers are chained properly.
        self.activate(settings)

    def activate(self, settings: "Optional[Settings]") -> None:
        """ARMED/OFF → ACTIVE, or new settings while ACTIVE.

        ``settings=None`` activates with the armed settings (the first call
        through a placeholder); then it is a no-op when another thread has
        done it already, and a failure (wrapt missing, a redaction pattern
        from the environment that does not compile) prints one line and
        leaves the shim OFF: the program runs as without it.  With explicit
        settings (``install()``) the exception is raised instead.
        """
        HOLD.learn_main_thread()
        while True:
            wanted = settings if settings is not None else self.armed
            if wanted is None:
                return
            try:
                prepared = _Prepared(wanted, self.system.handler, self.popen.handler)
            except Exception as exc:
                if settings is not None:
                    raise
                self._give_up(exc)
                return
            with self.lock:
                if settings is None and (self.state is not ARMED or self.armed is not wanted):
                    if self.state is ARMED:
                        continue  # re-armed with other settings meanwhile
                    return  # another thread activated, or the shim was switched off
                self._commit(prepared)
                return

    def _commit(self, prepared: _Prepared) -> None:
        """Make ``prepared`` the state (lock held; no imports, no user code)."""
        if self.system.handler is None:
            self.system.handler = prepared.handler
        if self.popen.handler is None:
            self.popen.handler = prepared.popen_handler
        old = self.system.handler.session
        prepared.session.start()
        # os.popen's handler first: a call sees either both handlers on the
        # new session or os.system's still on the old one, never a retired
        # session in os.popen's alone.
        self.popen.handler.session = prepared.session
        self.system.handler.session = prepared.session
        if old is not None:
            old.retire()
        self.settings = prepared.settings
        self.armed = None
        for function in self.functions:
            if function.core is None:
                function.core = prepared.make_proxy(function.original, function.handler)
            self._place(function, prepared)
        self.state = ACTIVE

    def _place(self, function: _Function, prepared: _Prepared) -> None:
        """Put a proxy of ours into the chain on ``os.<name>``, unless one is there (lock held)."""
        from shim._runtime import patch

        current = function.current()
        links = patch.chain(current)
        if any(patch.is_ours(link, type(function.handler)) for link in links):
            return
        bottom = links[-1]
        if bottom is function.original or bottom is function.placeholder:
            function.top = function.core
            function.assign(patch.splice(current, function.core))
            self._rebind(function, function.current())
            return
        # Something we cannot see through (a mock, a plain function) replaced
        # the function.  Wrapping it keeps it in charge: the handler passes
        # such calls through.  Globals that still hold the original never
        # went through that replacement: they get the proxy around it.
        function.top = prepared.make_proxy(current, function.handler)
        function.assign(function.top)
        self._rebind(function, function.core)
        warn.warn_once(
            f"opaque-{function.name}",
            f"os.{function.name} is {current!r}, not the original function; "
            "shim leaves it in charge and does not run commands itself",
        )

    def uninstall(self) -> None:
        """Any state → OFF: the original functions, every rebound global restored.

        A call in progress in another thread finishes normally with the
        session it started with; that session's audit file is closed once
        the call has written its record.
        """
        with self.lock:
            from_state = self.state
            if from_state is OFF:
                return
            handler = self.system.handler
            if handler is not None and handler.session is not None:
                old, handler.session = handler.session, None
                if self.popen.handler is not None:
                    self.popen.handler.session = None
                old.retire(last=True)
            for function in self.functions:
                if function.top is not None:
                    from shim._runtime import patch

                    head = patch.unsplice(function.current(), function.top)
                    if head is not None:
                        function.assign(head)
                self._unplace_placeholder(function)
                function.top = None
            originals = {id(f.placeholder): f.original for f in self.functions}
            while self.rebound:
                namespace, key, before, ours = self.rebound.pop()
                if namespace.get(key) is ours:
                    namespace[key] = originals.get(id(before), before)
            if from_state is ARMED:
                for function in self.functions:
                    self._unrebind_placeholder(function)
            self.armed = None
            self.settings = None
            self.state = OFF

    @staticmethod
    def _unplace_placeholder(function: _Function) -> None:
        if function.current() is function.placeholder:
            function.assign(function.original)
            return
        # A wrapt wrapper put on the function while armed wraps the placeholder.
        link: Any = function.current()
        for _ in range(100):
            inner = getattr(link, "__wrapped__", None)
            if inner is None:
                return
            if inner is function.placeholder:
                link.__wrapped__ = function.original
                return
            link = inner

    def _give_up(self, exc: BaseException) -> None:
        warn.say(f"could not install, running without the shim: {exc}")
        with self.lock:
            if self.state is ARMED:
                for function in self.functions:
                    self._unplace_placeholder(function)
                    self._unrebind_placeholder(function)
                self.armed = None
                self.state = OFF

    # -- module globals ---------------------------------------------------------------

    def _rebind(
        self, function: _Function, target: "Any", *, only: "Any" = None, record: bool = True
    ) -> None:
        """Point module globals holding the original (or the placeholder) at ``target``."""
        original, stand_in = function.original, function.placeholder
        for namespace in _namespaces():
            for key, value in list(namespace.items()):
                hit = value is only if only is not None else value is original or value is stand_in
                if hit and value is not target:
                    namespace[key] = target
                    if record:
                        self.rebound.append((namespace, key, value, target))

    def _unrebind_placeholder(self, function: _Function) -> None:
        self._rebind(function, function.original, only=function.placeholder, record=False)

    # -- fork ---------------------------------------------------------------------------

    def after_fork_in_child(self) -> None:
        self.lock = _thread.RLock()  # type: ignore[attr-defined]  # typeshed: 3.13+


def _namespaces() -> "List[Dict[str, Any]]":
    found = []
    module_type = type(sys)
    for name, module in list(sys.modules.items()):
        if name in _NOT_REBOUND or name.startswith("shim.") or type(module) is not module_type:
            continue
        namespace = getattr(module, "__dict__", None)
        if isinstance(namespace, dict):
            found.append(namespace)
    return found


_LIFECYCLE = _Lifecycle()

if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_LIFECYCLE.after_fork_in_child)


# -- the interface of this module -------------------------------------------------------


def arm(settings: "Settings") -> None:
    """Put the placeholder on ``os.system``; the first call activates with ``settings``."""
    _LIFECYCLE.arm(settings)


def activate(settings: "Settings") -> None:
    """Activate now with ``settings`` (``install()``), or change the settings in force."""
    _LIFECYCLE.activate(settings)


def uninstall() -> None:
    _LIFECYCLE.uninstall()


def state() -> str:
    """``OFF``, ``ARMED`` or ``ACTIVE``."""
    return _LIFECYCLE.state


def settings() -> "Optional[Settings]":
    """The settings in force (ACTIVE) or waiting for the first call (ARMED), else ``None``."""
    life = _LIFECYCLE
    return life.settings if life.state is ACTIVE else life.armed
