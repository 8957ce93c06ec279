"""``shim scan`` over CPython's ``Lib/``, side by side with bandit on the same tree.

Both run as fresh processes on the standard library of the interpreter
running this script (or ``--tree``), ``site-packages`` left out, alternating, ``--rounds`` times; the
figures are medians of the wall time.  The calls each one finds are
reported too: ``shim scan``'s findings (``os.system`` and ``os.popen``
calls, every import spelling), and bandit's B605 findings
(``start_process_with_a_shell``: ``os.system``, ``os.popen`` and the other
functions that start a shell).  Budget: ``shim scan`` faster than bandit.
bandit must be installed (``pip install bandit``); without it, only shim's
time is shown.

    python benchmarks/bench_scan.py [--tree DIR] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path
from typing import List, Optional, Tuple

ROOT = Path(__file__).resolve().parent.parent


#: Not part of CPython's Lib/: what is installed into the interpreter.
EXCLUDE = "site-packages"


def run_shim(tree: str, out: str) -> Tuple[float, int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIM_")}
    env["PYTHONPATH"] = str(ROOT)
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "shim", "scan", "--no-baseline", "--format", "json", "-o", out,
         "--exclude", EXCLUDE, tree],
        env=env, cwd=tree, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False,
    )
    seconds = time.perf_counter() - start
    with open(out, encoding="utf-8") as f:
        data = json.load(f)
    return seconds, int(data["summary"]["calls"])


def run_bandit(bandit: str, tree: str, out: str) -> Tuple[float, int]:
    start = time.perf_counter()
    subprocess.run(
        [bandit, "-r", tree, "-q", "-f", "json", "-o", out, "-t", "B605",
         "-x", os.path.join(tree, EXCLUDE)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False,
    )
    seconds = time.perf_counter() - start
    with open(out, encoding="utf-8") as f:
        results = json.load(f).get("results", [])
    return seconds, len(results)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", default=sysconfig.get_paths()["stdlib"])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    bandit: Optional[str] = shutil.which("bandit") or shutil.which("bandit", path=os.path.dirname(sys.executable))
    shim_runs: List[Tuple[float, int]] = []
    bandit_runs: List[Tuple[float, int]] = []
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.json")
        for round_ in range(args.rounds):
            order = ["shim", "bandit"] if round_ % 2 == 0 else ["bandit", "shim"]
            for tool in order:
                if tool == "shim":
                    shim_runs.append(run_shim(args.tree, out))
                elif bandit is not None:
                    bandit_runs.append(run_bandit(bandit, args.tree, out))
    print(f"Python {sys.version.split()[0]}, tree {args.tree}, {args.rounds} interleaved rounds, medians")
    print(f"{'tool':<22} {'seconds':>8} {'calls found':>12}")
    shim_s = statistics.median(r[0] for r in shim_runs)
    print(f"{'shim scan':<22} {shim_s:8.2f} {shim_runs[-1][1]:12d}")
    if not bandit_runs:
        print("bandit is not installed: pip install bandit")
        return 1
    bandit_s = statistics.median(r[0] for r in bandit_runs)
    print(f"{'bandit -t B605':<22} {bandit_s:8.2f} {bandit_runs[-1][1]:12d}")
    ratios = [s[0] / b[0] for s, b in zip(shim_runs, bandit_runs)]
    ratio = statistics.median(ratios)
    verdict = "PASS" if ratio < 1.0 else "OVER"
    print(f"ratio shim scan / bandit: {ratio:.2f} (rounds {min(ratios):.2f} to {max(ratios):.2f}), "
          f"budget below 1.0 {verdict}")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
