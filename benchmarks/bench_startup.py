"""Interpreter start-up with shim installed: SHIM_ENABLE unset and set, against ``python -c pass`` without it.

Two virtual environments are built side by side in a temporary directory,
laid out as pip lays out an installation (packages copied into
site-packages and byte-compiled): one with wrapt only, one with wrapt, shim
and shim.pth.  ``python -c pass`` is timed in each, interleaved, many
times, with SHIM_ENABLE unset and set; the figures are medians, with the
25th and 75th percentiles of the per-round differences (each round runs the
three once, in rotating order).  Budget: at most 3 ms added with
``SHIM_ENABLE=1``.

    python benchmarks/bench_startup.py [--runs 200]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

import wrapt

ROOT = Path(__file__).resolve().parent.parent
BUDGET_MS = 3.0


def make_venv(home: Path, with_shim: bool) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(home)], check=True)
    python = home / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    site = Path(purelib)
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(Path(wrapt.__file__).resolve().parent, site / "wrapt", ignore=ignore)
    if with_shim:
        shutil.copytree(ROOT / "shim", site / "shim", ignore=ignore)
        shutil.copy(ROOT / "shim.pth", site / "shim.pth")
    subprocess.run([str(python), "-m", "compileall", "-q", str(site)], check=True)
    return python


def time_once(python: Path, env: Dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([str(python), "-c", "pass"], env=env, check=True)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("SHIM_") and k != "PYTHONPATH"}
    enabled_env = dict(base_env, SHIM_ENABLE="1")
    with tempfile.TemporaryDirectory() as tmp:
        bare = make_venv(Path(tmp) / "bare", with_shim=False)
        with_shim = make_venv(Path(tmp) / "shim", with_shim=True)
        runs: Dict[str, List[float]] = {"no shim": [], "shim, SHIM_ENABLE unset": [], "shim, SHIM_ENABLE=1": []}
        setups = [
            ("no shim", bare, base_env),
            ("shim, SHIM_ENABLE unset", with_shim, base_env),
            ("shim, SHIM_ENABLE=1", with_shim, enabled_env),
        ]
        for run in range(args.runs):
            # Rotate the order so that no environment always goes first.
            for name, python, env in setups[run % 3 :] + setups[: run % 3]:
                runs[name].append(time_once(python, env))
    base = statistics.median(runs["no shim"])
    print(f"Python {sys.version.split()[0]}, {args.runs} interleaved runs of `python -c pass`, medians")
    print(f"{'environment':<26} {'ms':>7} {'added ms':>9} {'p25':>6} {'p75':>6}")
    for name, values in runs.items():
        med = statistics.median(values)
        added_each = sorted((v - b) * 1e3 for v, b in zip(values, runs["no shim"]))
        quarter = len(added_each) // 4
        print(f"{name:<26} {med * 1e3:7.2f} {(med - base) * 1e3:9.2f} "
              f"{added_each[quarter]:6.2f} {added_each[-quarter - 1]:6.2f}")
    added = (statistics.median(runs["shim, SHIM_ENABLE=1"]) - base) * 1e3
    verdict = "PASS" if added <= BUDGET_MS else "OVER"
    print(f"budget: at most {BUDGET_MS:.0f} ms added with SHIM_ENABLE=1: {added:+.2f} ms {verdict}")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
