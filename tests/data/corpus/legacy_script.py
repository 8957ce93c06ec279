#!/usr/bin/env python3
"""Nightly report of a data directory, as a sysadmin wrote it years ago.

Usage: legacy_script.py WORKDIR   (everything it writes stays in WORKDIR)
"""

import os
import sys
from os import popen, system


def log(message):
    print("[report] " + message)


def main():
    if len(sys.argv) != 2:
        print("usage: legacy_script.py WORKDIR")
        return 2
    work = sys.argv[1]
    os.chdir(work)
    system("mkdir -p data out")
    os.system("echo alpha > data/a.txt")
    os.system("echo beta > data/b.txt")
    os.system("printf 'gamma\\ndelta\\n' > data/c.txt")

    files = popen("ls data").read().split()
    log("files: " + ", ".join(files))
    for name in files:
        rc = os.system("grep -q a data/" + name)
        log("%s contains a: %s" % (name, "yes" if rc == 0 else "no"))

    lines = 0
    for line in os.popen("cat data/c.txt"):
        lines += 1
    log("c.txt has %d lines" % lines)

    if os.system("test -s data/a.txt"):
        log("a.txt is empty")
    code = os.system("grep -q missing data/a.txt") >> 8
    log("grep for 'missing' exited %d" % code)
    status = os.WEXITSTATUS(os.system("ls nothing-here 2> /dev/null"))
    log("ls of a missing file exited %d" % status)

    os.system(f"cp data/a.txt out/a.copy")
    os.system("tar -cf out/data.tar data")
    size = os.popen("wc -c < out/data.tar").read().strip()
    log("archive is %s bytes" % (int(size) > 0 and "more than 0" or "0"))
    total = os.system("sh -c 'exit 4'")
    log("last status %d" % total)
    os.system("rm -rf data")
    return total >> 8


if __name__ == "__main__":
    sys.exit(main())
