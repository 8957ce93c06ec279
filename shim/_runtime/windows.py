"""The Windows flavour of ``os.system``.

On Windows ``os.system`` calls the C runtime's ``_wsystem``: it runs
``%COMSPEC% /c command`` (``cmd.exe`` when COMSPEC is unset), accepts only
``str``, raises the ``os.system`` audit event with that ``str``, and returns
the exit code itself rather than a wait status.

The functions here are pure so they can be tested on any platform; only
:func:`run` needs Windows.
"""

import ntpath
import subprocess
from typing import Any, Callable, Mapping, Tuple

__all__ = ["command_line", "comspec", "run"]


def comspec(environ: Mapping[str, str]) -> str:
    """The command interpreter ``system()`` starts: COMSPEC, else ``cmd.exe``."""
    value = environ.get("COMSPEC", "")
    return value if value.strip() else "cmd.exe"


def command_line(command: str, environ: Mapping[str, str]) -> Tuple[str, str]:
    """``(program, command line)`` as the C runtime builds them for ``system(command)``."""
    program = comspec(environ)
    return program, f"{program} /c {command}"


def run(
    command: str, environ: Mapping[str, str], *, spawn: Callable[..., Any] = subprocess.Popen
) -> int:
    """Run ``command`` as ``_wsystem`` does and return its exit code.

    -1 when the interpreter cannot be started, as ``_wsystem`` returns.
    ``spawn`` is ``subprocess.Popen``; it is a parameter so that this logic
    can be checked on a machine without Windows.
    """
    program, line = command_line(command, environ)
    try:
        # spawnve takes an absolute COMSPEC as it is; "cmd.exe" is searched for.
        executable = program if ntpath.isabs(program) else None
        proc = spawn(line, executable=executable, close_fds=False)
    except OSError:
        return -1
    return int(proc.wait())
