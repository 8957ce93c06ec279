"""Multiple sequence alignment with the usual programs."""

import os

MUSCLE = "muscle"
MAFFT = "mafft"


def muscle(infile, outfile, maxiters=16):
    cmd = MUSCLE + " -in " + infile + " -out " + outfile + " -maxiters " + str(maxiters)
    return os.system(cmd)


def mafft(infile, outfile, threads=4):
    os.system("%s --thread %d --auto %s > %s" % (MAFFT, threads, infile, outfile))


def clustal(infile, outfile):
    if os.system(f"clustalo -i {infile} -o {outfile} --force"):
        raise RuntimeError("clustal omega failed")


def trim(alignment, trimmed, gap_threshold=0.9):
    os.system("trimal -in %s -out %s -gt %s" % (alignment, trimmed, gap_threshold))


def count_sequences(fasta):
    return int(os.popen("grep -c '>' " + fasta).read())


def convert_to_phylip(fasta, phylip):
    status = os.system("seqret -sequence %s -outseq %s -osformat phylip" % (fasta, phylip))
    return status >> 8


def alignment_length(phylip):
    with os.popen("head -1 " + phylip) as handle:
        return int(handle.read().split()[1])
