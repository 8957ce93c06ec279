"""OpenTelemetry (SHIM_OTEL): spans and metrics through the real SDK, with its in-memory exporters.

Each scenario runs in a fresh interpreter: OpenTelemetry's providers can be
set once per process, and the shim's telemetry thread must not outlive a
test in the pytest worker.  The child sets up the SDK as a program would
(``TracerProvider`` with a span processor, ``MeterProvider`` with a reader),
switches the shim on, makes its calls, and writes what was exported as JSON.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING, Any, Dict, List, Tuple

import pytest
import shim
from shim._common import platform, settings

import activation
from conftest import child_env

if TYPE_CHECKING:
    from pathlib import Path

def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ImportError:  # the parent package is missing
        return False


HAVE_SDK = _importable("opentelemetry.sdk")
needs_sdk = pytest.mark.skipif(
    not HAVE_SDK,
    reason="the OpenTelemetry SDK is not installed for this Python (it needs Python 3.8 or later)",
)

#: The start of every child: the SDK as a program sets it up, and report(),
#: which waits for the shim's telemetry thread and writes what was exported.
SDK = textwrap.dedent(
    """
    import json as _json, os, posix, sys
    from opentelemetry import trace, metrics
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    exported = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exported))
    trace.set_tracer_provider(provider)
    reader = InMemoryMetricReader()
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    tracer = trace.get_tracer("test")

    def _span(s):
        parent = s.parent
        return {
            "name": s.name, "kind": s.kind.name, "status": s.status.status_code.name,
            "description": s.status.description,
            "trace_id": format(s.context.trace_id, "032x"), "span_id": format(s.context.span_id, "016x"),
            "parent": format(parent.span_id, "016x") if parent is not None else None,
            "start": s.start_time, "end": s.end_time,
            "attributes": {k: list(v) if isinstance(v, tuple) else v for k, v in s.attributes.items()},
        }

    def _metrics():
        found = {}
        data = reader.get_metrics_data()
        for rm in (data.resource_metrics if data else ()):
            for sm in rm.scope_metrics:
                if sm.scope.name != "shim":
                    continue
                for m in sm.metrics:
                    found[m.name] = {"unit": m.unit, "points": [
                        {"attributes": dict(p.attributes), "value": getattr(p, "value", None),
                         "count": getattr(p, "count", None), "sum": getattr(p, "sum", None),
                         "bounds": list(getattr(p, "explicit_bounds", None) or [])}
                        for p in m.data.data_points]}
        return found

    def report(**extra):
        from shim._runtime import telemetry
        flushed = telemetry.flush(10)
        spans = [_span(s) for s in exported.get_finished_spans()]
        with open(os.environ["OTEL_TEST_OUT"], "w") as f:
            _json.dump(dict(extra, flushed=flushed, spans=spans, metrics=_metrics()), f)
    """
)


def run_child(
    code: str, tmp_path: Path, *, sdk: bool = True, **env: str
) -> Tuple[Dict[str, Any], subprocess.CompletedProcess[str]]:
    """Run ``code`` (after the SDK set-up) in a fresh interpreter; return its report and the process."""
    out = tmp_path / "report.json"
    program = (SDK if sdk else "import json as _json, os, posix, sys\n") + textwrap.dedent(code)
    proc = subprocess.run(
        [sys.executable, "-c", program],
        capture_output=True,
        text=True,
        # PWD as a shell would set it, so that shell="auto" can skip /bin/sh.
        env=child_env(OTEL_TEST_OUT=str(out), PWD=str(tmp_path), **env),
        cwd=str(tmp_path),
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out.read_text()) if out.exists() else {}
    return report, proc


def shim_spans(report: Dict[str, Any]) -> List[Dict[str, Any]]:
    return [s for s in report["spans"] if s["name"] == "os.system"]


def warnings_in(stderr: str) -> List[str]:
    return [line for line in stderr.splitlines() if "ShimWarning" in line]


# --- settings ---------------------------------------------------------------------------------


def test_settings_read_from_the_environment() -> None:
    """SHIM_OTEL and SHIM_OTEL_PROPAGATE take the usual yes/no spellings."""
    assert settings.from_env({"SHIM_OTEL": "1", "SHIM_OTEL_PROPAGATE": " Off "}) == {
        "otel": True,
        "otel_propagate": False,
    }
    assert settings.from_env({"SHIM_OTEL": "yes"}) == {"otel": True}
    assert settings.from_env({"SHIM_OTEL": ""}) == {}
    assert settings.Settings().otel is False
    assert settings.Settings().otel_propagate is False


@pytest.mark.parametrize("variable", ["SHIM_OTEL", "SHIM_OTEL_PROPAGATE"])
def test_bad_variable_names_itself_and_the_accepted_values(variable: str) -> None:
    """A bad value is a ConfigError that names the variable and what it accepts."""
    with pytest.raises(shim.ConfigError) as info:
        settings.from_env({variable: "maybe"})
    assert variable in str(info.value) and "1|true|yes|on|0|false|no|off" in str(info.value)


@pytest.mark.parametrize("option", ["otel", "otel_propagate"])
def test_bad_keyword_raises_config_error(option: str) -> None:
    """install(otel=...) takes a bool (or a yes/no string); anything else raises before installing."""
    with pytest.raises(shim.ConfigError) as info:
        shim.install(**{option: "sometimes"})
    assert option in str(info.value)
    assert not shim.is_installed()


def test_shim_run_sets_the_variables() -> None:
    """`shim run --otel --otel-propagate` passes SHIM_OTEL=1 and SHIM_OTEL_PROPAGATE=1 to the program."""
    code = "import os; print(os.environ.get('SHIM_OTEL'), os.environ.get('SHIM_OTEL_PROPAGATE'))"
    argv = [sys.executable, "-m", "shim", "run", "--otel", "--otel-propagate", "--", sys.executable, "-c", code]
    proc = subprocess.run(argv, capture_output=True, text=True, env=child_env(), check=False)
    assert proc.stdout.split() == ["1", "1"], proc.stderr
    argv = [sys.executable, "-m", "shim", "run", "--", sys.executable, "-c", code]
    proc = subprocess.run(argv, capture_output=True, text=True, env=child_env(), check=False)
    assert proc.stdout.split() == ["None", "None"], proc.stderr


# --- nothing imported before the first call ------------------------------------------------------


PROBE = textwrap.dedent(
    """
    import atexit, os, sys
    def otel_modules():
        return sorted(m for m in sys.modules if m.split(".")[0] == "opentelemetry")
    print(otel_modules(), "wrapt" in sys.modules, flush=True)
    atexit.register(lambda: print(otel_modules(), flush=True))
    """
)


def test_start_up_imports_nothing_of_opentelemetry() -> None:
    """SHIM_ENABLE=1 SHIM_OTEL=1: start-up imports nothing of OpenTelemetry, nor does a process without calls."""
    activation.require_installed()
    env = activation.clean_env()
    env.update(SHIM_ENABLE="1", SHIM_OTEL="1")
    proc = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, check=False)
    assert proc.stdout.splitlines() == ["[] False", "[]"], proc.stderr
    assert proc.stderr == ""


@needs_sdk
def test_the_first_call_imports_the_api() -> None:
    """The first call is what imports the API (so the test above proves something)."""
    activation.require_installed()
    env = activation.clean_env()
    env.update(SHIM_ENABLE="1", SHIM_OTEL="1")
    code = PROBE + "\nfrom opentelemetry import trace\nos.system('true')\n"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False)
    first, last = proc.stdout.splitlines()
    assert first == "[] False"
    assert "'opentelemetry.metrics'" in last


def test_without_the_api_one_warning_and_the_calls_run(tmp_path: Path) -> None:
    """No OpenTelemetry API: one warning naming the extra to install; every call returns its status."""
    code = """
        sys.modules["opentelemetry"] = None  # as if it were not installed
        import shim
        shim.install(otel=True)
        statuses = [os.system("exit 3"), os.system("true"), os.system("kill -TERM $$")]
        print(statuses)
    """
    _, proc = run_child(code, tmp_path, sdk=False)
    assert proc.stdout.split("\n")[0] == "[768, 0, 15]"
    found = warnings_in(proc.stderr)
    assert len(found) == 1, proc.stderr
    assert "os-system-shim[otel]" in found[0]


@needs_sdk
def test_nothing_set_up_gives_one_warning(tmp_path: Path) -> None:
    """The API but no provider and no OTEL_*_EXPORTER: one warning, the calls run, no thread is started."""
    code = """
        import shim, threading
        shim.install(otel=True)
        print([os.system("exit 3"), os.system("true")], threading.active_count())
    """
    _, proc = run_child(code, tmp_path, sdk=False)
    assert proc.stdout.split() == ["[768,", "0]", "1"]
    found = warnings_in(proc.stderr)
    assert len(found) == 1 and "not set up" in found[0], proc.stderr


# --- the span -----------------------------------------------------------------------------------


CALLS = """
    import shim
    audit = os.path.abspath("audit.jsonl")
    shim.install(otel=True, capture="tee", shell="auto", audit=audit, redact=["hunter2"])
    statuses = {}
    with tracer.start_as_current_span("job") as job:
        statuses["exit"] = os.system("echo out; echo err >&2; exit 3")
        statuses["direct"] = os.system("/bin/true")
        statuses["signal"] = os.system("ulimit -c 0; kill -SEGV $$")
        statuses["missing"] = os.system("no_such_command_xyz --flag")
        statuses["secret"] = os.system("echo --password=hunter2 > /dev/null")
    statuses["root"] = os.system("true")
    job_context = job.get_span_context()
    report(statuses=statuses, job=format(job_context.span_id, "016x"),
           trace=format(job_context.trace_id, "032x"), pid=os.getpid(),
           audit=[_json.loads(line) for line in open(audit)])
