"""``from os import *``: ``system`` and ``popen`` arrive without being named (for ``shim scan``)."""

# Written the way old code is, on purpose: modern lint rules do not apply.
# ruff: noqa: F403, F405

from os import *


def case_star_import():
    system("true")  # finds: os.system
