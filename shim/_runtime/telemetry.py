"""OpenTelemetry: every call as a span and two metrics, through the program's own set-up.

Switched on by ``SHIM_OTEL=1`` (``install(otel=True)``).  Nothing of
OpenTelemetry is imported before the first call: the session makes a
:class:`Telemetry`, which is only a flag, and the first call imports the API.

Who does what, and in which thread:

* The calling thread, when a call begins (:meth:`Telemetry.begin`): notes
  the caller's current context, which will be the parent of the call's
  span.  With ``SHIM_OTEL_PROPAGATE=1`` it also starts the span, whose
  context the command gets in ``TRACEPARENT`` and ``TRACESTATE``.
* The calling thread, once the call has finished (:meth:`Telemetry.finish`):
  hands the call over to the shim's telemetry thread; one queue put.
* The telemetry thread (``shim-otel``, one per process): takes the call's
  fields as the audit record has them (the command masked exactly as
  there), creates the span with the command's start and end times, and
  records the metrics.

Why a thread of its own: the span processors, samplers and exporters are
the program's.  A synchronous processor (``SimpleSpanProcessor``) exports
inside ``span.end()``, so an exporter that blocks would block
``os.system`` and one that raises would raise from it.  Handed over, a
failure is one warning, a stall is one warning, and the call returns what
it returns in the same time.  The thread is started only once a tracer or
meter provider is set up: with the API alone every span is a no-op, and a
thread for nothing would make ``os.fork()`` warn about a multi-threaded
process.  It blocks every asynchronous signal, so that a signal meant for
the program reaches the main thread as it would without the shim.

When the program set up no provider but names an exporter in the standard
variables (``OTEL_TRACES_EXPORTER``, ``OTEL_METRICS_EXPORTER``), the first
call sets OpenTelemetry up from those variables through the installed
configurator (the ``opentelemetry_configurator`` entry point, from
``opentelemetry-distro``), as ``opentelemetry-instrument`` does at
start-up, without touching the environment.  In the calling thread: the
SDK registers its exit handler then, and an exiting program refuses that.

Imported only when ``SHIM_OTEL`` is on; importable on Python 3.6, where
the API cannot be installed (the first call then warns once).
"""

import _thread
import contextlib
import os
import signal
import time
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

from shim._common import platform, redact, status
from shim._runtime import warn

if TYPE_CHECKING:
    from shim._common.settings import Settings
    from shim._runtime.call import Call
    from shim._runtime.session import Session

__all__ = [
    "BRIDGE",
    "SPAN_NAME",
    "Begun",
    "Telemetry",
    "classify",
    "environment",
    "facts",
    "flush",
    "span_attributes",
]

#: The span's name: the operation, whatever the command (low cardinality).
SPAN_NAME = "os.system"
#: The instrumentation scope of the spans and metrics.
SCOPE = "shim"
#: Names of the two metrics.
CALLS = "shim.calls"
DURATION = "shim.call.duration"
#: Bucket boundaries (seconds) suggested to the SDK for the duration: from
#: a /bin/true to a ten-minute batch job.
DURATION_BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
)  # fmt: skip
#: The telemetry thread gathers finished calls this long before it records them.
BATCH_SECONDS = 0.05
#: The telemetry thread has been busy with one call this long: warn.
STALL_SECONDS = 2.0
#: At most this many finished calls wait for the telemetry thread; more are dropped.
BACKLOG = 4096
#: How long the program's exit may wait for the telemetry thread to hand over.
EXIT_SECONDS = 10.0
#: The environment variables of the trace context (OpenTelemetry's
#: environment-variable carriers: the W3C header names, upper case).
CARRIER = ((b"TRACEPARENT", "traceparent"), (b"TRACESTATE", "tracestate"))
#: Variables that name exporters: their presence asks for OpenTelemetry to
#: be set up from the environment.
_EXPORTER_VARIABLES = ("OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER")
_SYNCHRONOUS_SIGNALS = ("SIGSEGV", "SIGBUS", "SIGFPE", "SIGILL", "SIGTRAP", "SIGSYS")


class Begun:
    """What a call's telemetry noted when the call began, in the calling thread."""

    __slots__ = ("parent", "span", "start", "variables")

    def __init__(self, parent: Any, start: int) -> None:
        #: The caller's context: the span's parent.
        self.parent = parent
        #: Nanoseconds since the epoch, the record's ``ts``.
        self.start = start
        #: The span, when it had to start early (propagation).
        self.span: Any = None
        #: ``TRACEPARENT``/``TRACESTATE`` for the command, when propagated.
        self.variables: Optional[Dict[bytes, bytes]] = None