"""


@pytest.fixture(scope="module")
def calls(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Any]:
    """One child that makes the calls the span tests look at."""
    if not HAVE_SDK:
        pytest.skip("the OpenTelemetry SDK is not installed for this Python")
    tmp_path = tmp_path_factory.mktemp("otel-calls")
    report, proc = run_child(CALLS, tmp_path)
    report["stderr"] = proc.stderr
    spans = shim_spans(report)
    assert len(spans) == 6, report["spans"]
    by_command = {s["attributes"]["process.command_line"]: s for s in spans}
    names = ("exit", "direct", "signal", "missing", "secret", "root")
    report["by_name"] = {
        name: by_command[record["command"]] for name, record in zip(names, report["audit"])
    }
    return report


@needs_sdk
def test_calls_return_what_plain_os_system_returns(calls: Dict[str, Any]) -> None:
    """With telemetry on, every call still returns its own status, and nothing is warned."""
    assert calls["statuses"] == {"exit": 768, "direct": 0, "signal": 11, "missing": 32512, "secret": 0, "root": 0}
    assert warnings_in(calls["stderr"]) == []
    assert calls["flushed"] is True


@needs_sdk
def test_span_is_a_client_child_of_the_callers_span(calls: Dict[str, Any]) -> None:
    """Each span is named os.system, of kind CLIENT, and a child of the span current at the call."""
    spans = calls["by_name"]
    for name in ("exit", "direct", "signal", "missing", "secret"):
        span = spans[name]
        assert (span["name"], span["kind"]) == ("os.system", "CLIENT")
        assert span["parent"] == calls["job"]
        assert span["trace_id"] == calls["trace"]
    assert spans["root"]["parent"] is None
    assert spans["root"]["trace_id"] != calls["trace"]


@needs_sdk
def test_span_timing_is_the_commands(calls: Dict[str, Any]) -> None:
    """The span starts when the audit record says the call started and lasts as long."""
    for record in calls["audit"]:
        span = next(s for s in calls["by_name"].values() if s["attributes"]["process.command_line"] == record["command"])
        started = dt.datetime.fromisoformat(record["ts"])
        start_ns = int(started.timestamp()) * 10**9 + started.microsecond * 1000
        assert abs(span["start"] - start_ns) < 2000
        assert abs((span["end"] - span["start"]) / 1e6 - record["duration_ms"]) < 0.01


@needs_sdk
def test_attributes_of_a_failing_shell_command(calls: Dict[str, Any]) -> None:
    """Semantic-convention attributes for the process and the call site, shim.* for the rest."""
    span = calls["by_name"]["exit"]
    attributes = dict(span["attributes"])  # the fixture's is shared with other tests
    assert attributes.pop("process.pid") > 0
    assert attributes.pop("process.working_directory")
    assert attributes.pop("code.line.number") > 0
    assert attributes.pop("code.file.path") == "<string>"
    assert attributes == {
        "process.command_line": "echo out; echo err >&2; exit 3",
        "process.executable.path": "/bin/sh",
        "process.executable.name": "sh",
        "process.exit.code": 3,
        "code.function.name": "<module>",
        "error.type": "nonzero_exit",
        "shim.outcome": "nonzero_exit",
        "shim.status": 768,
        "shim.shell": True,
        "shim.shell_reason": "list (;, &&, ||)",
        "shim.mode": "auto",
        "shim.capture": "tee",
        "shim.function": "os.system",
        "shim.stdout_bytes": 4,
        "shim.stderr_bytes": 4,
    }
    assert (span["status"], span["description"]) == ("ERROR", "exit code 3")


@needs_sdk
def test_attributes_of_a_program_run_without_the_shell(calls: Dict[str, Any]) -> None:
    """Run without /bin/sh: the program is the executable, its argv the command's arguments; no error."""
    span = calls["by_name"]["direct"]
    attributes = span["attributes"]
    assert attributes["process.executable.path"] == "/bin/true"
    assert attributes["process.executable.name"] == "true"
    assert attributes["process.command_args"] == ["/bin/true"]
    assert attributes["process.exit.code"] == 0
    assert attributes["shim.shell"] is False and "shim.shell_reason" not in attributes
    assert "error.type" not in attributes
    assert span["status"] == "UNSET"


