"""Restore files from an increment directory."""

import os
import posix


class Restorer:
    def __init__(self, root, target):
        self.root = root
        self.target = target

    def prepare(self):
        os.system("mkdir -p %s" % self.target)
        os.system("chmod 700 " + self.target)
        # sudo may ask for a password on the terminal: keep os.system here.
        os.system("sudo chown -R root %s" % self.target)  # shim: ignore

    def copy_tree(self, relative):
        source = os.path.join(self.root, relative)
        return os.system("cp -a %s %s" % (source, self.target)) == 0

    def verify(self, relative):
        result = posix.system("cmp -s %s %s" % (os.path.join(self.root, relative),
                                                os.path.join(self.target, relative)))
        return not result

    def list_increments(self):
        return [line.strip() for line in os.popen("ls -1 %s/increments" % self.root)]

    def remove_old(self, keep):
        increments = self.list_increments()
        for name in increments[:-keep]:
            os.system("rm -rf %s/increments/%s" % (self.root, name))

    def disk_usage(self):
        return os.popen("du -sh " + self.root).read().split("\t")[0]
