"""Run the same situation under plain ``os.system`` and under the shim, and compare.

Each run is a fresh interpreter.  The child executes ``PRELUDE`` and then the
case's code, which calls ``call(...)`` (a thin wrapper over ``os.system``
that records the return value or the exception).  What is compared:

* what every ``os.system`` call returned or raised;
* the bytes on fd 1 and on fd 2 (or on the single pipe both share, for
  ``merged`` cases), after the case's ``normalize``;
* what is left of stdin after the calls;
* the ``os.system`` audit events;
* the interpreter's exit status;
* anything else the case records with ``note(...)`` (files, fds, timings).
"""

import importlib.util
import json
import os
import subprocess
import tempfile
import textwrap
from typing import Any, Callable, Dict, List, Optional

import activation


def _have_otel_sdk() -> bool:
    try:
        return importlib.util.find_spec("opentelemetry.sdk") is not None
    except ImportError:
        return False


#: Whether the children can set up OpenTelemetry's SDK (it needs Python 3.8+).
OTEL = _have_otel_sdk()
#: The mode that also reports every call to OpenTelemetry, when it can.
OTEL_MODE = "auto+tee+otel" if OTEL else "auto+tee"

#: The modes of the shim, as keyword arguments of ``shim.install``, and the
#: way each is switched on (see ``activation.py``): every case runs through
#: every activation path users take, without multiplying the runs.
MODES: Dict[str, Dict[str, Any]] = {
    "default": {},
    "tee": {"capture": "tee"},
    "auto": {"shell": "auto"},
    OTEL_MODE: {"shell": "auto", "capture": "tee", **({"otel": True} if OTEL else {})},
}
ACTIVATION = {
    "default": "env",
    "tee": "auto",
    "auto": "run",
    OTEL_MODE: "install",
}

#: For modes with ``otel``: the SDK as a program sets it up (a batch span
#: processor, a metric reader), on the first line in front of the
#: activation, so that line numbers stay those of the plain run.  The spans
#: exported end up in ``_otel_spans``; ``_finish`` counts them.
OTEL_SETUP = (
    "from opentelemetry import trace as _ot, metrics as _om; "
    "from opentelemetry.sdk.trace import TracerProvider as _OTP; "
    "from opentelemetry.sdk.trace.export import BatchSpanProcessor as _OBSP; "
    "from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter as _OIM; "
    "from opentelemetry.sdk.metrics import MeterProvider as _OMP; "
    "from opentelemetry.sdk.metrics.export import InMemoryMetricReader as _OIMR; "
    "_otel_spans = _OIM(); _otel_provider = _OTP(); "
    "_otel_provider.add_span_processor(_OBSP(_otel_spans)); _ot.set_tracer_provider(_otel_provider); "
    "_om.set_meter_provider(_OMP(metric_readers=[_OIMR()])); "
)
#: The 2>&1 runs go through the start-up hook as well.
MERGED_ACTIVATION = "env"

#: Modes run a second time with fd 2 merged into fd 1 (``2>&1``): the one
#: where that changes what the shim does (one pipe for both streams).
MERGED_MODES = ("tee",)

PRELUDE = textwrap.dedent(
    """
    import json as _json, os, os as _os, sys as _sys
    _result_path = _os.environ.pop("DIFF_RESULT")
    _mode = _os.environ.pop("DIFF_MODE")
    _results, _events, _notes = [], [], {}

    def _audit(name, args):
        if name == "os.system":
            _events.append(repr(args))

    if hasattr(_sys, "addaudithook"):
        _sys.addaudithook(_audit)

    def call(*args, **kwargs):
        try:
            value = _os.system(*args, **kwargs)
        except BaseException as exc:
            _results.append(["raise", type(exc).__name__, str(exc)])
            return None
        _results.append(["ok", value])
        return value

    def note(key, value):
        _notes[key] = value

    _completed = []

    def _finish():
        _life = _sys.modules.get("shim._runtime.lifecycle")
        _active = _life is not None and _life.state() != "off"
        data = {"results": _results, "events": _events, "notes": _notes, "active": _active,
                "completed": bool(_completed), "spans": None}
        if "_otel_spans" in globals():
            _otel_provider.force_flush()
            data["spans"] = len(_otel_spans.get_finished_spans())
        with open(_result_path, "w") as f:
            _json.dump(data, f)

    import atexit as _atexit
    _atexit.register(_finish)
    """
)