class Telemetry:
    """A session's view of telemetry: whether to propagate; the rest is :data:`BRIDGE`'s."""

    __slots__ = ("propagate",)

    def __init__(self, settings: "Settings") -> None:
        self.propagate = bool(settings.otel_propagate)

    def begin(self, call: "Call") -> None:
        """Note the caller's context (and, propagating, start the span); never raises."""
        bridge = BRIDGE
        try:
            if not bridge.ready():
                return
            begun = Begun(bridge.current_context(), int(call.started * 1e9))
            if self.propagate:
                bridge.start_early(begun)
            call.trace = begun
        except Exception as exc:
            warn.warn_once("otel", _failed(exc))

    def finish(self, call: "Call", session: "Session") -> None:
        """Hand a finished call to the telemetry thread; never raises or waits."""
        if call.trace is not None:
            BRIDGE.submit(call, session)


class _Api:
    """The parts of the OpenTelemetry API the shim uses, imported at the first call."""

    __slots__ = (
        "calls",
        "client",
        "context",
        "counts",
        "durations",
        "error",
        "metrics",
        "propagator",
        "status",
        "trace",
        "tracer",
    )

    def __init__(self) -> None:
        from opentelemetry import context, metrics, trace
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        from shim._version import __version__

        self.context = context
        self.trace = trace
        self.metrics = metrics
        self.client = trace.SpanKind.CLIENT
        self.status = trace.Status
        self.error = trace.StatusCode.ERROR
        self.propagator = TraceContextTextMapPropagator()
        # Through the global providers: before the program sets one up these
        # are proxies, which follow it once it has.
        self.tracer = trace.get_tracer(SCOPE, __version__)
        meter = metrics.get_meter(SCOPE, __version__)
        # The count is asynchronous: the telemetry thread adds to a dict, the
        # SDK reads it when it collects.  A synchronous counter would cost
        # each call about as much as the histogram does.
        self.counts = _Counts(metrics.Observation)
        self.calls = meter.create_observable_counter(
            CALLS, callbacks=[self.counts.observe], unit="{call}", description="os.system calls"
        )
        try:
            self.durations = meter.create_histogram(
                DURATION,
                unit="s",
                description="How long os.system calls took",
                explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
            )
        except TypeError:  # an API before the advisory parameter
            self.durations = meter.create_histogram(
                DURATION, unit="s", description="How long os.system calls took"
            )

    def set_up(self) -> bool:
        """Whether the program (or its launcher) has set up a tracer or meter provider."""
        trace = self.trace
        tracers = trace.get_tracer_provider()
        if not isinstance(tracers, (trace.ProxyTracerProvider, trace.NoOpTracerProvider)):
            return True
        meters = self.metrics.get_meter_provider()
        # The proxy the API hands out before any provider is set is private.
        return not isinstance(meters, self.metrics.NoOpMeterProvider) and (
            type(meters).__name__ != "_ProxyMeterProvider"
        )


class _Counts:
    """The calls counted so far, by attribute set: what ``shim.calls`` reports."""

    __slots__ = ("counts", "lock", "observation")

    def __init__(self, observation: Any) -> None:
        self.observation = observation
        self.counts: Dict[Tuple[Tuple[str, Any], ...], int] = {}
        # The telemetry thread adds, the SDK's reader thread reads.
        self.lock = _thread.allocate_lock()

    def add(self, attributes: Dict[str, Any]) -> None:
        key = tuple(sorted(attributes.items()))
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + 1

    def observe(self, options: Any) -> List[Any]:
        with self.lock:
            counted = list(self.counts.items())
        return [self.observation(count, dict(key)) for key, count in counted]


_NEW = "new"  # nothing known yet
_IDLE = "idle"  # the API is there, nothing is set up (yet)
_LIVE = "live"  # spans and metrics are recorded
_OFF = "off"  # no API, or the program is exiting: calls run untraced


