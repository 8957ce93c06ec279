"""Per-call cost of the shim against plain os.system, measured side by side in one run.

For each scenario the shim is installed with its options, and calls of
plain ``os.system`` (the C function, ``posix.system``, which the patch does
not touch) and of the shimmed ``os.system`` alternate one by one, in ABBA
order, so both see the same machine load at the same moments.  Each figure is the median
of the per-round means; the ratio is shim / plain.  fd 1 is sent to
/dev/null while measuring so that commands with output need no shell
redirection.

    python benchmarks/bench_calls.py [--rounds 15] [--calls 100]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import posix
import statistics
import subprocess
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


def alternate(
    other: Callable[[str], int],
    command: str,
    rounds: int,
    calls: int,
    base: Callable[[str], int] = posix.system,
) -> Tuple[float, float]:
    """Median per-call times of ``base`` (plain os.system) and ``other``, called in ABBA order."""
    plain: List[float] = []
    timed: List[float] = []
    clock = time.perf_counter
    pairs = max(calls // 2, 1)
    for _ in range(rounds):
        plain_total = other_total = 0.0
        for _ in range(pairs):
            # Each side goes first half of the time: a call right after
            # another one is measurably slower.
            start = clock()
            base(command)
            middle = clock()
            other(command)
            end = clock()
            other(command)
            middle2 = clock()
            base(command)
            end2 = clock()
            plain_total += (middle - start) + (end2 - middle2)
            other_total += (end - middle) + (middle2 - end)
        plain.append(plain_total / (2 * pairs))
        timed.append(other_total / (2 * pairs))
    return statistics.median(plain), statistics.median(timed)


def measure(command: str, options: Dict[str, object], rounds: int, calls: int) -> Tuple[float, float]:
    shim.install(**options)  # type: ignore[arg-type]
    try:
        with stdout_to_devnull():
            os.system(command)  # the first call pays for lazy imports; not measured
            return alternate(os.system, command, rounds, calls)
    finally:
        shim.uninstall()


def raw_popen(command: str) -> int:
    """subprocess.Popen and waitpid, nothing else: the floor of routing through Popen."""
    proc = subprocess.Popen(
        [b"sh", b"-c", command.encode()], executable=b"/bin/sh", close_fds=False, restore_signals=False, stdin=0
    )
    _, status = os.waitpid(proc.pid, 0)
    proc.returncode = 0
    return status


def bare_argv_popen(command: str) -> int:
    """subprocess.Popen of the program itself and waitpid: the floor of a run without a shell."""
    proc = subprocess.Popen(command.encode().split(), close_fds=False, restore_signals=False)
    _, status = os.waitpid(proc.pid, 0)
    proc.returncode = 0
    return status


#: Shell-free runs against their floor, a bare Popen of the same argv (issue budget).
SHELL_FREE: List[Tuple[str, str, Callable[[], None], float]] = [
    ("auto, /bin/true", "/bin/true", lambda: None, 1.08),
    ("auto, no PWD", "/bin/true", lambda: os.environ.pop("PWD", None), 1.08),
]


def measure_shell_free(
    command: str, prepare: Callable[[], None], rounds: int, calls: int
) -> Tuple[float, float]:
    saved = dict(os.environ)
    prepare()
    shim.install(shell="auto")
    try:
        with stdout_to_devnull():
            os.system(command)
            return alternate(os.system, command, rounds, calls, base=bare_argv_popen)
    finally:
        shim.uninstall()
        os.environ.clear()
        os.environ.update(saved)


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
        print(f"{'shell-free vs its floor':<24} {'Popen us':>9} {'shim us':>9} {'ratio':>6} {'budget':>7}")
        for name, command, prepare, budget in SHELL_FREE:
            floor_time, shimmed = measure_shell_free(command, prepare, args.rounds, args.calls)
            ratio = shimmed / floor_time
            verdict = "ok" if ratio <= budget else "OVER"
            over += verdict == "OVER"
            print(f"{name:<24} {floor_time * 1e6:9.0f} {shimmed * 1e6:9.0f} {ratio:6.2f} {budget:6.2f}x {verdict}")
        plain, floor = alternate(raw_popen, "/bin/true", args.rounds, args.calls)
        print(f"{'(reference) bare Popen':<24} {plain * 1e6:9.0f} {floor * 1e6:9.0f} {floor / plain:6.2f}"
              "   Popen + waitpid alone, no shim code")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
