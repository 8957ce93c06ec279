# The command line of the first release, still in Python 2 syntax: the
# scan must count it as unparsable, not skip it quietly.
import os
import sys

def main():
    if len(sys.argv) < 3:
        print "usage: backup SOURCE DEST"
        sys.exit(1)
    os.system("rsync -a %s %s" % (sys.argv[1], sys.argv[2]))
    print "done"
