"""Per-call cost of SHIM_OTEL against the shim's default mode, measured side by side in one run.

The floor is the shim's default mode (``shim.install()``): telemetry is side
work, so its budget is a ratio to that (1.05x).  OpenTelemetry's SDK is set
up as a production program has it: a ``TracerProvider`` with a
``BatchSpanProcessor`` (its exporter discards the batches: the network is
not the shim's cost) and a ``MeterProvider`` with a periodic reader.

Blocks of calls alternate between the two settings in ABBA order, so both
see the same machine load.  A block with telemetry ends when the shim's
telemetry thread has handed every call of the block to the SDK: the work
it does beside the calls is counted, none of it spills into the next
block.  Each figure is the median of the per-block means.  The CPU time
per call (this process's threads and the commands, from ``getrusage``) is
printed beside: it does not depend on the machine's load, where the wall
time does (on a busy machine the telemetry thread cannot run beside the
call, on the other core, while the command runs).

    python benchmarks/bench_otel.py [--rounds 15] [--calls 100]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

try:
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import (
        MetricExporter,
        MetricExportResult,
        PeriodicExportingMetricReader,
    )
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
except ImportError:
    sys.exit("bench_otel: needs opentelemetry-sdk (pip install opentelemetry-sdk)")

import shim
from bench_calls import stdout_to_devnull
from shim._runtime import telemetry

BUDGET = 1.05
COMMANDS = ("/bin/true", "echo hello")


class Discard(SpanExporter):
    def export(self, spans: Sequence[object]) -> SpanExportResult:  # type: ignore[override]
        return SpanExportResult.SUCCESS


class DiscardMetrics(MetricExporter):
    def export(self, metrics_data: object, timeout_millis: float = 10_000, **kwargs: object) -> MetricExportResult:  # type: ignore[override]
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: object) -> None:
        pass


def set_up_sdk() -> None:
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Discard()))
    trace.set_tracer_provider(provider)
    reader = PeriodicExportingMetricReader(DiscardMetrics(), export_interval_millis=5_000)
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))


def cpu_seconds() -> float:
    """CPU time of this process (every thread) and of its waited-for children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def block(options: Dict[str, object], command: str, calls: int) -> Tuple[float, float]:
    """Wall and CPU seconds per call of ``calls`` calls, telemetry's hand-over included."""
    shim.install(**options)  # type: ignore[arg-type]
    system = os.system
    clock = time.perf_counter
    cpu = cpu_seconds()
    start = clock()
    for _ in range(calls):
        system(command)
    if options.get("otel"):
        telemetry.flush(60)
    return (clock() - start) / calls, (cpu_seconds() - cpu) / calls


def compare(
    floor: Dict[str, object], other: Dict[str, object], command: str, rounds: int, calls: int
) -> Tuple[float, float, float, float]:
    """Median wall and CPU times per call of ``floor`` and ``other``, blocks in ABBA order."""
    first: List[Tuple[float, float]] = []
    second: List[Tuple[float, float]] = []
    for _ in range(rounds):
        first.append(block(floor, command, calls))
        second.append(block(other, command, calls))
        second.append(block(other, command, calls))
        first.append(block(floor, command, calls))
    return (
        statistics.median(w for w, _ in first),
        statistics.median(w for w, _ in second),
        statistics.median(c for _, c in first),
        statistics.median(c for _, c in second),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=100)
    args = parser.parse_args()
    set_up_sdk()
    print(
        f"Python {sys.version.split()[0]}, {args.rounds} rounds x 4 blocks x {args.calls} calls, "
        "median of block means per call"
    )
    print(
        f"{'scenario':<30} {'default us':>10} {'otel us':>8} {'ratio':>6} {'budget':>13}"
        f" {'cpu us default':>14} {'otel':>5}"
    )
    scenarios: List[Tuple[str, str, Dict[str, object], float]] = [
        (f"otel, {command}", command, {"otel": True}, BUDGET) for command in COMMANDS
    ]
    # Not budgeted: propagation is opt-in and starts the span before the command.
    scenarios.append(("otel + propagate, /bin/true", "/bin/true", {"otel": True, "otel_propagate": True}, 0.0))
    over = 0
    try:
        with stdout_to_devnull():
            for options in ({}, {"otel": True}):  # the first calls pay for the imports
                block(options, "/bin/true", 5)
            rows = [
                (name, *compare({}, options, command, args.rounds, args.calls), budget)
                for name, command, options, budget in scenarios
            ]
    finally:
        shim.uninstall()
    for name, floor, timed, floor_cpu, timed_cpu, budget in rows:
        ratio = timed / floor
        if budget:
            verdict = "ok" if ratio <= budget else "OVER"
            over += verdict == "OVER"
            limit = f"{budget:5.2f}x {verdict:<4}"
        else:
            limit = "(no budget)"
        print(
            f"{name:<30} {floor * 1e6:10.0f} {timed * 1e6:8.0f} {ratio:6.3f} {limit:>13}"
            f" {floor_cpu * 1e6:14.0f} {timed_cpu * 1e6:5.0f}"
        )
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