class _Bridge:
    """The process's link to OpenTelemetry: the API, the telemetry thread, their state.

    One instance, :data:`BRIDGE`.  Several threads may make their first
    calls at once: every step of getting ready is idempotent, and the
    steps that must happen once (starting the thread, setting up from the
    environment) take :attr:`lock`.
    """

    __slots__ = ("api", "lock", "state", "worker")

    def __init__(self) -> None:
        self.state = _NEW
        self.api: Optional[_Api] = None
        # Reentrant: the configurator and warnings run user code, which may
        # call os.system in this thread.
        self.lock = _thread.RLock()  # type: ignore[attr-defined]  # typeshed: 3.13+
        self.worker: Optional[_Worker] = None

    # -- in the calling thread ---------------------------------------------------------

    def ready(self) -> bool:
        """Whether this call is to be recorded; gets ready on the way (imports, set-up)."""
        state = self.state
        if state is _LIVE:
            worker = self.worker
            return worker is None or worker.ident != _thread.get_ident()
        if state is _OFF:
            return False
        api = self.api
        if api is None:
            try:
                api = self._load()
            except ImportError as exc:
                self.state = _OFF
                warn.warn_once(
                    "otel-api",
                    f"SHIM_OTEL is on but the OpenTelemetry API cannot be imported ({exc}); "
                    "install os-system-shim[otel]; os.system calls run untraced",
                )
                return False
            except Exception as exc:
                self.state = _OFF
                warn.warn_once("otel-api", _failed(exc))
                return False
            self.state = _IDLE
        if api.set_up():
            self.state = _LIVE
            return True
        if state is _NEW:
            if not _exporters_named():
                warn.warn_once(
                    "otel-idle",
                    "SHIM_OTEL is on but OpenTelemetry is not set up in this process (no "
                    "tracer or meter provider, and OTEL_TRACES_EXPORTER / "
                    "OTEL_METRICS_EXPORTER name no exporter); os.system calls run untraced "
                    "until the program sets up a provider",
                )
                return False
            # Here, not in the telemetry thread: the SDK registers its own
            # exit handler, which a program that is already exiting refuses.
            self.state = _LIVE
            self.set_up_from_environment()
            return self.state is _LIVE
        return False

    def _load(self) -> "_Api":
        """Import the API (outside the lock), then make the instruments, once per process.

        Twice would make the SDK warn about instruments created again.
        """
        import opentelemetry.metrics
        import opentelemetry.trace  # noqa: F401

        with self.lock:
            api = self.api
            if api is None:
                api = self.api = _Api()
            return api

    def current_context(self) -> Any:
        api = self.api
        assert api is not None  # noqa: S101 - ready() imported it
        return api.context.get_current()

    def start_early(self, begun: Begun) -> None:
        """Start the span now, and give its context to the command (propagation)."""
        api = self.api
        assert api is not None  # noqa: S101 - ready() imported it
        span = api.tracer.start_span(
            SPAN_NAME, context=begun.parent, kind=api.client, start_time=begun.start
        )
        begun.span = span
        carrier: Dict[str, str] = {}
        api.propagator.inject(carrier, context=api.trace.set_span_in_context(span, begun.parent))
        variables = {
            name: carrier[header].encode("ascii")
            for name, header in CARRIER
            if carrier.get(header)
        }
        begun.variables = variables or None

    def submit(self, call: "Call", session: "Session") -> None:
        """Queue a finished call for the telemetry thread; never raises or waits."""
        try:
            worker = self.worker
            if worker is None:
                worker = self._start_worker()
                if worker is None:
                    return
            busy = worker.busy_since
            if busy and time.monotonic() - busy > STALL_SECONDS:
                warn.warn_once("otel-stall", _STALLED)
            if worker.queue.qsize() >= BACKLOG:
                warn.warn_once(
                    "otel-backlog",
                    f"more than {BACKLOG} os.system calls wait for OpenTelemetry; "
                    "the spans and metrics of further calls are dropped until it catches up",
                )
                return
            worker.queue.put((self.record, (call, session), True))
        except Exception as exc:
            warn.warn_once("otel", _failed(exc))

    def _start_worker(self) -> "Optional[_Worker]":
        with self.lock:
            worker = self.worker
            if worker is not None:
                return worker
            if self.state is not _LIVE:
                return None
            worker = _Worker()
            try:
                worker.start()
            except RuntimeError:  # the interpreter is shutting down: no new threads
                self.state = _OFF
                return None
            self.worker = worker
        import atexit

        # Once: a child made by fork() inherits the parent's registration.
        atexit.unregister(_at_exit)
        atexit.register(_at_exit)
        return worker

    # -- in the calling thread, once ----------------------------------------------------

    def set_up_from_environment(self) -> None:
        """Set OpenTelemetry up from ``OTEL_*`` variables, as ``opentelemetry-instrument`` does."""
        problem = None
        with self.lock:
            api = self.api
            if api is None or api.set_up():
                return
            try:
                configurator = _configurator()
                if configurator is None:
                    problem = (
                        "OTEL_TRACES_EXPORTER / OTEL_METRICS_EXPORTER name an exporter but no "
                        "OpenTelemetry configurator is installed (pip install "
                        "opentelemetry-distro)"
                    )
                else:
                    configurator.configure()
            except Exception as exc:
                problem = f"could not set OpenTelemetry up from the OTEL_* variables ({exc!r})"
            if problem is not None:
                self.state = _IDLE
        if problem is not None:
            warn.warn_once("otel-setup", f"{problem}; os.system calls run untraced")
            return
        # The SDK shuts down at exit, in an atexit handler registered just
        # now: ours must run before it, to hand over the last calls.
        import atexit

        atexit.unregister(_at_exit)
        atexit.register(_at_exit)

    # -- in the telemetry thread -----------------------------------------------------------

    def record(self, call: "Call", session: "Session") -> None:
        """Create the span of a finished call and record its metrics."""
        api = self.api
        begun = call.trace
        assert api is not None  # noqa: S101 - begin() imported it
        assert begun is not None  # noqa: S101 - and noted this
        data = facts(call, session)
        attributes = span_attributes(call, data, session.redactor)
        outcome, error_type, description = classify(data)
        try:
            span = begun.span
            if span is None:
                span = api.tracer.start_span(
                    call.function,
                    context=begun.parent,
                    kind=api.client,
                    attributes=attributes,
                    start_time=begun.start,
                )
            else:
                if call.function != SPAN_NAME:
                    span.update_name(call.function)  # started before the function was known
                span.set_attributes(attributes)
            if description is not None:
                span.set_status(api.status(api.error, description))
            span.end(end_time=begun.start + int(call.duration * 1e9))
        finally:
            # The metrics do not depend on the span: record them even when a
            # span processor failed.
            metric: Dict[str, Any] = {"shim.outcome": outcome, "shim.shell": data["shell"]}
            for key in ("code.file.path", "code.line.number", "code.function.name"):
                if key in attributes:
                    metric[key] = attributes[key]
            if error_type is not None:
                metric["error.type"] = error_type
            api.counts.add(metric)
            api.durations.record(call.duration, metric)

    # -- fork ----------------------------------------------------------------------------------

    def after_fork_in_child(self) -> None:
        # The thread does not exist in the child, what the parent had queued
        # is the parent's to record, and a lock that thread held stays held.
        self.lock = _thread.RLock()  # type: ignore[attr-defined]  # typeshed: 3.13+
        self.worker = None
        if self.api is not None:
            self.api.counts.lock = _thread.allocate_lock()

    # -- at exit, and for tests ------------------------------------------------------------

    def flush(self, timeout: float, *, closing: bool = False) -> bool:
        """Wait until the telemetry thread has handed over what is queued; ``False`` if stuck.

        ``closing``: the program is exiting; calls from now on run untraced.
        """
        if closing:
            self.state = _OFF
        worker = self.worker
        if worker is None:
            return True
        done = _thread.allocate_lock()
        done.acquire()
        worker.queue.put((done.release, (), False))
        worker.wake.set()
        deadline = time.monotonic() + timeout
        while not done.acquire(timeout=0.05):
            now = time.monotonic()
            busy = worker.busy_since
            stuck = busy and now - busy > STALL_SECONDS
            if stuck or now > deadline or not worker.thread.is_alive():
                return False
        return True


