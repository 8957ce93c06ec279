"""What tests assume about the platform, as skip markers that say it.

A test that needs dash, a C compiler, Chromium, root (or not being root),
glibc or shell-free execution carries one of these markers, so that a run
on another platform (another ``/bin/sh``, musl, a minimal image) skips it
with the reason instead of failing.  Where a test compares the shim with
the platform's own behaviour, :func:`status_of_a_command_killed_by` gives
the number the platform's real ``/bin/sh`` produces.
"""

import os
import shutil
import subprocess
import sys

import pytest
from shim._common import platform as _platform

POSIX = os.name == "posix"
IS_ROOT = POSIX and os.geteuid() == 0

#: dash itself, installed even where /bin/sh is another shell (Debian).
DASH = shutil.which("dash") or ("/bin/sh" if _platform.SHELL_IS_DASH else None)
BASH = shutil.which("bash")
COMPILER = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

needs_dash = pytest.mark.skipif(
    DASH is None, reason="compares with dash's own behaviour, and dash is not installed"
)
needs_bash = pytest.mark.skipif(BASH is None, reason="bash is not installed")
needs_compiler = pytest.mark.skipif(
    COMPILER is None, reason="needs a C compiler (cc, gcc or clang) for a small test program"
)
#: In CI a missing browser fails the test instead (it must be installed there).
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None and not IN_CI,
    reason="headless Chromium renders the HTML report (Debian package 'chromium'; "
    ".ci/run installs it); the rendering does not depend on the platform",
)
needs_non_root = pytest.mark.skipif(
    IS_ROOT, reason="root reads and executes any file, whatever its permissions"
)
#: The migration tools (shim._tools.unavailable says why); test modules that
#: are only about them are not collected there at all (conftest.py).
needs_tools = pytest.mark.skipif(
    sys.version_info < (3, 8), reason="the migration tools (scan, report, fix) need Python 3.8+"
)
needs_glibc = pytest.mark.skipif(
    _platform.GLIBC_VERSION is None, reason="compares with glibc's system(3)"
)
#: Shell-free execution (``shell="auto"`` skipping /bin/sh) where the platform
#: supports it; the reason is the platform module's own.
needs_shell_free = pytest.mark.skipif(
    _platform.shell_free_reason() is not None,
    reason=f"shell-free runs are not available here: {_platform.shell_free_reason()}",
)


def status_of_a_command_killed_by(sig: int) -> int:
    """What ``os.system`` returns here when its single command is killed by ``sig``.

    dash runs the command as its child and exits with 128 + ``sig``
    (``(128 + sig) << 8``); bash and BusyBox ash exec a single simple command
    in place of themselves, so the status is the signal's own (``sig``).
    Asked of the real ``/bin/sh``, with the signal at its default.
    """
    inner = f"{shutil.which('sh') or '/bin/sh'} -c 'kill -{int(sig)} $$'"
    proc = subprocess.run(["/bin/sh", "-c", inner], stdout=subprocess.DEVNULL, check=False)
    code = proc.returncode
    return -code if code < 0 else code << 8

