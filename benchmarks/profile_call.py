"""Where the time of one shimmed call goes, step by step, in each mode (microseconds, medians).

Each step is timed with ``perf_counter_ns`` by wrapping the function that
does it (the wrappers add well under a microsecond each); a mode makes
``--calls`` calls of ``/bin/true`` (``echo hi`` for tee) with fd 1 on a pipe
drained by a ``cat`` outside the process.  "shim's own" is the whole call
less ``Popen()`` and the wait for the child: the argument checks, the signal
hold, the bookkeeping and the side work of the mode.  Absolute times follow
the machine's load; compare the steps with each other, or one checkout with
another in the same minute (``--root`` profiles another checkout of shim,
for a before/after).

Last, the shim's own code path is timed with nothing started at all: a
stand-in for ``Popen`` that returns at once (the path the shim takes for a
test's fake ``Popen``), the best of several loops of ``timeit`` in CPU time, less the
stand-in's own cost.  That figure has no fork or wait in it, so it is far
less noisy than the rest.

    python benchmarks/profile_call.py [--calls 400] [--root DIR]
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, DefaultDict, Dict, List

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--calls", type=int, default=400)
parser.add_argument("--root", default=str(Path(__file__).resolve().parent.parent))
ARGS = parser.parse_args()
sys.path.insert(0, ARGS.root)

import shim  # noqa: E402

# After shim is imported from --root: bench_calls puts this checkout on the path.
from bench_calls import stdout_to_pipe  # noqa: E402
from shim._runtime import capture, publish, runner  # noqa: E402
from shim._runtime.signals import Hold  # noqa: E402

STEPS: DefaultDict[str, List[int]] = collections.defaultdict(list)
CLOCK = time.perf_counter_ns


def timing(owner: Any, name: str, step: str) -> None:
    function: Callable[..., Any] = getattr(owner, name)

    def timed(*args: Any, **kwargs: Any) -> Any:
        start = CLOCK()
        try:
            return function(*args, **kwargs)
        finally:
            STEPS[step].append(CLOCK() - start)

    setattr(owner, name, timed)


class TimedPopen(subprocess.Popen):  # type: ignore[type-arg]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        start = CLOCK()
        super().__init__(*args, **kwargs)
        STEPS["Popen()"].append(CLOCK() - start)


def main() -> int:
    subprocess.Popen = TimedPopen  # type: ignore[misc]
    runner._POPEN = TimedPopen  # type: ignore[misc]
    timing(Hold, "enter", "signal hold: enter")
    timing(Hold, "leave", "signal hold: leave")
    timing(runner, "_wait", "waitpid")
    timing(publish, "record", "record: build and mask")
    timing(publish, "_log", "log record: emit")
    timing(publish, "_write_audit", "audit: encode and write")
    timing(capture.Tee, "child_fds", "tee: set up")
    timing(capture.Tee, "spawned", "tee: copy until exit")
    timing(capture.Tee, "exited", "tee: drain, tear down")
    modes: Dict[str, Dict[str, Any]] = {
        "default": {},
        "audit": {"audit": os.path.join(os.path.abspath(os.curdir), ".profile-audit.jsonl")},
        "log": {"log": "INFO"},
        "tee": {"capture": "tee"},
    }
    print(f"Python {sys.version.split()[0]}, shim from {ARGS.root}, {ARGS.calls} calls per mode, medians in us")
    for mode, options in modes.items():
        command = "echo hi" if mode == "tee" else "/bin/true"
        STEPS.clear()
        saved_err = sys.stderr
        with stdout_to_pipe(), open(os.devnull, "w") as null:
            if mode == "log":
                sys.stderr = null
            shim.install(**options)
            try:
                os.system(command)
                STEPS.clear()
                for _ in range(ARGS.calls):
                    start = CLOCK()
                    os.system(command)
                    STEPS["whole call"].append(CLOCK() - start)
            finally:
                shim.uninstall()
                sys.stderr = saved_err
        if "audit" in options:
            with contextlib.suppress(OSError):
                os.remove(options["audit"])
        waited = STEPS.get("tee: copy until exit") if mode == "tee" else STEPS.get("waitpid")
        own = [w - p - t for w, p, t in zip(STEPS["whole call"], STEPS["Popen()"], waited or [])]
        if mode == "tee":
            own = [o - w for o, w in zip(own, STEPS.get("waitpid", []))]
        print(f"\n{mode} ({command})")
        for step, values in [*STEPS.items(), ("shim's own (whole - Popen - waits)", own)]:
            print(f"  {step:<38} {statistics.median(values) / 1e3:9.1f}")
    own_code_path()
    return 0


class StandIn:
    """A ``Popen`` that starts nothing: its ``wait()`` gives 0 at once."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.pid = 0
        self.returncode = None

    def wait(self) -> int:
        return 0


def own_code_path() -> None:
    import timeit

    subprocess.Popen = StandIn  # type: ignore[misc]
    shim.install()
    try:
        calls = 5000
        # CPU time: the moments another process had the core do not count.
        whole = min(timeit.repeat(lambda: os.system("/bin/true"), number=calls, repeat=7, timer=time.process_time))
        alone = min(timeit.repeat(lambda: StandIn().wait(), number=calls, repeat=7, timer=time.process_time))
    finally:
        shim.uninstall()
    print(f"\ndefault mode, shim's code path with a Popen that starts nothing: "
          f"{(whole - alone) / calls * 1e6:.1f} us per call")


if __name__ == "__main__":
    sys.exit(main())