class _Worker:
    """The telemetry thread and its queue of work: ``(function, arguments, may_wait)``.

    Calls are recorded in batches: after the first call of a batch the
    thread sleeps for up to :data:`BATCH_SECONDS` (a flush wakes it), then
    takes everything queued and records the calls one after the other.
    Recorded one at a time, as they came, each call found the SDK's code
    and data gone from the caches (the program and its commands ran in
    between) and cost more than twice the CPU, plus a wake-up.  Between two
    calls the thread lets go of the GIL, so that a calling thread waits for
    at most one call's worth of work.
    """

    __slots__ = ("busy_since", "ident", "queue", "thread", "wake")

    def __init__(self) -> None:
        import queue
        import threading

        # SimpleQueue (3.7+): a put costs the caller a fraction of a microsecond.
        self.queue: Any = getattr(queue, "SimpleQueue", queue.Queue)()
        #: Set to end the sleep before a batch (a flush waits).
        self.wake = threading.Event()
        #: time.monotonic() when the work in hand began; 0.0 when idle.
        self.busy_since = 0.0
        self.ident: Optional[int] = None
        self.thread = threading.Thread(target=self.run, name="shim-otel", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def run(self) -> None:
        import queue

        self.ident = _thread.get_ident()
        _block_signals()
        get, get_nowait, empty = self.queue.get, self.queue.get_nowait, queue.Empty
        clock = time.monotonic
        while True:
            work = [get()]
            if work[0][2]:
                self.wake.wait(BATCH_SECONDS)
                self.wake.clear()
            while True:
                try:
                    work.append(get_nowait())
                except empty:
                    break
            for function, arguments, _ in work:
                self.busy_since = clock()
                try:
                    function(*arguments)
                except Exception as exc:
                    warn.warn_once("otel", _failed(exc))
                finally:
                    self.busy_since = 0.0
                time.sleep(0)  # let a calling thread have the GIL
            del work


#: The one bridge of this process.
BRIDGE = _Bridge()

_STALLED = (
    f"OpenTelemetry has been busy with one os.system call for more than {STALL_SECONDS:g} s "
    "(a span processor or exporter blocks); calls are not delayed, their spans and metrics wait"
)


def _failed(exc: BaseException) -> str:
    return f"OpenTelemetry failed to record an os.system call ({exc!r}); calls still run"


def _at_exit() -> None:
    if not BRIDGE.flush(EXIT_SECONDS, closing=True):
        warn.warn_once("otel-stall", _STALLED)


def flush(timeout: float = EXIT_SECONDS) -> bool:
    """Wait until every finished call has been handed to OpenTelemetry; ``False`` if stuck."""
    return BRIDGE.flush(timeout)


def _block_signals() -> None:
    """Leave the process's signals to the other threads, as if this thread were not there."""
    synchronous = {getattr(signal, name) for name in _SYNCHRONOUS_SIGNALS if hasattr(signal, name)}
    valid = getattr(signal, "valid_signals", None)
    numbers = valid() if valid is not None else range(1, signal.NSIG)
    with contextlib.suppress(AttributeError, OSError, ValueError):  # not POSIX
        signal.pthread_sigmask(signal.SIG_BLOCK, set(numbers) - synchronous)


def _exporters_named() -> bool:
    for name in _EXPORTER_VARIABLES:
        value = os.environ.get(name, "").strip().lower()
        if value and value != "none":
            return True
    return False


def _configurator() -> Any:
    """The installed OpenTelemetry configurator (``OTEL_PYTHON_CONFIGURATOR`` picks), or None."""
    from importlib import metadata

    wanted = os.environ.get("OTEL_PYTHON_CONFIGURATOR")
    found: Any = metadata.entry_points()
    group = "opentelemetry_configurator"
    entries = found.select(group=group) if hasattr(found, "select") else found.get(group, ())
    for entry in entries:
        if wanted is None or entry.name == wanted:
            return entry.load()()
    return None


def environment(
    variables: Dict[bytes, bytes],
    *,
    planned: Optional[Dict[bytes, bytes]] = None,
    dash_order: bool = True,
) -> Dict[bytes, bytes]:
    """The command's environment, its trace context replaced by ``variables``.

    ``planned``: the environment of a program run without the shell (what
    ``/bin/sh`` would have handed it, in its order); the trace context is
    added to it, in dash's order where ``/bin/sh`` is dash (``dash_order``).
    Otherwise the C environment, in its order (the shell reorders it itself).
    """
    from shim._runtime import shellfree

    carrier = {name for name, _header in CARRIER}
    base = shellfree.ENVIRONMENT.current()[0] if planned is None else planned
    env = {name: value for name, value in base.items() if name not in carrier}
    env.update(variables)
    if planned is not None and dash_order:
        return {name: env[name] for name in shellfree.environment_order(env)}
    return env


def facts(call: "Call", session: "Session") -> Dict[str, Any]:
    """The fields of the call's audit record that telemetry reports, made the same way.

    :func:`shim._runtime.publish.record` also masks the output's tails,
    which telemetry does not report; the command and its argv come from
    the very masking the audit record uses (a secret found in one form of
    the command is hidden in all), and a test compares them with it.
    """
    from shim._runtime import publish

    settings = session.settings
    ran_directly = call.argv is not None and not call.shell
    command, argv, _secrets, _suggestion = publish.masked(call, session, ran_directly)
    site = call.site
    wait_status = call.status
    captured = call.captured
    return {
        "command": command,
        "argv": argv,
        "shell": bool(call.shell),
        "shell_reason": call.shell_reason if call.shell else None,
        "mode": settings.shell,
        "cwd": redact.render_str(call.cwd) if call.cwd is not None else None,
        "site": (
            {"file": redact.render_str(site[0]), "line": site[1], "function": site[2]}
            if site is not None
            else None
        ),
        "status": wait_status,
        "exit_code": status.exit_code(wait_status),
        "signal": status.term_signal(wait_status),
        "core_dumped": status.core_dumped(wait_status),
        "capture": settings.capture,
        "stdout_bytes": getattr(captured, "stdout_bytes", None),
        "stderr_bytes": getattr(captured, "stderr_bytes", None),
        "merged": bool(getattr(captured, "merged", False)),
    }


def classify(data: Dict[str, Any]) -> Tuple[str, Optional[str], Optional[str]]:
    """``(outcome, error.type, span status description)`` of a call's record.

    ``error.type`` and the description are ``None`` for a call that did not
    fail: exit code 0, or a status that could not be collected (``-1``,
    SIGCHLD ignored: nothing says the command failed).
    """
    code = data["exit_code"]
    if code == 0:
        return "success", None, None
    if code == 127:
        return "not_found", "not_found", "command not found (exit code 127)"
    if code == 126:
        return "cannot_execute", "cannot_execute", "command cannot be executed (exit code 126)"
    if code is not None:
        return "nonzero_exit", "nonzero_exit", f"exit code {code}"
    number = data["signal"]
    if number is not None:
        name = _signal_name(number)
        core = " (core dumped)" if data["core_dumped"] else ""
        return "signal", name, f"killed by {name}{core}"
    return "not_collected", None, None


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def span_attributes(
    call: "Call", data: Dict[str, Any], redactor: redact.Redactor
) -> Dict[str, Any]:
    """The span's attributes: semantic conventions where they exist, ``shim.*`` for the rest."""
    outcome, error_type, _ = classify(data)
    launch = call.launch
    if call.shell or launch is None:
        executable = os.fsdecode(platform.SHELL_PATH)
    else:
        executable = redactor.command(redact.render(launch.executable))
    attributes: Dict[str, Any] = {
        "process.command_line": data["command"],
        "process.executable.path": executable,
        "process.executable.name": executable.rpartition("/")[2],
        "shim.status": data["status"],
        "shim.outcome": outcome,
        "shim.shell": data["shell"],
        "shim.mode": data["mode"],
        "shim.capture": data["capture"],
        "shim.function": call.function,
    }
    optional: List[Tuple[str, Any]] = [
        ("process.command_args", data["argv"]),
        ("process.pid", call.pid or None),
        ("process.exit.code", data["exit_code"]),
        ("process.working_directory", data["cwd"]),
        ("error.type", error_type),
        ("shim.shell_reason", data["shell_reason"]),
        ("shim.signal", data["signal"]),
        ("shim.core_dumped", data["core_dumped"] if data["signal"] is not None else None),
        ("shim.stdout_bytes", data["stdout_bytes"]),
        ("shim.stderr_bytes", data["stderr_bytes"]),
        # fds 1 and 2 were one file: stdout_bytes counts both streams.
        ("shim.merged", True if data["merged"] else None),
        # os.popen: its mode, and how the stream ended (closed, collected, at exit).
        ("shim.popen_mode", call.popen_mode),
        ("shim.end", call.end),
    ]
    site = data["site"]
    if site is not None:
        optional += [
            ("code.file.path", site["file"]),
            ("code.line.number", site["line"]),
            ("code.function.name", site["function"]),
        ]
    attributes.update((key, value) for key, value in optional if value is not None)
    return attributes


def _after_fork_in_child() -> None:
    BRIDGE.after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)

