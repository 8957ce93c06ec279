"""Export models to STL, DXF and images with the external tools."""

import os
import shutil
import sys

OPENSCAD = "openscad"
ADMESH = "admesh"


def render_stl(scad_file, stl_file, defines=()):
    args = " ".join("-D %s" % d for d in defines)
    status = os.system("%s %s -o %s %s" % (OPENSCAD, args, stl_file, scad_file))
    if status != 0:
        raise RuntimeError("openscad failed with status %d" % status)
    return stl_file


def repair(stl_file):
    # admesh fixes normals and holes in place
    os.system(f"{ADMESH} --write-binary-stl={stl_file} --fill-holes {stl_file}")


def check_mesh(stl_file):
    if os.system("admesh --exact " + stl_file + " > /dev/null"):
        print("mesh has errors:", stl_file)
        return False
    return True


def to_dxf(stl_file, dxf_file, layer="0"):
    command = "stl2dxf --layer=%s %s %s" % (layer, stl_file, dxf_file)
    return os.system(command) == 0


def preview(scad_file, png_file, size=(800, 600)):
    width, height = size
    os.system(
        f"openscad --imgsize={width},{height} "
        f"--colorscheme=Tomorrow -o {png_file} {scad_file}"
    )


def thumbnail(png_file, thumb_file):
    return os.WEXITSTATUS(os.system("convert -resize 128x128 %s %s" % (png_file, thumb_file)))


def slice_for_printer(stl_file, gcode_file, profile):
    code = os.system("slic3r --load " + profile + " -o " + gcode_file + " " + stl_file) >> 8
    if code:
        sys.stderr.write("slicing failed (%d)\n" % code)
    return code


def version_of(tool):
    return os.popen(tool + " --version").read().strip()


def tools_present():
    missing = []
    for tool in (OPENSCAD, ADMESH, "convert"):
        if os.system("which %s > /dev/null 2>&1" % tool):
            missing.append(tool)
    return missing


def cleanup(workdir):
    os.system("rm -rf %s/*.tmp" % workdir)
    if os.path.isdir(workdir + "/cache"):
        shutil.rmtree(workdir + "/cache")
