"""Tree building, bootstrapping and drawing."""

import os
import sys
from os import system as run

RAXML = "raxmlHPC"


def raxml(phylip, name, model="GTRGAMMA", seed=12345):
    run("%s -s %s -n %s -m %s -p %d" % (RAXML, phylip, name, model, seed))


def bootstrap(phylip, name, replicates=100, seed=12345):
    command = "%s -f a -x %d -p %d -# %d -s %s -n %s -m GTRGAMMA" % (
        RAXML, seed, seed, replicates, phylip, name)
    status = run(command)
    if status:
        print("bootstrap failed:", status, file=sys.stderr)
    return status


def phyml(phylip, bootstraps=100):
    return run(f"phyml -i {phylip} -b {bootstraps} -m GTR --quiet") == 0


def fasttree(alignment, tree, nucleotide=True):
    flag = "-nt" if nucleotide else ""
    os.system("FastTree %s %s > %s" % (flag, alignment, tree))


def consensus(trees, out):
    os.system("sumtrees.py --output-tree-filepath=" + out + " " + " ".join(trees))


def draw(tree, image):
    if run("ete3 view -t %s --image %s" % (tree, image)):
        run("nw_display -s %s > %s.svg" % (tree, image))


def rename_leaves(tree, mapping_file, out):
    run("nw_rename " + tree + " " + mapping_file + " > " + out)


def program_versions():
    versions = {}
    for program in (RAXML, "phyml", "FastTree"):
        versions[program] = os.popen(program + " -v 2>&1").readline().strip()
    return versions


def main():
    sys.exit(run("raxmlHPC -v"))
