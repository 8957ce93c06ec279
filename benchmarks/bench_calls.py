"""Per-call cost of every mode of the shim, each against its floor, measured in one run.

Every budget of the performance issue is a ratio against a floor measured in
the same run: a bare ``subprocess.Popen`` of ``sh -c`` for the default mode,
the shim's default mode for side work (an audit file, output capture,
logging), and plain ``os.system`` on interpreters before 3.10.  Each
*variant* below runs in blocks of ``--block`` calls; every round runs one
block of every variant, in a different order each round, so that all see the
same machine load.  A round gives each row the ratio of its two block means;
the row shows the median of those ratios over the rounds and their spread
(25th to 75th percentile).

fd 1 of the process is a pipe that a ``cat`` outside this process drains,
so that ``capture="tee"`` really captures (a terminal, a regular file or
``/dev/null`` would be handed to the command untouched).  The log variant
has ``SHIM_LOG=INFO``'s handler write to a file.

    python benchmarks/bench_calls.py [--rounds 41] [--block 20]

Runs on every interpreter the runtime supports (3.6 and later).
"""

import argparse
import contextlib
import os
import posix
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import shim

OLD_POPEN = sys.version_info < (3, 10)
RECORDS = 5000


def _ns() -> int:  # Python 3.6 has no perf_counter_ns
    return int(time.perf_counter() * 1e9)


CLOCK: Callable[[], int] = getattr(time, "perf_counter_ns", _ns)


class Variant:
    """One way of running a command: a function, and the shim options in force while it runs."""

    def __init__(self, name: str, command: str, options: Optional[Dict[str, object]] = None) -> None:
        self.name = name
        self.command = command
        #: None: the shim is not installed (plain os.system, bare Popen).
        self.options = options
        self.blocks: List[float] = []
        #: The caller's CPU time per call, block by block.
        self.cpu: List[float] = []

    def run(self, calls: int) -> Tuple[float, float]:
        """Mean wall and caller-CPU seconds per call over one block of ``calls``."""
        command = self.command
        if self.options is None:
            function: Callable[[str], int] = bare_popen
            if self.name.startswith("plain"):
                function = posix.system
            elif self.name.startswith("bare Popen argv"):
                function = bare_argv_popen
            function(command)
            return timed(function, command, calls)
        options = dict(self.options)
        pwd = os.environ.get("PWD")
        if options.pop("no_pwd", False) and pwd is not None:
            del os.environ["PWD"]  # as under cron or systemd: no PWD in the environment
        try:
            with installed(options):
                os.system(command)  # the first call after install is not timed
                return timed(os.system, command, calls)
        finally:
            if pwd is not None:
                os.environ["PWD"] = pwd


def timed(function: Callable[[str], int], command: str, calls: int) -> Tuple[float, float]:
    clock = CLOCK
    cpu = time.process_time
    cpu_start = cpu()
    start = clock()
    for _ in range(calls):
        function(command)
    wall = (clock() - start) / calls / 1e9
    return wall, (cpu() - cpu_start) / calls


@contextlib.contextmanager
def installed(options: Dict[str, object]) -> Iterator[None]:
    log_file = options.get("log")
    saved = sys.stderr
    with contextlib.ExitStack() as stack:
        if log_file:
            # SHIM_LOG's handler writes to whatever sys.stderr is: a file here.
            sys.stderr = stack.enter_context(open(str(log_file), "a", encoding="utf-8"))
            stack.callback(setattr, sys, "stderr", saved)
        shim.install(**{k: ("INFO" if k == "log" else v) for k, v in options.items()})  # type: ignore[arg-type]
        try:
            yield
        finally:
            shim.uninstall()


def bare_popen(command: str) -> int:
    """subprocess.Popen of ``sh -c`` and waitpid, nothing else: the floor of routing through Popen."""
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


