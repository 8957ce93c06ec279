"""End to end: a shimmed program exports its calls over OTLP/HTTP, as a fleet would set it up.

A receiver on the loopback address inside the test takes the program's
POSTs to ``/v1/traces`` and ``/v1/metrics`` and decodes them with the
official protobuf classes (``opentelemetry-proto``).  The program itself
knows nothing of OpenTelemetry: it is switched on by ``SHIM_ENABLE=1
SHIM_OTEL=1`` with the standard ``OTEL_*`` variables, by
``opentelemetry-instrument``, or by ``shim run --otel``.
"""

from __future__ import annotations

import http.server
import importlib.util
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest

import activation


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ImportError:
        return False


NEEDED = (
    "opentelemetry.sdk",
    "opentelemetry.exporter.otlp.proto.http",
    "opentelemetry.proto",
    "opentelemetry.distro",
    "opentelemetry.instrumentation",
)
if not all(_importable(name) for name in NEEDED):
    pytest.skip(
        "the OpenTelemetry SDK, OTLP/HTTP exporter, proto classes and distro are not installed "
        "for this Python (they need Python 3.8 or later)",
        allow_module_level=True,
    )

from google.protobuf.json_format import MessageToDict  # noqa: E402
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (  # noqa: E402
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (  # noqa: E402
    ExportTraceServiceRequest,
)

#: A legacy program: two call sites, one of them called twice, and no OpenTelemetry in sight.
APP = textwrap.dedent(
    """\
    import os


    def backup():
        return os.system("tar cf /dev/null --password=hunter2 . 2>/dev/null; exit 3")


    statuses = [os.system("echo hello"), backup(), backup()]
    print(statuses)
    """
)


class Receiver(http.server.ThreadingHTTPServer):
    """An OTLP/HTTP endpoint on 127.0.0.1 that keeps every request body by path."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.bodies: List[Tuple[str, str, bytes]] = []
        self.lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(http.server.BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with self.server.lock:
            self.server.bodies.append((self.path, self.headers.get("Content-Type", ""), body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        """Quiet: the test reads what was received, not a log."""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def otel_env(receiver: Receiver, **extra: str) -> Dict[str, str]:
    """The standard variables of a fleet that sends to a collector over OTLP/HTTP."""
    env = activation.clean_env()
    for name in list(env):
        if name.startswith("OTEL_") or name in ("TRACEPARENT", "TRACESTATE"):
            del env[name]
    env.update(
        OTEL_SERVICE_NAME="legacy-app",
        OTEL_TRACES_EXPORTER="otlp",
        OTEL_METRICS_EXPORTER="otlp",
        OTEL_LOGS_EXPORTER="none",
        OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
    )
    env.update(extra)
    return env


def run_app(argv: List[str], env: Dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    activation.require_installed()
    (tmp_path / "app.py").write_text(APP)
    env["PWD"] = str(tmp_path)
    return subprocess.run(argv, capture_output=True, text=True, env=env, cwd=str(tmp_path), timeout=120, check=False)


def decode(receiver: Receiver) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]], Dict[str, Any]]:
    """The shim's spans and metrics in what was received, and the resource of the spans."""
    spans: List[Dict[str, Any]] = []
    metrics: List[Dict[str, Any]] = []
    resource: Dict[str, Any] = {}
    for path, content_type, body in receiver.bodies:
        assert content_type == "application/x-protobuf"
        if path == "/v1/traces":
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            for resource_spans in request.resource_spans:
                for scope_spans in resource_spans.scope_spans:
                    if scope_spans.scope.name == "shim":
                        resource = _attributes(resource_spans.resource.attributes)
                        spans += [MessageToDict(span) for span in scope_spans.spans]
        elif path == "/v1/metrics":
            request = ExportMetricsServiceRequest()
            request.ParseFromString(body)
            for resource_metrics in request.resource_metrics:
                for scope_metrics in resource_metrics.scope_metrics:
                    if scope_metrics.scope.name == "shim":
                        metrics += [MessageToDict(metric) for metric in scope_metrics.metrics]
    return spans, metrics, resource


def _attributes(items: Any) -> Dict[str, Any]:
    found = {}
    for item in items:
        value = MessageToDict(item.value)
        found[item.key] = next(iter(value.values())) if value else None
    return found


def _span_attributes(span: Dict[str, Any]) -> Dict[str, Any]:
    found = {}
    for item in span.get("attributes", []):
        found[item["key"]] = next(iter(item["value"].values()))
    return found


def check_export(receiver: Receiver, proc: subprocess.CompletedProcess[str]) -> None:
    """What the collector gets from APP: three spans and the two metrics, by call site."""
    assert proc.stdout == "hello\n[0, 768, 768]\n", proc.stderr
    assert proc.stderr == ""
    spans, metrics, resource = decode(receiver)
    assert resource["service.name"] == "legacy-app"
    assert len(spans) == 3, spans
    by_line: Dict[str, List[Dict[str, Any]]] = {}
    for span in spans:
        assert span["name"] == "os.system"
        assert span["kind"] == "SPAN_KIND_CLIENT"
        attributes = _span_attributes(span)
        assert attributes["code.file.path"].endswith("app.py")
        by_line.setdefault(attributes["code.line.number"], []).append(span)
    assert sorted((line, len(found)) for line, found in by_line.items()) == [("5", 2), ("8", 1)]
    backup = _span_attributes(by_line["5"][0])
    assert backup["code.function.name"] == "backup"
    assert backup["process.exit.code"] == "3"  # int64 values are strings in protobuf's JSON form
    assert backup["error.type"] == "nonzero_exit"
    assert "hunter2" not in backup["process.command_line"]
    assert by_line["5"][0]["status"] == {"code": "STATUS_CODE_ERROR", "message": "exit code 3"}
    assert by_line["8"][0]["status"] == {}
    calls = {m["name"]: m for m in metrics}
    points = calls["shim.calls"]["sum"]["dataPoints"]
    counted = sorted(
        (int(p["asInt"]), {a["key"]: next(iter(a["value"].values())) for a in p["attributes"]}["code.line.number"])
        for p in points
    )
    assert counted == [(1, "8"), (2, "5")]
    durations = calls["shim.call.duration"]["histogram"]["dataPoints"]
    assert sum(int(p["count"]) for p in durations) == 3
    assert calls["shim.call.duration"]["unit"] == "s"


def test_fleet_set_up_through_the_environment(receiver: Receiver, tmp_path: Path) -> None:
    """SHIM_ENABLE=1 SHIM_OTEL=1 and the standard OTEL_* variables: the collector gets every call."""
    env = otel_env(receiver, SHIM_ENABLE="1", SHIM_OTEL="1")
    proc = run_app([sys.executable, "app.py"], env, tmp_path)
    check_export(receiver, proc)


def test_opentelemetry_instrument_picks_the_shim_up(receiver: Receiver, tmp_path: Path) -> None:
    """opentelemetry-instrument python app.py: the entry point switches the shim on, no SHIM_* needed."""
    launcher = Path(sys.executable).parent / "opentelemetry-instrument"
    if not launcher.exists():
        pytest.skip(f"no opentelemetry-instrument beside {sys.executable}")
    env = otel_env(receiver)
    # opentelemetry-instrument puts its sitecustomize first on PYTHONPATH.
    proc = run_app([str(launcher), sys.executable, "app.py"], env, tmp_path)
    check_export(receiver, proc)


def test_shim_run_otel(receiver: Receiver, tmp_path: Path) -> None:
    """shim run --otel -- python app.py, for a program whose environment nobody set."""
    env = otel_env(receiver)
    argv = [sys.executable, "-m", "shim", "run", "--otel", "--", sys.executable, "app.py"]
    proc = run_app(argv, env, tmp_path)
    check_export(receiver, proc)


def test_propagated_context_reaches_a_python_command(receiver: Receiver, tmp_path: Path) -> None:
    """With SHIM_OTEL_PROPAGATE=1 a shimmed Python command's own calls join the trace as children."""
    env = otel_env(receiver, SHIM_ENABLE="1", SHIM_OTEL="1", SHIM_OTEL_PROPAGATE="1")
    (tmp_path / "inner.py").write_text(
        textwrap.dedent(
            """\
            import os
            from opentelemetry import context
            from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
            carrier = {"traceparent": os.environ["TRACEPARENT"]}
            token = context.attach(TraceContextTextMapPropagator().extract(carrier))
            os.system("true")
            """
        )
    )
    (tmp_path / "outer.py").write_text("import os, sys\nos.system(sys.executable + ' inner.py')\n")
    (tmp_path / "app.py").write_text("")
    env["PWD"] = str(tmp_path)
    activation.require_installed()
    proc = subprocess.run([sys.executable, "outer.py"], capture_output=True, text=True, env=env,
                          cwd=str(tmp_path), timeout=120, check=False)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    spans, _, _ = decode(receiver)
    assert len(spans) == 2
    outer = next(s for s in spans if _span_attributes(s)["code.file.path"].endswith("outer.py"))
    inner = next(s for s in spans if _span_attributes(s)["code.file.path"].endswith("inner.py"))
    assert inner["traceId"] == outer["traceId"]
    assert inner["parentSpanId"] == outer["spanId"]
