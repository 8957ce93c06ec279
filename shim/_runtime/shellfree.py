"""Running a program without ``/bin/sh`` exactly as the shell would have run it.

The syntax of a command (``shim._common.syntax``) says whether the shell
would do anything besides run one program.  This module answers the other
half, which no command string can show, for the running process:

* :func:`environment_reason`: whether the shell would hand the program a
  different environment or signal mask than the caller has;
* :func:`environment_order`: the one change dash always makes, the order of
  the environment variables;
* :func:`c_environment`: the environment the shell would inherit (the C
  ``environ``, which also holds what ``os.putenv`` set);
* :func:`locate`: the file the shell would execute;
* :func:`exec_surely_fits`: whether the kernel certainly lets ``/bin/sh -c``
  take the command (``execve`` refuses one too long with E2BIG, and plain
  ``os.system`` then runs nothing);
* :func:`shell_status`: what dash makes of a program's exit: it runs the
  program as its child, so a signal that kills the program becomes the
  shell's exit code 128 + n and a message on stderr.
"""

import os
import re
import signal
import stat
import sys
from typing import Any, Dict, Iterable, List, Mapping, NamedTuple, Optional, Sequence, Tuple

__all__ = [
    "ENVIRONMENT",
    "Snapshot",
    "c_environment",
    "environment_order",
    "environment_reason",
    "exec_surely_fits",
    "locate",
    "shell_status",
]

# Names dash imports from the environment; others it drops from the
# environment of the programs it runs.
_NAMES = re.compile(rb"(?:[A-Za-z_][A-Za-z0-9_]*=)*")
# Variables dash resets even when the environment sets them.
_RESET_BY_SHELL = (b"IFS", b"OPTIND", b"PPID")


def environment_reason(environ: Optional[Mapping[bytes, bytes]] = None) -> Optional[str]:
    """Why ``/bin/sh`` would start a program differently than a direct ``exec``.

    ``None`` when a program started directly, with this process's
    environment (``os.environb`` unless given) and the calling thread's
    signal mask, sees what it would see when started by dash.  Otherwise a
    reason, as for :func:`analyze`.  What dash changes (checked against it in
    the tests): it drops variables whose names are not shell names, sets
    ``PWD`` when it is not an absolute name of the current directory,
    resets ``IFS``, ``OPTIND`` and ``PPID``, searches its own default path
    when ``PATH`` is unset and reads ``%`` in ``PATH`` entries as options,
    and unblocks every signal before it runs a program.
    """
    if environ is None:
        # The dict behind os.environ and os.environb (bytes keys on POSIX):
        # a plain dict is several times faster to query than the mapping.
        environ = getattr(os.environ, "_data", None) or os.environb
    path = environ.get(b"PATH")
    if path is None:
        return "PATH is unset"
    if 0x25 in path:  # "%"
        return "'%' in PATH"
    for name in _RESET_BY_SHELL:
        if name in environ:
            return f"{name.decode('ascii')} is set"
    if _NAMES.fullmatch(b"=".join(environ) + b"=") is None:
        return "an environment variable name that is not a shell name"
    pwd = environ.get(b"PWD")
    if pwd is None or not pwd.startswith(b"/"):
        return "PWD does not name the current directory"
    try:
        # os.stat, not pathlib: this runs on every call and must stay cheap.
        here = os.stat(".")
        there = os.stat(pwd)
    except (OSError, ValueError):
        return "PWD does not name the current directory"
    if (here.st_dev, here.st_ino) != (there.st_dev, there.st_ino):
        return "PWD does not name the current directory"
    if signal.pthread_sigmask(signal.SIG_BLOCK, ()):
        return "blocked signals"
    return None


# dash's own variables (var.c, varinit[]), created before the environment is
# read; each is exported only when the environment has it.  This is dash as
# Debian and Ubuntu build it: without line editing ("SMALL", so no TERM and
# HISTSIZE entries; "fc" is not a builtin either), without ATTY, and with
# LINENO kept elsewhere.  The tests check this against the installed dash.
_DASH_VARIABLES = {
    name: rank
    for rank, name in enumerate(
        (b"IFS", b"MAIL", b"MAILPATH", b"PATH", b"PS1", b"PS2", b"PS4", b"OPTIND")
    )
}
_DASH_BUCKETS = 39  # var.c, VTABSIZE


