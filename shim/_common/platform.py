"""Platform facts, in one place.

Everything the shim needs to know about the operating system and its C
library is decided here, once, at import time.
"""

import os
import sys
from typing import Optional, Tuple

__all__ = [
    "GLIBC_VERSION",
    "IS_POSIX",
    "IS_WINDOWS",
    "SHELL_IS_DASH",
    "SHELL_NAME",
    "SHELL_PATH",
    "SYSTEM_PASSES_DASHDASH",
    "shell_free_reason",
]

IS_WINDOWS = sys.platform == "win32"
IS_POSIX = os.name == "posix"

#: The shell ``system(3)`` runs, and the ``argv[0]`` it gives it (so ``$0`` is
#: ``sh`` and the shell's messages start ``sh: 1: ...``).
SHELL_PATH = b"/bin/sh"
SHELL_NAME = b"sh"


def _glibc_version() -> Optional[Tuple[int, int]]:
    try:
        text = os.confstr("CS_GNU_LIBC_VERSION")  # "glibc 2.36"
    except (AttributeError, ValueError, OSError):
        return None
    if not text or not text.startswith("glibc "):
        return None
    try:
        major, minor = text.split()[1].split(".")[:2]
        return int(major), int(minor)
    except ValueError:
        return None


GLIBC_VERSION = _glibc_version() if IS_POSIX else None

#: glibc 2.38 changed ``system()`` to run ``sh -c -- command``, so that a
#: command starting with ``-`` is not read as an option.  musl, macOS and
#: older glibc run ``sh -c command``.  We match the C library in use.
SYSTEM_PASSES_DASHDASH = GLIBC_VERSION is not None and GLIBC_VERSION >= (2, 38)


def _shell_is_dash() -> bool:
    try:
        target = os.path.realpath(SHELL_PATH)
    except (OSError, ValueError):
        return False
    return os.path.basename(target).startswith(b"dash")


#: Whether /bin/sh is dash (Debian, Ubuntu).  Running a command without the
#: shell reproduces dash's behaviour (its signal reports, the environment it
#: passes on), so ``shell="auto"`` only skips the shell when it is dash.
SHELL_IS_DASH = IS_POSIX and _shell_is_dash()


def shell_free_reason() -> Optional[str]:
    """Why no command can run without ``/bin/sh`` here, or ``None`` when some can.

    A command run without the shell gets what dash would have handed it
    (its environment, its signal mask, its report of a killed program), so
    ``shell="auto"`` skips the shell only where ``/bin/sh`` is dash.  Tests
    and ``shim doctor`` ask this rather than the shell's name.
    """
    if not IS_POSIX:
        return "not a POSIX system"
    if not SHELL_IS_DASH:
        return "/bin/sh is not dash"
    return None
