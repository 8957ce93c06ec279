"""1 GiB through ``capture="tee"`` into a pipe, against plain os.system, side by side in one run.

Each round runs a fresh interpreter whose fd 1 is a pipe read by ``cat >
/dev/null``; the interpreter calls ``os.system("head -c SIZE /dev/zero")``,
plain or with the shim in tee mode, and reports how long the call took and
its own peak resident memory (``VmHWM``, or ``ru_maxrss``).  Rounds alternate plain and
tee so that both see the same machine load; the figures are the medians,
and the ratio is the median of each round's tee / plain.  Budget: at most
1.1x the time, and a peak RSS at most 16 MiB above plain's.

    python benchmarks/bench_tee_volume.py [--size 1G] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Tuple

ROOT = Path(__file__).resolve().parent.parent
BUDGET = 1.1
RSS_BUDGET_MIB = 16.0

CHILD = """
import json, os, resource, sys, time
if sys.argv[1] == "tee":
    import shim
    shim.install(capture="tee")
    os.system("true")  # the first call imports the capture machinery
start = time.perf_counter()
status = os.system("head -c %s /dev/zero" % sys.argv[2])
seconds = time.perf_counter() - start
try:
    # VmHWM: ru_maxrss of a process started by vfork starts at its parent's.
    with open("/proc/self/status") as f:
        rss = int([line.split()[1] for line in f if line.startswith("VmHWM:")][0])
except (OSError, IndexError):
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if sys.platform == "darwin":
        rss //= 1024  # bytes there, KiB on Linux
sys.stderr.write(json.dumps({"status": status, "seconds": seconds, "rss_kib": rss}) + "\\n")
"""


def parse_size(text: str) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    text = text.strip().upper().rstrip("IB")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def one_run(mode: str, size: int) -> Tuple[float, float, int]:
    """(seconds in os.system, wall seconds of the pipeline, peak RSS KiB) of one child."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIM_")}
    env["PYTHONPATH"] = str(ROOT)
    start = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, mode, str(size)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    reader = subprocess.Popen(["cat"], stdin=child.stdout, stdout=subprocess.DEVNULL)
    assert child.stdout is not None
    child.stdout.close()
    _, err = child.communicate()
    reader.wait()
    wall = time.perf_counter() - start
    report: Dict[str, float] = json.loads(err.decode().strip().splitlines()[-1])
    if report["status"] != 0 or child.returncode != 0:
        raise SystemExit(f"{mode}: the command failed: {err.decode()}")
    return report["seconds"], wall, int(report["rss_kib"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1G", help="bytes to send, e.g. 256M or 1G (default 1G)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    size = parse_size(args.size)
    results: Dict[str, List[Tuple[float, float, int]]] = {"plain": [], "tee": []}
    for round_ in range(args.rounds):
        for mode in ("plain", "tee") if round_ % 2 == 0 else ("tee", "plain"):
            results[mode].append(one_run(mode, size))
    print(f"Python {sys.version.split()[0]}, {size / (1 << 20):.0f} MiB into a pipe, {args.rounds} rounds, medians")
    print(f"{'mode':<6} {'os.system s':>12} {'MiB/s':>8} {'pipeline s':>11} {'peak RSS MiB':>13}")
    peaks = {}
    for mode, rows in results.items():
        call = statistics.median(r[0] for r in rows)
        wall = statistics.median(r[1] for r in rows)
        rss = peaks[mode] = max(r[2] for r in rows) / 1024
        print(f"{mode:<6} {call:12.3f} {size / (1 << 20) / call:8.0f} {wall:11.3f} {rss:13.1f}")
    ratios = [t[0] / p[0] for t, p in zip(results["tee"], results["plain"])]
    ratio = statistics.median(ratios)
    verdict = "PASS" if ratio <= BUDGET else "OVER"
    print(f"ratio tee / plain: {ratio:.2f} (rounds {min(ratios):.2f} to {max(ratios):.2f}), "
          f"budget {BUDGET:.1f}x {verdict}")
    extra = peaks["tee"] - peaks["plain"]
    rss_verdict = "PASS" if extra <= RSS_BUDGET_MIB else "OVER"
    print(f"peak RSS tee - plain: {extra:+.1f} MiB, budget +{RSS_BUDGET_MIB:.0f} MiB {rss_verdict}")
    return 0 if verdict == rss_verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
