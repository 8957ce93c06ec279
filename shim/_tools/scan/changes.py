"""What a rewrite changes: the behaviours a replacement of ``os.system`` or ``os.popen`` differs in.

Every rewrite that ``shim fix`` makes and every suggestion that ``shim scan``
and ``shim report`` show is labelled with the codes of the behaviours it
changes.  A *safe* rewrite has none; an *unsafe* one lists each, and
``shim fix`` applies it only with ``--unsafe-fixes``.

Some differences come with leaving ``os.system`` at all: ``system(3)``
ignores Ctrl-C in the caller and hands the shell every inheritable
descriptor, and no ``subprocess`` call written in one expression can do
that.  They are not labels of one rewrite but of the migration itself, the
same for every call: :data:`EVERY_SYSTEM_REWRITE` lists them, and the
output of ``shim fix`` and the documentation state them once.
"""

from __future__ import annotations

from typing import Dict, Iterable, List, Tuple

__all__ = [
    "CHANGES",
    "ENVIRONMENT",
    "EVERY_POPEN_REWRITE",
    "EVERY_SYSTEM_REWRITE",
    "PROGRAM_NOT_STARTED",
    "SIGNAL_REPORT",
    "WAITS_FOR_EXIT",
    "WORD_SPLITTING",
    "describe",
]

PROGRAM_NOT_STARTED = "program-not-started"
SIGNAL_REPORT = "signal-report"
ENVIRONMENT = "environment"
WORD_SPLITTING = "word-splitting"
WAITS_FOR_EXIT = "waits-for-exit"

#: Code -> what changes, in one line.
CHANGES: Dict[str, str] = {
    PROGRAM_NOT_STARTED: (
        "a program that cannot be started (not found, not executable, a script without #!) "
        "raises OSError (FileNotFoundError, PermissionError) where the shell printed "
        "'sh: 1: prog: not found' and os.system returned 127 << 8 (126 << 8)"
    ),
    SIGNAL_REPORT: (
        "a program killed by a signal: nothing on stderr and returncode -N, where the shell "
        "printed 'Killed' (or the signal's name) and os.system returned (128 + N) << 8"
    ),
    ENVIRONMENT: (
        "the program gets Python's environment and signal mask as they are; the shell "
        "dropped variables whose names are not shell names, set PWD, and unblocked signals"
    ),
    WORD_SPLITTING: (
        "each interpolated value is passed as one argument; the shell split it at blanks, "
        "removed its quotes, expanded its $, *, ? and ~, and dropped it when empty"
    ),
    WAITS_FOR_EXIT: (
        "waits for the command to exit before the output is returned; os.popen's file "
        "returned it at the end of the output and left the process to be collected later"
    ),
}

#: What every rewrite of os.system to subprocess changes, whatever its tier.
EVERY_SYSTEM_REWRITE: Tuple[str, ...] = (
    (
        "Ctrl-C or Ctrl-\\ while a command runs: os.system ignored SIGINT and SIGQUIT in "
        "Python and returned the status; subprocess raises KeyboardInterrupt "
        "(Ctrl-\\ ends Python)"
    ),
    (
        "shell=True runs /bin/sh with $0 set to '/bin/sh': the shell's own messages read "
        "'/bin/sh: 1: ...' instead of 'sh: 1: ...'; glibc 2.38 and later also passed '--' "
        "before the command (only a command starting with '-' or '+' tells)"
    ),
    (
        "file descriptors marked inheritable are closed in the child (close_fds=True), and "
        "the child gets the default SIGPIPE and SIGXFSZ handling (restore_signals=True) "
        "instead of Python's 'ignore' (so 'yes | head -1' no longer prints 'Broken pipe')"
    ),
    "with SIGCHLD set to SIG_IGN, os.system returned -1; subprocess reports 0",
    (
        "a shell killed by a signal that dumps core: os.system's status had 0x80 set, "
        "returncode cannot say it (a status rebuilt from it lacks the bit)"
    ),
    (
        "a command that is not str or bytes (a bug in the program): a different exception "
        "or message; an os.PathLike command raises TypeError with shell=True"
    ),
)

#: What every rewrite of os.popen changes (os.popen is subprocess.Popen already).
EVERY_POPEN_REWRITE: Tuple[str, ...] = (
    (
        "a command that is not a str: os.popen raised TypeError, subprocess.Popen runs bytes "
        "and raises a different TypeError for anything else"
    ),
)


def describe(codes: Iterable[str]) -> List[str]:
    """``code: what changes`` for each code, in order."""
    return [f"{code}: {CHANGES[code]}" for code in codes]