@needs_sdk
def test_attributes_of_a_signal_and_a_missing_command(calls: Dict[str, Any]) -> None:
    """A signal has no exit code: error.type is its name; a missing command is not_found."""
    signal_span = calls["by_name"]["signal"]
    attributes = signal_span["attributes"]
    assert "process.exit.code" not in attributes
    assert (attributes["error.type"], attributes["shim.signal"], attributes["shim.core_dumped"]) == ("SIGSEGV", 11, False)
    assert (signal_span["status"], signal_span["description"]) == ("ERROR", "killed by SIGSEGV")
    missing = calls["by_name"]["missing"]
    assert missing["attributes"]["process.exit.code"] == 127
    assert missing["attributes"]["error.type"] == "not_found"
    assert (missing["status"], missing["description"]) == ("ERROR", "command not found (exit code 127)")


@needs_sdk
def test_command_line_is_masked_exactly_as_in_the_audit_trail(calls: Dict[str, Any]) -> None:
    """The command line, argv, directory and site hold the audit record's masked text, never the secret."""
    for record in calls["audit"]:
        span = next(s for s in calls["by_name"].values() if s["attributes"]["process.command_line"] == record["command"])
        attributes = span["attributes"]
        assert attributes.get("process.command_args") == record["argv"]
        assert attributes["process.working_directory"] == record["cwd"]
        assert attributes["code.file.path"] == record["site"]["file"]
        assert attributes["shim.status"] == record["status"]
    text = json.dumps(calls["spans"]) + json.dumps(calls["metrics"])
    assert "hunter2" not in text
    assert "***" in calls["by_name"]["secret"]["attributes"]["process.command_line"]


