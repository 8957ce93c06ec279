"""The shim's one state machine, and the only code that changes ``os.system``.

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

Every transition happens under one lock, here.  This module is also the
only one that looks through ``sys.modules``: module globals that hold the C
function (``from os import system`` made before the shim was installed) are
rebound on activation and restored on uninstall.

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

__all__ = [
    "ACTIVE",
    "ARMED",
    "OFF",
    "ORIGINAL",
    "activate",
    "arm",
    "placeholder",
    "settings",
    "state",
    "uninstall",
]

OFF = "off"
ARMED = "armed"
ACTIVE = "active"

#: The C function: ``posix.system`` (``nt.system`` on Windows).
ORIGINAL: "Callable[..., int]" = __import__(os.name).system

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
            return _LIFECYCLE.target()(*args, **kwargs)
        finally:
            if held:
                for sig in HOLD.leave():
                    raise_signal(sig)

    system.__qualname__ = "system"
    return system


placeholder = _make_placeholder()


class _Prepared:
    """What activation builds outside the lock: a session, and the handler if there is none."""

    __slots__ = ("handler", "make_proxy", "session", "settings")

    def __init__(self, settings: "Settings", handler: "Optional[Shim]") -> None:
        from shim._runtime import call, patch, session

        self.settings = settings
        self.session = session.Session(settings)
        self.handler = handler if handler is not None else call.Shim()
        self.make_proxy = patch.make_proxy


class _Lifecycle:
    """The state of the shim in this process; one instance, :data:`_LIFECYCLE`."""

    __slots__ = ("armed", "core", "handler", "lock", "rebound", "settings", "state", "top")

    def __init__(self) -> None:
        self.lock = _thread.RLock()  # type: ignore[attr-defined]  # typeshed: 3.13+
        self.state = OFF
        #: Settings waiting for the first call (ARMED), or in force (ACTIVE).
        self.armed: Optional[Settings] = None
        self.settings: Optional[Settings] = None
        #: The one handler of this process: every proxy of ours calls it, so
        #: switching its session switches them all.
        self.handler: Optional[Shim] = None
        #: A proxy around the C function: where the placeholder forwards.
        self.core: Any = None
        #: The proxy we put into the chain on os.system (``core``, unless an
        #: opaque replacement of os.system made us wrap that instead).
        self.top: Any = None
        #: (module namespace, name, value it held, value we put there)
        self.rebound: List[Tuple[Dict[str, Any], str, Any, Any]] = []

    # -- reading ----------------------------------------------------------------

    def target(self) -> "Callable[..., int]":
        """Where a call through the placeholder goes: activating first when armed."""
        if self.state is ARMED:
            self.activate(None)
        core = self.core
        if self.state is ACTIVE and core is not None:
            return core  # type: ignore[no-any-return]
        return ORIGINAL

    # -- transitions --------------------------------------------------------------

    def arm(self, settings: "Settings") -> None:
        """OFF → ARMED: put the placeholder on ``os.system`` (start-up, ``import shim.auto``)."""
        HOLD.learn_main_thread()
        with self.lock:
            if self.state is ARMED:
                self.armed = settings
                return
            if self.state is OFF and os.system is ORIGINAL:
                os.system = placeholder
                self.armed = settings
                self.state = ARMED
                return
        # Already active, or someone else's function is on os.system: install
        # now, so that the wrappers are chained properly.
        self.activate(settings)

    def activate(self, settings: "Optional[Settings]") -> None:
        """ARMED/OFF → ACTIVE, or new settings while ACTIVE.

        ``settings=None`` activates with the armed settings (the first call
        through the placeholder); then it is a no-op when another thread has
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
                prepared = _Prepared(wanted, self.handler)
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
        handler = self.handler
        if handler is None:
            handler = self.handler = prepared.handler
        old = handler.session
        prepared.session.start()
        handler.session = prepared.session
        if old is not None:
            old.retire()
        self.settings = prepared.settings
        self.armed = None
        if self.core is None:
            self.core = prepared.make_proxy(ORIGINAL, handler)
        self._place(prepared)
        self.state = ACTIVE

    def _place(self, prepared: _Prepared) -> None:
        """Put a proxy of ours into the chain on ``os.system``, unless one is there (lock held)."""
        from shim._runtime import patch

        current = os.system
        links = patch.chain(current)
        if any(patch.is_ours(link, type(self.handler)) for link in links):
            return
        bottom = links[-1]
        if bottom is ORIGINAL or bottom is placeholder:
            self.top = self.core
            os.system = patch.splice(current, self.core)
            self._rebind(os.system)
            return
        # Something we cannot see through (a mock, a plain function) replaced
        # os.system.  Wrapping it keeps it in charge: the handler passes such
        # calls through.  Globals that still hold the C function never went
        # through that replacement: they get the proxy around the C function.
        self.top = prepared.make_proxy(current, prepared.handler)
        os.system = self.top
        self._rebind(self.core)
        warn.warn_once(
            "opaque",
            f"os.system is {current!r}, not the original function; "
            "shim leaves it in charge and does not run commands itself",
        )

    def uninstall(self) -> None:
        """Any state → OFF: the original ``os.system``, every rebound global restored.

        A call in progress in another thread finishes normally with the
        session it started with; that session's audit file is closed once
        the call has written its record.
        """
        with self.lock:
            from_state = self.state
            if from_state is OFF:
                return
            handler = self.handler
            if handler is not None and handler.session is not None:
                old, handler.session = handler.session, None
                old.retire(last=True)
            if self.top is not None:
                from shim._runtime import patch

                head = patch.unsplice(os.system, self.top)
                if head is not None:
                    os.system = head
            self._unplace_placeholder()
            while self.rebound:
                namespace, key, before, ours = self.rebound.pop()
                if namespace.get(key) is ours:
                    namespace[key] = ORIGINAL if before is placeholder else before
            if from_state is ARMED:
                self._rebind(ORIGINAL, only=placeholder, record=False)
            self.top = None
            self.armed = None
            self.settings = None
            self.state = OFF

    def _unplace_placeholder(self) -> None:
        if os.system is placeholder:
            os.system = ORIGINAL
            return
        # A wrapt wrapper put on os.system while armed wraps the placeholder.
        link: Any = os.system
        for _ in range(100):
            inner = getattr(link, "__wrapped__", None)
            if inner is None:
                return
            if inner is placeholder:
                link.__wrapped__ = ORIGINAL
                return
            link = inner

    def _give_up(self, exc: BaseException) -> None:
        warn.say(f"could not install, running without the shim: {exc}")
        with self.lock:
            if self.state is ARMED:
                self._unplace_placeholder()
                self._rebind(ORIGINAL, only=placeholder, record=False)
                self.armed = None
                self.state = OFF

    # -- module globals ---------------------------------------------------------------

    def _rebind(self, target: "Any", *, only: "Any" = None, record: bool = True) -> None:
        """Point module globals holding the C function (or the placeholder) at ``target``."""
        for namespace in _namespaces():
            for key, value in list(namespace.items()):
                if only is not None:
                    hit = value is only
                else:
                    hit = value is ORIGINAL or value is placeholder
                if hit and value is not target:
                    namespace[key] = target
                    if record:
                        self.rebound.append((namespace, key, value, target))

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
