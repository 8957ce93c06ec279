"""Docking runs with AutoDock Vina, the way the old scripts drove it."""

import os
import sys


def prepare_receptor(pdb, pdbqt):
    return os.system("prepare_receptor4.py -r %s -o %s -A hydrogens" % (pdb, pdbqt))


def prepare_ligand(mol2, pdbqt):
    status = os.system("prepare_ligand4.py -l %s -o %s" % (mol2, pdbqt))
    return os.WEXITSTATUS(status)


def dock(receptor, ligand, config, out, log):
    command = "vina --receptor %s --ligand %s --config %s --out %s --log %s" % (
        receptor, ligand, config, out, log)
    if os.system(command):
        sys.exit("vina failed")


def best_score(log):
    for line in os.popen("grep -A 3 'mode |' " + log).readlines()[2:3]:
        return float(line.split()[1])
    return None


def dock_all(receptor, ligands, config):
    for ligand in ligands:
        name = os.path.splitext(os.path.basename(ligand))[0]
        os.system("vina --receptor " + receptor + " --ligand " + ligand + " --config " + config
                  + " --out " + name + "_out.pdbqt > " + name + ".log")


if __name__ == "__main__":
    sys.exit(os.system("vina --version"))
