"""Helpers of the backup tool's own test suite, as such suites were written."""

import os
import sys

OUTPUT = "testfiles/output"


class RPath:
    def __init__(self, path):
        self.path = path.encode() if isinstance(path, str) else path


def reset_output(root_rp):
    assert not os.system(b"rm -rf %s" % (root_rp.path,))
    os.mkdir(root_rp.path)


def make_tree(base):
    os.system("mkdir -p %s/a/b/c %s/d" % (base, base))
    os.system("touch %s/a/one %s/a/b/two %s/d/three" % (base, base, base))
    os.system("ln -s ../a/one %s/d/link" % base)


def compare_trees(first, second):
    return os.system("diff -r %s %s > /dev/null" % (first, second)) == 0


def run_backup(source, dest, *options):
    cmd = "python3 -m backup " + " ".join(options) + " " + source + " " + dest
    status = os.system(cmd)
    if status:
        print("backup command failed:", cmd, file=sys.stderr)
    return status


def run_restore(dest, target, at="now"):
    return os.system(f"python3 -m backup --restore-as-of {at} {dest} {target}")


def cleanup():
    for directory in (OUTPUT, "testfiles/restore", "testfiles/extra"):
        os.system("rm -rf " + directory)
