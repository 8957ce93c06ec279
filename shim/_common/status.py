"""Wait-status arithmetic.

``os.system`` returns the raw status ``waitpid`` reports, not an exit code:
the exit code shifted left by 8, or the signal number in the low 7 bits plus
0x80 when a core was dumped.  ``subprocess`` reports ``returncode`` instead
(the exit code, or minus the signal number, with the core bit lost).
"""

from typing import Optional

__all__ = [
    "SHELL_START_FAILED",
    "WAIT_FAILED",
    "core_dumped",
    "exit_code",
    "from_returncode",
    "returncode",
    "term_signal",
]

#: What ``system(3)`` returns when the shell cannot be started at all: as if
#: the shell had called ``_exit(127)`` (POSIX).
SHELL_START_FAILED = 127 << 8

#: What ``system(3)`` returns when the status cannot be collected, e.g. when
#: SIGCHLD is ignored and the kernel reaped the child itself.
WAIT_FAILED = -1


def exit_code(status: int) -> Optional[int]:
    """The exit code of a normal exit, else ``None``."""
    if status < 0 or status & 0x7F:
        return None
    return (status >> 8) & 0xFF


def term_signal(status: int) -> Optional[int]:
    """The signal that killed the process, else ``None``."""
    if status < 0:
        return None
    sig = status & 0x7F
    if sig in {0, 0x7F}:  # 0x7f marks a stopped process, not a death
        return None
    return sig


def core_dumped(status: int) -> bool:
    """Whether the process dumped core."""
    return status >= 0 and term_signal(status) is not None and bool(status & 0x80)


def from_returncode(returncode: int) -> int:
    """The wait status that a ``Popen.returncode`` stands for (the core bit is lost)."""
    if returncode < 0:
        return -returncode & 0x7F
    return (returncode & 0xFF) << 8


def returncode(status: int) -> int:
    """The ``Popen.returncode`` that matches a wait status."""
    sig = term_signal(status)
    if sig is not None:
        return -sig
    code = exit_code(status)
    return code if code is not None else status
