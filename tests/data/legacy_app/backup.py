#!/usr/bin/env python3
"""Copy the data directory into an archive, the way it was written in 2009.

A legacy-style program for the ``shim fix`` tests: it calls ``os.system``
in the ways a rewrite has to tell apart (statements, truth tests,
comparisons with 0, a status that is kept and used), through several
import spellings, and prints as it goes.  Run it from its own directory.
"""

# Written the way old code is, on purpose: modern lint rules do not apply.
# ruff: noqa: B009, UP031

import os
import posix
import sys
from os import system as run_command

DATA = "data"
ARCHIVE = "archive"
NAMES = ["a.txt", "b.txt", "missing.txt"]


def log(message):
    print("backup: " + message)


def prepare():
    os.system("mkdir -p archive")
    # A builtin and a redirection: this one keeps its shell.
    os.system("echo preparing the archive >&2")


def copy_files():
    copied = 0
    for name in NAMES:
        source = os.path.join(DATA, name)
        if os.system("cp " + source + " " + ARCHIVE + "/"):
            log("could not copy " + name)
        else:
            copied += 1
    log("copied %d of %d files" % (copied, len(NAMES)))


def verify():
    import os as operating_system

    def same(name):
        command = "cmp -s %s/%s %s/%s" % (DATA, name, ARCHIVE, name)
        return operating_system.system(command) == 0

    good = [name for name in NAMES if same(name)]
    log("verified: " + ", ".join(good))
    if not posix.system("test -s archive/b.txt"):
        log("b.txt is not empty")
    # The status is kept and printed: a rewrite must leave this call alone.
    missing = getattr(os, "system")("test -e archive/missing.txt")
    log("status of the missing file: %d" % missing)
    assert os.system("ls archive") == 0, "cannot list the archive"


def main():
    log("start")
    prepare()
    copy_files()
    verify()
    run_command("cat archive/a.txt archive/b.txt")
    os.system("wc -l archive/b.txt")
    status = os.system("exit 3")
    log("last status %d, exit code %d" % (status, status >> 8))
    return status >> 8


if __name__ == "__main__":
    sys.exit(main())