def environment_order(names: Iterable[bytes]) -> List[bytes]:
    """Order environment variable names the way dash passes them to a program.

    ``names`` in the order of the environment dash starts with, all shell
    names (see :func:`environment_reason`).  dash keeps its variables in a
    hash table of 39 chains and builds a program's environment by walking
    it: chain by chain (the hash is the first byte times 16 plus the sum of
    the name's bytes), and in a chain first dash's own variables (``PATH``,
    ``TERM``, ...) in reverse order of creation, then the others in the
    order of the environment.  ``env`` run by ``sh -c`` prints in this
    order, not in the caller's.
    """
    keyed: List[Tuple[int, int, int, bytes]] = []
    for position, name in enumerate(names):
        bucket = ((name[0] << 4) + sum(name)) % _DASH_BUCKETS if name else 0
        rank = _DASH_VARIABLES.get(name)
        if rank is None:
            keyed.append((bucket, 1, position, name))
        else:
            keyed.append((bucket, 0, -rank, name))
    keyed.sort()
    return [key[3] for key in keyed]


# dash writes no message for these (jobs.c, sprint_status): an interrupted
# or a broken pipeline is not news.
_QUIET_SIGNALS = (signal.SIGINT, signal.SIGPIPE)


def shell_status(status: int) -> Tuple[int, bytes]:
    """Tell what ``sh -c`` (dash) reports for a program that ended with raw ``status``.

    Returns the status ``os.system`` gets from the shell and the bytes the
    shell writes to its stderr.  dash runs the program as its child and
    waits: an exit code passes through unchanged (no message); a program
    killed by signal n makes dash exit with 128 + n after writing the
    signal's description, ``strsignal(n)`` (cut at 32 bytes) plus
    `` (core dumped)`` when a core was dumped and a newline, except for
    SIGINT and SIGPIPE.  ``-1`` (status not collected) stays ``-1``.

    Not for a signal that reached the shell as well: Ctrl-C at a terminal
    goes to the whole foreground process group, and dash then dies of the
    signal itself, so ``os.system`` returns the signal (2), not 130 << 8.
    bash (``/bin/sh`` on some systems) replaces itself with the program of
    ``sh -c 'prog'`` and passes every status through as it is.
    """
    sig = status & 0x7F
    if status < 0 or sig in (0, 0x7F):  # exited, not collected, or stopped
        return status, b""
    code = ((128 + sig) & 0xFF) << 8
    if sig in _QUIET_SIGNALS:
        return code, b""
    text = (_strsignal(sig) or f"Unknown signal {sig}").encode()[:32]
    if status & 0x80:
        text += b" (core dumped)"
    return code, text + b"\n"


class Snapshot(NamedTuple):
    """The C environment at one moment, and what was derived from it."""

    entries: Tuple[Tuple[bytes, bytes], ...]
    names: Dict[bytes, bytes]
    #: In the order dash passes it to a program.
    ordered: Dict[bytes, bytes]
    #: Bytes of its strings for ``execve`` (``NAME=value`` and a NUL each).
    size: int
    #: The longest of them.
    longest: int


class _CEnvironment:
    """The C library's environment, read through ctypes, and what was derived from it.

    ``os.environ`` misses what ``os.putenv`` set and may differ from it in
    order, so the C ``environ`` array is read: that is what ``/bin/sh``
    would inherit.  Most programs call ``os.system`` many times with the
    same environment, so the mapping and dash's order of the last one seen
    are kept; a change anywhere in it (``os.putenv``, ``os.environ``) gives
    other entries, and the derivation is redone.

    Shared by every thread: each field is replaced by one assignment of a
    finished value, never changed in place, so a reader sees the old
    derivation or the new one, whole.
    """

    __slots__ = ("array", "last")

    def __init__(self) -> None:
        self.array: Any = None  # ctypes view of environ; False when unavailable
        self.last = Snapshot((), {}, {}, 0, 0)

    def entries(self) -> List[Tuple[bytes, bytes]]:
        """``(name, value)`` pairs, in the C environment's order."""
        array = self.array
        if array is None:
            try:
                import ctypes

                array = ctypes.POINTER(ctypes.c_char_p).in_dll(ctypes.CDLL(None), "environ")
            except (ImportError, OSError, ValueError, AttributeError):
                array = False
            self.array = array
        if array is False:
            return list(os.environb.items())
        found: List[Tuple[bytes, bytes]] = []
        index = 0
        while True:
            entry = array[index]
            if entry is None:
                return found
            name, sep, value = entry.partition(b"=")
            if sep:
                found.append((name, value))
            index += 1

    def current(self) -> Tuple[Dict[bytes, bytes], Dict[bytes, bytes]]:
        """The environment as a mapping, and in the order dash passes it on."""
        last = self.snapshot()
        return last.names, last.ordered

    def snapshot(self) -> "Snapshot":
        """The environment, its order for dash, and what ``execve`` counts of it."""
        entries = tuple(self.entries())
        last = self.last
        if last.entries != entries:
            names = dict(entries)
            ordered = {name: names[name] for name in environment_order(names)}
            sizes = [len(name) + len(value) + 2 for name, value in entries]  # "=" and NUL
            last = self.last = Snapshot(entries, names, ordered, sum(sizes), max(sizes, default=0))
        return last