QUOTED_SECRETS = """
    import shim
    audit = os.path.abspath("audit.jsonl")
    for shell in ("always", "auto"):
        shim.install(otel=True, shell=shell, audit=audit, redact=["hunter2"])
        os.system("/bin/true --pass''word s3cr3t-a")
        os.system("/bin/true 'DB_PASSWORD'=s3cr3t-b")
        os.system("/bin/true hun'ter2'")
        shim.uninstall()
    report(audit=[_json.loads(line) for line in open(audit)])
"""


@needs_sdk
def test_a_secret_the_argv_reveals_is_masked_in_the_span_too(tmp_path: Path) -> None:
    """A secret written with quotes is found in the words the shell makes: masked in the span as in the record."""
    report, proc = run_child(QUOTED_SECRETS, tmp_path)
    assert proc.returncode == 0, proc.stderr
    spans = shim_spans(report)
    assert len(spans) == len(report["audit"]) == 6
    assert sorted(s["attributes"]["process.command_line"] for s in spans) == sorted(
        r["command"] for r in report["audit"]
    )
    text = json.dumps(report["spans"])
    for secret in ("s3cr3t-a", "s3cr3t-b", "hunter2", "ter2"):
        assert secret not in text
        assert secret not in json.dumps(report["audit"])


# --- the metrics ----------------------------------------------------------------------------------


