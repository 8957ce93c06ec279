"""Batch jobs over a directory of models."""

import glob
import os
from os import system


def export_all(directory, out_directory):
    failures = 0
    for scad in sorted(glob.glob(os.path.join(directory, "*.scad"))):
        stl = os.path.join(out_directory, os.path.basename(scad)[:-5] + ".stl")
        if system("openscad -o %s %s" % (stl, scad)):
            failures += 1
    return failures


def zip_results(out_directory, archive):
    system(f"cd {out_directory} && zip -q -r {archive} .")


def open_viewer(stl_file):
    # runs in the background so the GUI does not block the batch
    system("meshlab %s &" % stl_file)


def count_triangles(stl_file):
    lines = os.popen("admesh --stats " + stl_file).readlines()
    for line in lines:
        if line.startswith("Number of facets"):
            return int(line.split(":")[1])
    return 0


def main(argv):
    directory, out_directory = argv[1], argv[2]
    system("mkdir -p " + out_directory)
    return export_all(directory, out_directory)
