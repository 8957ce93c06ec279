"""A small legacy program that calls os.system the ways old code does.

Run it as is, then with the shim switched on (nothing in this file changes):

    SHIM_ENABLE=1 SHIM_LOG=INFO python examples/legacy_app.py
"""

import os
import sys
from os import system
from os import system as run_command

WORKDIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "legacy_workdir")


def prepare() -> None:
    # plain call, status ignored
    os.system(f"mkdir -p {WORKDIR}")
    os.system(f"echo 'report line 1' > {WORKDIR}/report.txt")


def check_tools() -> bool:
    # status tested for truth
    if os.system("command -v tar >/dev/null 2>&1"):
        print("tar is missing")
        return False
    return True


def archive() -> int:
    # `from os import system`, status compared with 0
    status = system(f"cd {WORKDIR} && tar -cf report.tar report.txt")
    if status == 0:
        print("archive written")
    return status


def count_lines() -> int:
    # `from os import system as ...`, status shifted to get the exit code
    status = run_command(f"grep -q 'report' {WORKDIR}/report.txt")
    exit_code = status >> 8
    print(f"grep exit code: {exit_code}")
    return exit_code


def main() -> int:
    prepare()
    if not check_tools():
        return 1
    archive()
    count_lines()
    os.system("date -u +%Y >/dev/null")
    status = os.system(f"ls {WORKDIR}/missing-file 2>/dev/null")
    print(f"missing file status: {status} (exit code {status >> 8})")
    os.system(f"rm -rf {WORKDIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