@needs_sdk
def test_metrics_count_and_time_calls_by_site_outcome_and_shell(calls: Dict[str, Any]) -> None:
    """shim.calls and shim.call.duration: one point per site, outcome and shell; never the command."""
    counter = calls["metrics"]["shim.calls"]
    histogram = calls["metrics"]["shim.call.duration"]
    assert (counter["unit"], histogram["unit"]) == ("{call}", "s")
    assert sum(p["value"] for p in counter["points"]) == 6
    assert sum(p["count"] for p in histogram["points"]) == 6
    assert histogram["points"][0]["bounds"][:3] == [0.001, 0.0025, 0.005]
    outcomes = sorted((p["attributes"]["shim.outcome"], p["attributes"].get("error.type"), p["attributes"]["shim.shell"]) for p in counter["points"])
    assert outcomes == [
        ("nonzero_exit", "nonzero_exit", True),
        ("not_found", "not_found", True),
        ("signal", "SIGSEGV", True),
        ("success", None, False),  # /bin/true, run without the shell
        ("success", None, True),
        ("success", None, True),
    ]
    allowed = {"code.file.path", "code.line.number", "code.function.name", "shim.outcome", "shim.shell", "error.type"}
    for point in counter["points"] + histogram["points"]:
        assert set(point["attributes"]) <= allowed
    commands = [r["command"] for r in calls["audit"]]
    values = [v for p in counter["points"] for v in p["attributes"].values() if isinstance(v, str)]
    assert not any(command in value for command in commands for value in values)


# --- never break the call -------------------------------------------------------------------------


@needs_sdk
def test_a_span_processor_that_raises_gives_one_warning(tmp_path: Path) -> None:
    """A processor that raises: one warning, every call returns its status, the metrics are recorded."""
    code = """
        class Broken(SimpleSpanProcessor):
            def on_end(self, span):
                raise RuntimeError("processor broke")
        provider.add_span_processor(Broken(exported))
        import shim
        shim.install(otel=True)
        statuses = [os.system("exit 3"), os.system("true"), os.system("exit 1")]
        report(statuses=statuses)
    """
    report, proc = run_child(code, tmp_path)
    assert report["statuses"] == [768, 0, 256]
    found = warnings_in(proc.stderr)
    assert len(found) == 1 and "processor broke" in found[0], proc.stderr
    assert sum(p["value"] for p in report["metrics"]["shim.calls"]["points"]) == 3


@needs_sdk
def test_an_exporter_that_blocks_never_delays_a_call(tmp_path: Path) -> None:
    """A synchronous exporter that never returns: calls return at once, one warning, the program exits."""
    code = """
        import threading, time
        from opentelemetry.sdk.trace.export import SpanExporter
        from shim._runtime import telemetry
        telemetry.STALL_SECONDS = 0.3
        class Stuck(SpanExporter):
            def export(self, spans):
                threading.Event().wait()
        provider.add_span_processor(SimpleSpanProcessor(Stuck()))
        import shim
        shim.install(otel=True)
        took, statuses = [], []
        for command in ("exit 3", "true", "exit 5"):
            start = time.monotonic()
            statuses.append(os.system(command))
            took.append(time.monotonic() - start)
            time.sleep(0.4)
        print(statuses, max(took) < 0.3, flush=True)
    """
    _, proc = run_child(code, tmp_path)
    assert proc.stdout.split("\n")[0] == "[768, 0, 1280] True"
    found = warnings_in(proc.stderr)
    assert len(found) == 1 and "blocks" in found[0], proc.stderr