@contextlib.contextmanager
def stdout_to_pipe() -> Iterator[None]:
    """fd 1 becomes a pipe read by a ``cat`` outside this process."""
    sys.stdout.flush()
    drain = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    assert drain.stdin is not None
    saved = os.dup(1)
    os.dup2(drain.stdin.fileno(), 1)
    drain.stdin.close()
    try:
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        drain.wait()


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def record_cost(directory: str, records: int) -> Tuple[float, float, float]:
    """CPU microseconds for one audit record of ``/bin/true``: build + mask, encode, write."""
    from shim._common import schema
    from shim._common.settings import Settings
    from shim._runtime import call as call_module
    from shim._runtime import publish
    from shim._runtime.session import Session

    session = Session(Settings(audit=os.path.join(directory, "record-cost.jsonl")))
    assert session.audit is not None
    done = call_module.Call(b"/bin/true")
    done.status = 0
    done.duration = 0.001
    done.cwd = os.getcwd()
    done.site = (__file__, 1, "record_cost")
    cpu = time.process_time
    # CPU time of this thread per record, each step in a loop of its own:
    # wall time would count the moments another process had the core.
    start = cpu()
    for _ in range(records):
        data = publish.record(done, session)
    build = (cpu() - start) / records
    start = cpu()
    for _ in range(records):
        line = schema.encode(data)
    encode = (cpu() - start) / records
    start = cpu()
    for _ in range(records):
        session.audit.append(line)
    write = (cpu() - start) / records
    session.retire(last=False)
    return build * 1e6, encode * 1e6, write * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=41)
    parser.add_argument("--block", type=int, default=20, help="calls per block")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        audit = os.path.join(tmp, "audit.jsonl")
        log = os.path.join(tmp, "shim.log")
        v: Dict[str, Variant] = {
            name: Variant(name, command, options)
            for name, command, options in [
                ("plain os.system, /bin/true", "/bin/true", None),
                ("bare Popen sh -c, /bin/true", "/bin/true", None),
                ("shim default, /bin/true", "/bin/true", {}),
                ("shim audit, /bin/true", "/bin/true", {"audit": audit}),
                ("shim log, /bin/true", "/bin/true", {"log": log}),
                ("plain os.system, echo hi", "echo hi", None),
                ("shim default, echo hi", "echo hi", {}),
                ("shim tee, echo hi", "echo hi", {"capture": "tee"}),
                ("bare Popen argv, /bin/true", "/bin/true", None),
                ("shim auto, /bin/true", "/bin/true", {"shell": "auto"}),
                ("shim auto no PWD, /bin/true", "/bin/true", {"shell": "auto", "no_pwd": True}),
            ]
        }
        # (row, subject, floor, budget); budget None: shown, not judged.
        rows: List[Tuple[str, str, str, Optional[float]]] = [
            ("floor: bare Popen sh -c / plain", "bare Popen sh -c, /bin/true", "plain os.system, /bin/true", None),
            ("default mode, /bin/true", "shim default, /bin/true", "bare Popen sh -c, /bin/true",
             None if OLD_POPEN else 1.02),
            ("audit file on", "shim audit, /bin/true", "shim default, /bin/true", 1.03),
            ("tee, small output (echo hi)", "shim tee, echo hi", "shim default, echo hi", 1.04),
            ("logging on (SHIM_LOG=INFO)", "shim log, /bin/true", "shim default, /bin/true", 1.05),
            ("floor: bare Popen argv / plain", "bare Popen argv, /bin/true", "plain os.system, /bin/true", None),
            ("shell-free (auto), /bin/true", "shim auto, /bin/true", "bare Popen argv, /bin/true", 1.08),
            ("shell-free (auto), no PWD", "shim auto no PWD, /bin/true", "bare Popen argv, /bin/true", 1.08),
        ]
        if OLD_POPEN:
            for mode, command in (("default", "/bin/true"), ("audit", "/bin/true"), ("log", "/bin/true"),
                                  ("tee", "echo hi")):
                rows.append((f"{mode} / plain os.system ({command})", f"shim {mode}, {command}",
                             f"plain os.system, {command}", 1.20))
        order = list(v.values())
        shuffle = random.Random(1234)
        with stdout_to_pipe():
            for variant in order:  # warm up: lazy imports, the audit file
                variant.run(3)
            for _ in range(args.rounds):
                shuffle.shuffle(order)
                for variant in order:
                    wall, cpu = variant.run(args.block)
                    variant.blocks.append(wall)
                    variant.cpu.append(cpu)
        cost = record_cost(tmp, RECORDS)

    print(f"Python {sys.version.split()[0]}, {args.rounds} rounds, blocks of {args.block} calls, "
          f"variants interleaved in shuffled order")
    print(f"{'variant':<30} {'median us':>9} {'p25':>7} {'p75':>7}")
    for variant in v.values():
        us = [b * 1e6 for b in variant.blocks]
        print(f"{variant.name:<30} {statistics.median(us):9.0f} {percentile(us, .25):7.0f} {percentile(us, .75):7.0f}")
    print()
    print(f"{'row':<40} {'ratio':>6} {'p25':>6} {'p75':>6} {'budget':>7} {'verdict':<7} {'CPU ratio':>9}")
    over = 0
    for name, subject, floor, budget in rows:
        ratios = [s / f for s, f in zip(v[subject].blocks, v[floor].blocks)]
        median = statistics.median(ratios)
        verdict = ""
        if budget is not None:
            verdict = "PASS" if median <= budget else "OVER"
            over += verdict == "OVER"
        shown = f"{budget:6.2f}x" if budget is not None else "      -"
        cpu_ratio = statistics.median(s / f for s, f in zip(v[subject].cpu, v[floor].cpu))
        print(f"{name:<40} {median:6.3f} {percentile(ratios, .25):6.3f} {percentile(ratios, .75):6.3f} "
              f"{shown} {verdict:<7} {cpu_ratio:9.3f}")
    print("(ratio: wall time, median of the per-round ratios, with its quartiles; CPU ratio: the caller's\n"
          " own CPU time, which does not count the moments other processes had the core)")
    build, encode, write = cost
    total = build + encode + write
    print()
    print(f"one audit record, CPU time per record over {RECORDS} in a loop: build+mask {build:.1f} us, "
          f"encode {encode:.1f} us, write {write:.1f} us, total {total:.1f} us (target 30 us) "
          f"{'PASS' if total <= 30 else 'OVER'}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
