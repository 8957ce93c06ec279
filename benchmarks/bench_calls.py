"""Per-call cost of the shim against plain os.system, measured side by side in one run.

Each scenario alternates rounds of plain ``os.system`` and rounds of the
shimmed call (installed and uninstalled between rounds), so both see the
same machine load; the figure is the median per-call time of the rounds and
the ratio shim / plain.  fd 1 is sent to /dev/null while measuring so that
commands with output need no shell redirection.

    python benchmarks/bench_calls.py [--rounds 15] [--calls 100]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import posix
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import shim

SCENARIOS: List[Tuple[str, str, Dict[str, object], float]] = [
    # name, command, install options, budget (ratio to plain)
    ("default, /bin/true", "/bin/true", {}, 1.05),
    ("tee, small output", "echo hello", {"capture": "tee"}, 1.15),
    ("audit on, /bin/true", "/bin/true", {"audit": "AUDIT"}, 1.15),
    ("auto, /bin/true", "/bin/true", {"shell": "auto"}, 0.65),
    ("auto, date -u +%s", "date -u +%s", {"shell": "auto"}, 0.65),
]


@contextlib.contextmanager
def stdout_to_devnull() -> Iterator[None]:
    sys.stdout.flush()
    saved = os.dup(1)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.close(null)
    try:
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def per_call(call: Callable[[str], int], command: str, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        call(command)
    return (time.perf_counter() - start) / calls


def measure(command: str, options: Dict[str, object], rounds: int, calls: int) -> Tuple[float, float]:
    plain: List[float] = []
    shimmed: List[float] = []
    with stdout_to_devnull():
        for _ in range(rounds):
            plain.append(per_call(posix.system, command, calls))
            shim.install(**options)  # type: ignore[arg-type]
            try:
                shimmed.append(per_call(os.system, command, calls))
            finally:
                shim.uninstall()
    return statistics.median(plain), statistics.median(shimmed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=100)
    args = parser.parse_args()
    print(f"Python {sys.version.split()[0]}, {args.rounds} rounds x {args.calls} calls, median per call")
    print(f"{'scenario':<24} {'plain us':>9} {'shim us':>9} {'ratio':>6} {'budget':>7}")
    over = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, command, options, budget in SCENARIOS:
            opts = {k: (os.path.join(tmp, "audit.jsonl") if v == "AUDIT" else v) for k, v in options.items()}
            plain, shimmed = measure(command, opts, args.rounds, args.calls)
            ratio = shimmed / plain
            verdict = "ok" if ratio <= budget else "OVER"
            over += verdict == "OVER"
            print(f"{name:<24} {plain * 1e6:9.0f} {shimmed * 1e6:9.0f} {ratio:6.2f} {budget:6.2f}x {verdict}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