@needs_sdk
def test_calls_made_by_an_exporter_are_not_traced(tmp_path: Path) -> None:
    """An exporter that itself calls os.system: its calls run, and make no spans of their own."""
    code = """
        from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
        class Shelling(SpanExporter):
            def export(self, spans):
                os.system("true")
                return SpanExportResult.SUCCESS
        provider.add_span_processor(SimpleSpanProcessor(Shelling()))
        import shim
        shim.install(otel=True)
        report(statuses=[os.system("exit 2"), os.system("true")])
    """
    report, proc = run_child(code, tmp_path)
    assert report["statuses"] == [512, 0]
    assert len(shim_spans(report)) == 2
    assert warnings_in(proc.stderr) == []


@needs_sdk
def test_a_forked_child_records_its_own_calls(tmp_path: Path) -> None:
    """After fork the child gets a telemetry thread of its own; the parent's queue stays the parent's."""
    code = """
        import shim
        shim.install(otel=True)
        os.system("true")
        pid = os.fork()
        if pid == 0:
            from shim._runtime import telemetry
            status = os.system("exit 4")
            os._exit(10 if status == 1024 and telemetry.flush(10) else 1)
        _, child = os.waitpid(pid, 0)
        report(child=child, status=os.system("exit 2"))
    """
    report, _ = run_child(code, tmp_path)
    assert report["child"] == 10 << 8
    assert report["status"] == 512
    assert len(shim_spans(report)) == 2


# --- propagation ----------------------------------------------------------------------------------


PROPAGATION = """
    import shim
    os.putenv("T_PUTENV_ONLY", "1")  # in the C environment, not in os.environ
    os.environ["TRACESTATE"] = "stale=1"
    shell = os.environ.pop("T_SHELL")
    shim.install(otel=True, otel_propagate=os.environ.pop("T_PROPAGATE") == "1", shell=shell)

    def listing(call):
        out = os.open("env.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        saved = os.dup(1)
        os.dup2(out, 1)
        os.close(out)
        try:
            status = call("env")
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        return status, open("env.txt", "rb").read().decode()

    with tracer.start_as_current_span("job") as job:
        status, shimmed = listing(os.system)
    lines = shimmed.splitlines()
    parent = [line for line in lines if line.startswith("TRACEPARENT=")]
    if parent:
        os.environ["TRACEPARENT"] = parent[0].partition("=")[2]
    os.environ.pop("TRACESTATE")
    _, plain = listing(posix.system)
    report(status=status, shimmed=shimmed, plain=plain, trace=format(job.get_span_context().trace_id, "032x"))
"""


@needs_sdk
@pytest.mark.parametrize("shell", ["always", "auto"])
def test_propagation_adds_exactly_the_trace_context(tmp_path: Path, shell: str) -> None:
    """SHIM_OTEL_PROPAGATE=1: the command gets the C environment plus TRACEPARENT, the os.system span's.

    The listing is byte for byte what plain os.system gives with that one
    variable set (in dash's order, also when the program runs without the
    shell), and a TRACESTATE the program had is replaced by the span's (none).
    """
    report, _ = run_child(PROPAGATION, tmp_path, T_SHELL=shell, T_PROPAGATE="1")
    assert report["status"] == 0
    assert report["shimmed"] == report["plain"]
    assert "T_PUTENV_ONLY=1" in report["shimmed"].splitlines()
    assert "TRACESTATE=" not in report["shimmed"]
    (span,) = shim_spans(report)
    # Handing the trace context on is reproduced without the shell where it is dash.
    dash = platform.shell().kind == "dash"
    assert span["attributes"]["shim.shell"] is (shell == "always" or not dash)
    (line,) = [x for x in report["shimmed"].splitlines() if x.startswith("TRACEPARENT=")]
    # Version 00, the trace, the os.system span as the parent, sampled (the
    # SDK may add W3C's "random trace id" flag, 0x02).
    version, trace_id, parent_id, flags = line.partition("=")[2].split("-")
    assert (version, trace_id, parent_id) == ("00", report["trace"], span["span_id"])
    assert int(flags, 16) & 1


