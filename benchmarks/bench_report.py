"""``shim report`` over an audit file of 1M records, against ``json.loads`` of every line, side by side.

The floor is the least any reader of the file must do: one loop that reads
every line and parses it with ``json.loads``.  Both run as fresh
interpreters on the same file, alternating, ``--rounds`` times; each child
reports its own time and peak resident memory (``VmHWM``).  Memory must be
flat: the report's peak is also measured over a tenth of the records, and
the two peaks should be about the same.

The file is written once per run from the real record encoder, with a few
hundred call sites, commands and statuses, so the report has a realistic
number of sites to keep.

    python benchmarks/bench_report.py [--records 1000000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Tuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BUDGET = 1.5

FLOOR = """
import json, sys, time
start = time.perf_counter()
count = 0
with open(sys.argv[1], "rb") as f:
    for line in f:
        json.loads(line)
        count += 1
seconds = time.perf_counter() - start
with open("/proc/self/status") as f:
    rss = int([line.split()[1] for line in f if line.startswith("VmHWM:")][0])
sys.stderr.write(json.dumps({"seconds": seconds, "rss_kib": rss, "count": count}) + "\\n")
"""

REPORT = """
import json, os, sys, time
from shim._tools.cli import main
start = time.perf_counter()
try:
    main(["report", "--format", "json", "-o", os.devnull, sys.argv[1]])
except SystemExit:
    pass
seconds = time.perf_counter() - start
with open("/proc/self/status") as f:
    rss = int([line.split()[1] for line in f if line.startswith("VmHWM:")][0])
sys.stderr.write(json.dumps({"seconds": seconds, "rss_kib": rss}) + "\\n")
"""


def write_records(path: str, count: int) -> None:
    from shim._common import schema

    commands = [f"make -C build{n % 7} target{n}" for n in range(40)] + [
        "ls -l | wc -l", "tar czf out.tgz src", "git status --porcelain", "curl -s https://example.org",
    ]
    with open(path, "wb") as out:
        lines: List[bytes] = []
        for index in range(count):
            command = commands[index % len(commands)]
            site = index % 300
            status = 0 if index % 11 else 256
            record = {
                "v": schema.VERSION, "ts": f"2026-01-01T00:00:00.{index % 1000000:06d}+00:00",
                "pid": 1000 + index % 50, "command": command, "argv": None, "shell": True,
                "shell_reason": None, "mode": "always", "cwd": "/srv/app",
                "site": {"file": f"/srv/app/module{site % 40}.py", "line": 10 + site, "function": f"f{site}"},
                "status": status, "exit_code": status >> 8, "signal": None, "core_dumped": False,
                "duration_ms": 1.25, "capture": "off", "stdout_bytes": None, "stderr_bytes": None,
                "stdout_tail": None, "stderr_tail": None, "stdout_note": None, "stderr_note": None,
                "merged": False, "suggestion": f"subprocess.run({command!r}, shell=True).returncode",
                "outcome": "ran",
            }
            lines.append(schema.encode(record))
            if len(lines) >= 10000:
                out.write(b"".join(lines))
                lines = []
        out.write(b"".join(lines))


def child(code: str, path: str) -> Tuple[float, int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIM_")}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, "-c", code, path], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
        cwd=os.path.dirname(path), check=False,
    )
    report: Dict[str, float] = json.loads(done.stderr.decode().strip().splitlines()[-1])
    return report["seconds"], int(report["rss_kib"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        big = os.path.join(tmp, "audit.jsonl")
        small = os.path.join(tmp, "audit-tenth.jsonl")
        write_records(big, args.records)
        write_records(small, args.records // 10)
        size = os.path.getsize(big)
        floor: List[Tuple[float, int]] = []
        report: List[Tuple[float, int]] = []
        tenth: List[Tuple[float, int]] = []
        for round_ in range(args.rounds):
            pair = [(floor, FLOOR), (report, REPORT)]
            for results, code in pair if round_ % 2 == 0 else pair[::-1]:
                results.append(child(code, big))
            tenth.append(child(REPORT, small))
    ratios = [r[0] / f[0] for r, f in zip(report, floor)]
    print(f"Python {sys.version.split()[0]}, {args.records} records ({size / (1 << 20):.0f} MiB), "
          f"{args.rounds} interleaved rounds, medians")
    print(f"{'reader':<34} {'seconds':>8} {'peak RSS MiB':>13}")
    for name, rows in (("json.loads loop (the floor)", floor), ("shim report", report),
                       (f"shim report, {args.records // 10} records", tenth)):
        print(f"{name:<34} {statistics.median(r[0] for r in rows):8.2f} "
              f"{max(r[1] for r in rows) / 1024:13.1f}")
    ratio = statistics.median(ratios)
    growth = (max(r[1] for r in report) - max(r[1] for r in tenth)) / 1024
    verdict = "PASS" if ratio <= BUDGET else "OVER"
    print(f"ratio shim report / floor: {ratio:.2f} (rounds {min(ratios):.2f} to {max(ratios):.2f}), "
          f"budget {BUDGET}x {verdict}")
    flat = growth <= 2.0
    print(f"memory from {args.records // 10} to {args.records} records: {growth:+.1f} MiB "
          f"({'flat' if flat else 'GROWS'})")
    return 0 if verdict == "PASS" and flat else 1


if __name__ == "__main__":
    sys.exit(main())
