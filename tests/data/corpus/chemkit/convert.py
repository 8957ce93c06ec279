"""Format conversion and property calculation with command-line chemistry tools."""

import os
import tempfile

BABEL = "obabel"


def convert(infile, informat, outfile, outformat, extra=""):
    cmd = "%s -i%s %s -o%s -O %s %s" % (BABEL, informat, infile, outformat, outfile, extra)
    rc = os.system(cmd)
    return rc == 0


def add_hydrogens(infile, outfile):
    os.system("obabel %s -O %s -h" % (infile, outfile))


def gen3d(smiles, outfile):
    os.system('obabel -:"%s" -O %s --gen3d' % (smiles, outfile))


def minimize(infile, outfile, steps=500):
    os.system(f"obminimize -n {steps} -ff MMFF94 {infile} > {outfile}")


def descriptors(infile):
    out = os.popen("obprop " + infile).read()
    values = {}
    for line in out.splitlines():
        if line.strip():
            key, _, value = line.partition(" ")
            values[key] = value.strip()
    return values


def canonical_smiles(infile):
    return os.popen("obabel %s -ocan" % infile).read().split()[0]


def split_sdf(sdf_file, outdir):
    os.system("mkdir -p " + outdir)
    return os.system("obabel " + sdf_file + " -O " + outdir + "/mol.sdf -m") >> 8


def charges(infile, method="gasteiger"):
    result = []
    for line in os.popen(f"obabel {infile} -oxyz --partialcharge {method} --append charges"):
        result.append(line.rstrip("\n"))
    return result


def fingerprint(infile):
    with tempfile.NamedTemporaryFile(suffix=".fpt") as handle:
        if os.system("obabel %s -ofpt -xf FP2 -O %s" % (infile, handle.name)) != 0:
            return None
        return handle.read()


def render_png(infile, png):
    status = os.system(
        "obabel " + infile
        + " -O " + png
        + " -xp 300"
    )
    return status