@needs_sdk
def test_without_propagation_the_environment_is_untouched(tmp_path: Path) -> None:
    """Propagation is off by default: the command's environment is exactly plain os.system's."""
    report, _ = run_child(PROPAGATION, tmp_path, T_SHELL="always", T_PROPAGATE="0")
    assert "TRACEPARENT" not in report["shimmed"]
    assert "TRACESTATE=stale=1" in report["shimmed"].splitlines()
    assert len(shim_spans(report)) == 1


@needs_sdk
def test_propagation_is_opt_in_at_start_up(tmp_path: Path) -> None:
    """SHIM_ENABLE=1 SHIM_OTEL=1 alone leaves TRACEPARENT out; SHIM_OTEL_PROPAGATE=1 adds it."""
    activation.require_installed()
    code = """
        with tracer.start_as_current_span("job"):
            os.system("echo ${TRACEPARENT:-none} > tp.txt")
        report(traceparent=open("tp.txt").read().strip())
    """
    report, _ = run_child(code, tmp_path, SHIM_ENABLE="1", SHIM_OTEL="1")
    assert report["traceparent"] == "none"
    report, _ = run_child(code, tmp_path, SHIM_ENABLE="1", SHIM_OTEL="1", SHIM_OTEL_PROPAGATE="1")
    (span,) = shim_spans(report)
    assert report["traceparent"].split("-")[2] == span["span_id"]


def test_instrumentor_entry_point_is_registered() -> None:
    """The package's metadata names shim.otel:ShimInstrumentor in the opentelemetry_instrumentor group."""
    from importlib.metadata import entry_points

    every = entry_points()
    group = "opentelemetry_instrumentor"
    entries = every.select(group=group) if hasattr(every, "select") else every.get(group, ())
    found = {e.name: e.value for e in entries}
    assert found.get("shim") == "shim.otel:ShimInstrumentor"


@needs_sdk
def test_instrumentor_switches_telemetry_on_and_back(tmp_path: Path) -> None:
    """instrument() installs with otel=True; uninstrument() puts back the shim as it was."""
    if not _importable("opentelemetry.instrumentation"):
        pytest.skip("opentelemetry-instrumentation is not installed")
    code = """
        import shim
        from shim._runtime import lifecycle
        from shim.otel import ShimInstrumentor
        shim.install(capture="tee")
        ShimInstrumentor().instrument()
        during = lifecycle.settings()
        os.system("true")
        ShimInstrumentor().uninstrument()
        after = lifecycle.settings()
        report(during=[during.otel, during.capture], after=[after.otel, after.capture])
    """
    report, _ = run_child(code, tmp_path)
    # install() with otel=True alone reads the other settings from SHIM_* (unset here).
    assert report["during"] == [True, "off"]
    assert report["after"] == [False, "off"]
    assert len(shim_spans(report)) == 1


@needs_sdk
def test_no_configurator_for_the_exporter_variables_gives_one_warning(tmp_path: Path) -> None:
    """OTEL_TRACES_EXPORTER set but no configurator to read it: one warning, the calls run."""
    code = """
        import shim
        shim.install(otel=True)
        print([os.system("exit 3"), os.system("true")])
    """
    _, proc = run_child(code, tmp_path, sdk=False, OTEL_TRACES_EXPORTER="console",
                        OTEL_PYTHON_CONFIGURATOR="no_such_configurator")
    assert proc.stdout.split() == ["[768,", "0]"]
    found = warnings_in(proc.stderr)
    assert len(found) == 1 and "no OpenTelemetry configurator" in found[0], proc.stderr


@needs_sdk
def test_first_calls_from_many_threads_at_once(tmp_path: Path) -> None:
    """Eight threads whose first calls race: eight spans, the instruments made once (the SDK says nothing)."""
    code = """
        import threading
        import shim
        shim.install(otel=True)
        barrier = threading.Barrier(8)
        statuses = []
        def work(i):
            barrier.wait()
            statuses.append(os.system("exit %d" % i))
        threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        report(statuses=sorted(statuses))
    """
    report, proc = run_child(code, tmp_path)
    assert report["statuses"] == [i << 8 for i in range(8)]
    assert len(shim_spans(report)) == 8
    assert proc.stderr == ""