#: The environment of this process, as the shell would see it.
ENVIRONMENT = _CEnvironment()


def _strsignal(sig: int) -> Optional[str]:
    """The C library's description of ``sig`` (``signal.strsignal`` from Python 3.8 on)."""
    found = getattr(signal, "strsignal", None)
    if found is not None:
        return found(sig)  # type: ignore[no-any-return]
    try:  # Python 3.6 and 3.7
        import ctypes

        libc = ctypes.CDLL(None)
        libc.strsignal.restype = ctypes.c_char_p
        text = libc.strsignal(sig)
    except (ImportError, OSError, AttributeError):
        return None
    return text.decode("utf-8", "replace") if text else None


def c_environment() -> List[Tuple[bytes, bytes]]:
    """The C library's environment, in its order: what ``/bin/sh`` would inherit."""
    return ENVIRONMENT.entries()


def locate(program: bytes, path: Optional[bytes]) -> Optional[bytes]:
    """The file dash would execute for ``program``: the first regular file on ``PATH``.

    A name with a slash is used as it is.  dash stops at the first regular
    file (executable or not) and runs it, as a script when it has no ``#!``
    line; Python's own search would go on to a later directory instead.
    ``None`` when there is no such file.
    """
    if b"/" in program:
        return program
    for directory in (path or b"").split(b":"):
        candidate = directory + b"/" + program if directory else program
        try:
            if stat.S_ISREG(os.stat(candidate).st_mode):
                return candidate
        except (OSError, ValueError):
            continue
    return None


# execve's limits (the kernel's fs/exec.c): each argument or environment
# string at most MAX_ARG_STRLEN, 32 pages; the strings, the file name and
# a pointer for each, at most a quarter of RLIMIT_STACK, capped at 6 MiB
# (from Linux 4.13 never less than 128 KiB, which this lower bound does not
# count on).  A margin covers what a kernel version adds to the count.
_PAGES_PER_ARGUMENT = 32
_POINTER = 8 if sys.maxsize > 2**32 else 4
_STACK_SHARE_CAP = 6 << 20
_MARGIN = 4096
_SMALL = 16 << 10


def exec_surely_fits(argv: Sequence[bytes], executable: bytes, environment: Snapshot) -> bool:
    """Whether ``execve`` certainly accepts ``argv`` with this environment.

    ``False`` near the limits or beyond them: then only trying tells (see
    :func:`shim._runtime.runner.shell_can_start`).
    """
    pointers = _POINTER * (len(argv) + len(environment.entries) + 2)
    total = len(executable) + 1 + environment.size + pointers
    longest = environment.longest
    for arg in argv:
        total += len(arg) + 1
        longest = max(longest, len(arg) + 1)
    if total <= _SMALL:
        return True
    try:
        page = os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):  # pragma: no cover - POSIX always has it
        page = 4096
    if longest > _PAGES_PER_ARGUMENT * page - _MARGIN:
        return False
    import resource

    stack = resource.getrlimit(resource.RLIMIT_STACK)[0]
    limit = _STACK_SHARE_CAP
    if stack != resource.RLIM_INFINITY:
        limit = min(stack // 4, limit)
    return total <= limit - _MARGIN