class Case:
    """One situation to run both ways."""

    def __init__(
        self,
        name: str,
        code: str,
        *,
        stdin: bytes = b"",
        merged: bool = False,
        new_session: bool = False,
        normalize: Optional[Callable[[bytes], bytes]] = None,
        merged_normalize: Optional[Callable[[bytes], bytes]] = None,
        env: Optional[Dict[str, str]] = None,
        read_stdin_after: bool = True,
        timeout: float = 30,
    ) -> None:
        self.name = name
        self.code = textwrap.dedent(code)
        self.stdin = stdin
        self.merged = merged
        self.new_session = new_session
        self.normalize = normalize
        self.merged_normalize = merged_normalize
        self.env = env or {}
        self.read_stdin_after = read_stdin_after
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"Case({self.name})"


# glibc's posix_spawn, which system(3) uses, sets its two internal signals
# (32 SIGCANCEL and 33 SIGSETXID) to SIG_IGN in the child, where Popen's
# fork/exec leaves them at the default.  Programs linked with glibc install
# their own handlers for both at start-up, so only a report such as
# /proc/self/status can tell; the shim keeps Popen's behaviour (README,
# "Known differences") and these two bits are left out of the comparison.
_GLIBC_INTERNAL = (1 << 31) | (1 << 32)


def mask_glibc_internal(data: bytes) -> bytes:
    """Clear the glibc-internal signals in ``SigIgn:`` lines of /proc/PID/status."""
    def mask(line: bytes) -> bytes:
        if not line.startswith(b"SigIgn:"):
            return line
        return b"SigIgn:\t%016x" % (int(line.split()[1], 16) & ~_GLIBC_INTERNAL)

    return b"\n".join(mask(line) for line in data.split(b"\n"))


def run(
    case: Case, mode: Optional[str], workdir: str, *, merged: bool = False
) -> Dict[str, Any]:
    """Run ``case`` in a fresh interpreter; ``mode=None`` means plain ``os.system``.

    A mode is switched on the way :data:`ACTIVATION` says.  ``merged`` sends
    fd 2 into fd 1 even where the case keeps them apart.
    """
    fd, result_path = tempfile.mkstemp(prefix="diff-", suffix=".json", dir=workdir)
    os.close(fd)
    code = PRELUDE + "\n" + case.code
    if case.read_stdin_after:
        code += "\nnote('stdin_left', _sys.stdin.buffer.read().decode('latin-1'))\n"
    # Reached only when the case's code ran to its end: a case that dies
    # before its calls (a NameError, say) must not pass by comparing two
    # identical failures.
    code += "\n_completed.append(True)\n"
    if mode is None:
        path = "plain"
    else:
        path = MERGED_ACTIVATION if merged else ACTIVATION[mode]
        if path in ("env", "run"):
            activation.require_installed()
    settings = MODES.get(mode or "default", {})
    argv, variables = activation.command(path, settings, code)
    if settings.get("otel"):
        argv[-1] = OTEL_SETUP + argv[-1]
    env = activation.clean_env()
    env.update(variables)
    env.update(DIFF_RESULT=result_path, DIFF_MODE="plain" if mode is None else mode)
    # As a shell would have set it: dash itself resets a PWD that does not
    # name the working directory, so a stale one would keep shell="auto"
    # on the shell path for every command.
    env["PWD"] = workdir
    env.update(case.env)
    proc = subprocess.run(
        argv,
        input=case.stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT if case.merged or merged else subprocess.PIPE,
        env=env,
        cwd=workdir,
        timeout=case.timeout,
        start_new_session=case.new_session,
        check=False,
    )
    with open(result_path) as f:
        text = f.read()
    data: Dict[str, Any] = (
        json.loads(text) if text else {"results": None, "events": None, "notes": None, "completed": None, "spans": None}
    )
    out, err = mask_glibc_internal(proc.stdout), mask_glibc_internal(proc.stderr or b"")
    if case.normalize is not None:
        out, err = case.normalize(out), case.normalize(err)
    if merged and case.merged_normalize is not None:
        out = case.merged_normalize(out)
    data["stdout"] = out
    data["stderr"] = err
    data["exit"] = proc.returncode
    data["path"] = path
    return data


def compare(case: Case, plain: Dict[str, Any], shimmed: Dict[str, Any]) -> List[str]:
    """The differences between two runs, as readable lines (empty when equal)."""
    return [
        f"{key}: plain={_short(plain[key])} shim={_short(shimmed[key])}"
        for key in ("results", "events", "notes", "stdout", "stderr", "exit")
        if plain[key] != shimmed[key]
    ]


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) < 2000 else f"{text[:1000]} ... {text[-1000:]} ({len(text)} chars)"
