"""Running a program without ``/bin/sh`` exactly as the shell would have run it.

The syntax of a command (``shim._common.syntax``) says whether the shell
would do anything besides run one program.  This module answers the other
half, which no command string can show, for the running process and for
the shell ``/bin/sh`` is (``shim._common.platform.shell``):

* :func:`plan`: how to start the program so that it gets what that shell
  would have handed it (the file, the environment in the shell's order,
  the signal dispositions, how its end is reported), or why that cannot be
  done;
* :func:`program_environment`: the environment alone, for a given
  environment (what the tests compare with the real shells);
* :data:`ENVIRONMENT`: the C environment the shell would inherit (which
  also holds what ``os.putenv`` set), read again only when it changed;
* :func:`locate`: the file the shell would execute;
* :func:`exec_surely_fits`: whether the kernel certainly lets ``/bin/sh -c``
  take the command (``execve`` refuses one too long with E2BIG, and plain
  ``os.system`` then runs nothing);
* :func:`shell_status`: what dash makes of a program's end.

What each shell does for ``sh -c 'prog args'``, measured with dash 0.5.12,
bash 5.2 and 5.3 started as ``sh``, and BusyBox 1.37 ``ash``, and checked
against the installed shells by the tests:

===========================  ===================  =====================  ===================
..                           dash                 bash                   BusyBox ash
===========================  ===================  =====================  ===================
the program runs             as its child         in its place (exec)    in its place (exec)
killed by signal n           exit 128 + n, and    the program's status   the program's status
                             a message
blocked signals              all unblocked        kept but SIGCHLD       kept
ignored signals              kept but SIGCHLD     kept                   kept but SIGCHLD,
                                                                         and SIGQUIT ignored
``PWD``                      the inherited value when it is absolute and names the working
                             directory (same device and inode), else the physical working
                             directory; exported either way
order of the environment     39 hash chains, its  1024 hash buckets,     as dash, with its
                             own variables first  newest first; names    own variables
                                                  that are not names
                                                  first, ``_`` last
names that are not names     dropped              passed on              dropped
``SHLVL``                    untouched            normalised, warns      incremented
                                                  from 999 on            (unsigned)
``_``                        untouched            the program's path     untouched
``OLDPWD``, not a directory  kept                 removed                kept
``PS1``, ``PS2``             kept                 removed                kept
===========================  ===================  =====================  ===================

Where reproducing would rest on a guess the answer is "use the shell", with
the reason: variables the shell resets or reads itself (``IFS``, ``PPID``,
``BASH_FUNC_name%%``, ``SHELLOPTS``, ...), an ``SHLVL`` or ``LC_ALL`` bash
would warn about, an unset ``PATH``, a working directory that cannot be
determined, and signal states a direct start cannot give the program.
"""

import _signal
import operator
import os
import re
import stat
import sys
from typing import Any, Dict, Iterable, List, Mapping, NamedTuple, Optional, Sequence, Tuple, Union

from shim._common import platform
from shim._common.platform import DASH_OWN, Shell

__all__ = [
    "ENVIRONMENT",
    "Launch",
    "Snapshot",
    "c_environment",
    "environment_order",
    "environment_reason",
    "exec_surely_fits",
    "locate",
    "plan",
    "program_environment",
    "shell_status",
]

_PWD = b"PWD"
_PATH = b"PATH"
_SHLVL = b"SHLVL"
_OLDPWD = b"OLDPWD"
_UNDERSCORE = b"_"

# Every name a shell name: the common case, decided by one match.
_NAMES = re.compile(rb"(?:[A-Za-z_][A-Za-z0-9_]*=)*")
_NAME = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*")

_NOT_A_NAME = "an environment variable name that is not a shell name"
_TWICE = "a variable set twice in the environment"
_NO_CWD = "the working directory cannot be determined"
_NOT_FOUND = "program not found on PATH"


class Launch(NamedTuple):
    """How to start a program so that it gets what the shell would have given it.

    ``executable``: the file, named as the shell names it to ``execve``;
    ``env``: the environment, in the shell's order (shared between calls:
    never change it); ``waits``: the shell would run the program as its
    child and report its end (dash), not replace itself with it (bash,
    BusyBox); ``ignore_quit``: the program must start with SIGQUIT ignored.
    """

    executable: bytes
    env: Dict[bytes, bytes]
    waits: bool
    ignore_quit: bool


# --- the C environment -----------------------------------------------------------------------


class Snapshot:
    """The C environment at one moment, and what each shell makes of it."""

    __slots__ = ("derived", "entries", "longest", "names", "size")

    def __init__(self, entries: Tuple[Tuple[bytes, bytes], ...]) -> None:
        self.entries = entries
        #: name -> value (a name set twice: the last value, in the first place).
        self.names: Dict[bytes, bytes] = dict(entries)
        sizes = [len(name) + len(value) + 2 for name, value in entries]  # "=" and NUL
        #: Bytes of its strings for ``execve`` (``NAME=value`` and a NUL each).
        self.size = sum(sizes)
        #: The longest of them.
        self.longest = max(sizes, default=0)
        #: Per shell: its :class:`_Model` of this environment, or why there is none.
        self.derived: Dict[Any, Any] = {}

    @property
    def ordered(self) -> Dict[bytes, bytes]:
        """The environment in the order dash passes it on (``shell="never"``)."""
        found = self.derived.get("dash order")
        if found is None:
            names = self.names
            found = self.derived["dash order"] = {n: names[n] for n in environment_order(names)}
        return found


class _CEnvironment:
    """The C library's environment, read through ctypes, and what was derived from it.

    ``os.environ`` misses what ``os.putenv`` set and may differ from it in
    order, so the C ``environ`` array is read: that is what ``/bin/sh``
    would inherit.  Most programs call ``os.system`` many times with the
    same environment, so the last :class:`Snapshot` is kept, with the
    array of pointers it was read from.  On glibc from Python 3.9 on, every
    change made through ``os.environ`` or ``os.putenv`` goes through
    ``setenv``/``unsetenv``, which replace a pointer, shift the array or
    move it, and never free a string: an unchanged array of pointers holds
    unchanged strings, and comparing the pointers is enough.  Elsewhere the
    strings are read and compared on every call.

    Shared by every thread: each field is replaced by one assignment of a
    finished value, never changed in place, so a reader sees the old
    derivation or the new one, whole.
    """

    __slots__ = ("array", "last", "pointers", "variable", "view_type")

    def __init__(self) -> None:
        self.array: Any = None  # ctypes view of environ; False when unavailable
        self.variable: Any = None  # the variable environ itself (c_void_p)
        self.view_type: Any = None  # POINTER(c_void_p), when pointers stand for strings
        #: (address of the array, a view of it, its pointers up to the NULL) of ``last``.
        self.pointers: Tuple[Optional[int], Any, Tuple[Optional[int], ...]] = (None, None, ())
        self.last = Snapshot(())

    def _attach(self) -> None:
        try:
            import ctypes

            libc = ctypes.CDLL(None)
            self.variable = ctypes.c_void_p.in_dll(libc, "environ")
            array = ctypes.POINTER(ctypes.c_char_p).in_dll(libc, "environ")
        except (ImportError, OSError, ValueError, AttributeError):
            self.array = False
            return
        if platform.GLIBC_VERSION is not None and sys.version_info >= (3, 9):
            self.view_type = ctypes.POINTER(ctypes.c_void_p)
        self.array = array

    def entries(self) -> List[Tuple[bytes, bytes]]:
        """``(name, value)`` pairs, in the C environment's order."""
        if self.array is None:
            self._attach()
        array = self.array
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

    def snapshot(self) -> Snapshot:
        """The environment now; the same object as long as it has not changed."""
        if self.array is None:
            self._attach()
        address, view, pointers = self.pointers
        # One pointer at a time, stopping at the first difference: no slot
        # past the array's terminating NULL is ever read.
        if (
            view is not None
            and self.variable.value == address
            and all(map(operator.eq, map(view.__getitem__, range(len(pointers))), pointers))
        ):
            return self.last
        # The pointers first: a change made while the strings are read then
        # shows as a difference next time.
        self.pointers = self._pointers()
        entries = tuple(self.entries())
        last = self.last
        if last.entries != entries:
            last = self.last = Snapshot(entries)
        return last

    def _pointers(self) -> Tuple[Optional[int], Any, Tuple[Optional[int], ...]]:
        view_type = self.view_type
        if view_type is None:
            return None, None, ()
        address = self.variable.value
        if not address:
            return None, None, ()
        import ctypes

        view = ctypes.cast(address, view_type)
        found: List[Optional[int]] = []
        index = 0
        while True:
            pointer = view[index]
            found.append(pointer)
            if pointer is None:
                return address, view, tuple(found)
            index += 1

    def current(self) -> Tuple[Dict[bytes, bytes], Dict[bytes, bytes]]:
        """The environment as a mapping, and in the order dash passes it on."""
        last = self.snapshot()
        return last.names, last.ordered


#: The environment of this process, as the shell would see it.
ENVIRONMENT = _CEnvironment()


def c_environment() -> List[Tuple[bytes, bytes]]:
    """The C library's environment, in its order: what ``/bin/sh`` would inherit."""
    return ENVIRONMENT.entries()


# --- the order each shell passes the environment in ---------------------------------------------

# The shells' own variables (created before the environment is read, each
# exported only when the environment has it): dash's as Debian builds it,
# BusyBox ash's as its build has them (platform.shell() asks it).
_ASH_BUCKETS = 39  # VTABSIZE


def _ash_order(names: Iterable[bytes], own: Sequence[bytes]) -> List[bytes]:
    """Dash's and BusyBox ash's order: hash chains, in each its own variables first."""
    ranks = {name: rank for rank, name in enumerate(own)}
    keyed: List[Tuple[int, int, int, bytes]] = []
    for position, name in enumerate(names):
        bucket = ((name[0] << 4) + sum(name)) % _ASH_BUCKETS if name else 0
        rank = ranks.get(name)
        if rank is None:
            keyed.append((bucket, 1, position, name))
        else:
            keyed.append((bucket, 0, -rank, name))
    keyed.sort()
    return [key[3] for key in keyed]


def environment_order(names: Iterable[bytes]) -> List[bytes]:
    """Order environment variable names the way dash passes them to a program.

    ``names`` in the order of the environment dash starts with, all shell
    names.  dash keeps its variables in a hash table of 39 chains and
    builds a program's environment by walking it: chain by chain (the hash
    is the first byte times 16 plus the sum of the name's bytes), and in a
    chain first dash's own variables (``PATH``, ``IFS``, ...) in reverse
    order of creation, then the others in the order they were created: the
    order of the environment, then the variables dash adds (``PWD``).
    """
    return _ash_order(names, DASH_OWN)


_FNV_OFFSET = 2166136261
_FNV_PRIME = 16777619


def _bash_hash(name: bytes) -> int:
    """Bash's ``hash_string`` (FNV-1, 32 bits) of an ASCII name."""
    value = _FNV_OFFSET
    for byte in name:
        value = ((value * _FNV_PRIME) & 0xFFFFFFFF) ^ byte
    return value


# bash's tables: shell variables in 1024 buckets, names that are not shell
# names in 64 (variables.c, hashlib.c); each grows when it holds twice as
# many entries as buckets, which would reorder it.
_BASH_BUCKETS = 1024
_BASH_INVALID_BUCKETS = 64


def _bash_order(names: Sequence[bytes]) -> List[bytes]:
    """Bash's order: names that are not names first, then the variables, by bucket.

    ``names`` in the order bash creates them.  Each table is walked bucket
    by bucket, newest first within a bucket (``hash_insert`` puts a new
    entry at the head of its chain).
    """
    keyed = []
    for position, name in enumerate(names):
        if _NAME.fullmatch(name):
            keyed.append((1, _bash_hash(name) & (_BASH_BUCKETS - 1), -position, name))
        else:
            keyed.append((0, _bash_hash(name) & (_BASH_INVALID_BUCKETS - 1), -position, name))
    keyed.sort()
    return [key[3] for key in keyed]


# --- what each shell makes of an environment ------------------------------------------------------


def _working_directory(pwd: Optional[bytes]) -> Optional[bytes]:
    """The ``PWD`` a shell starts with: ``pwd`` when it names ``.``, else the physical one.

    ``None`` when the working directory cannot be determined.
    """
    if pwd is not None and pwd[:1] == b"/":
        try:
            there = os.stat(pwd)
            here = os.stat(".")
        except (OSError, ValueError):
            pass
        else:
            if there.st_ino == here.st_ino and there.st_dev == here.st_dev:
                return pwd
    try:
        return os.getcwdb()
    except OSError:
        return None


def _is_directory(path: bytes) -> bool:
    try:
        return stat.S_ISDIR(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


class _Model:
    """What one shell hands a program, for one environment, but for what varies per call.

    ``template`` is the environment in the shell's order, ``PWD`` at its
    place with the inherited value (or none); per call :meth:`environment`
    fills in ``PWD`` (the working directory may have changed), ``_`` (bash:
    the program's path) and drops ``OLDPWD`` when it no longer names a
    directory (bash).
    """

    __slots__ = ("cache", "kind", "oldpwd", "path", "pwd", "template", "underscore")

    def __init__(
        self,
        kind: str,
        template: Dict[bytes, bytes],
        pwd: Optional[bytes],
        path: bytes,
        *,
        oldpwd: Optional[bytes] = None,
        underscore: bool = False,
    ) -> None:
        self.kind = kind
        self.template = template
        self.pwd = pwd
        self.path = path
        self.oldpwd = oldpwd
        self.underscore = underscore
        self.cache: Dict[Tuple[bytes, bool, bytes], Dict[bytes, bytes]] = {}

    def environment(self, executable: bytes) -> Union[Dict[bytes, bytes], str]:
        """The environment for a program the shell executes as ``executable``."""
        pwd = _working_directory(self.pwd)
        if pwd is None:
            return _NO_CWD
        template = self.template
        keep_old = self.oldpwd is None or _is_directory(self.oldpwd)
        if not self.underscore and keep_old and pwd == self.pwd:
            return template
        key = (pwd, keep_old, executable if self.underscore else b"")
        cache = self.cache
        found = cache.get(key)
        if found is None:
            found = dict(template)
            found[_PWD] = pwd
            if not keep_old:
                del found[_OLDPWD]
            if self.underscore:
                found[_UNDERSCORE] = executable
            if len(cache) >= 64:
                cache.clear()
            cache[key] = found
        return found


def _common_reason(
    names: Dict[bytes, bytes], entries: Sequence[Tuple[bytes, bytes]]
) -> Optional[str]:
    path = names.get(_PATH)
    if path is None:
        return "PATH is unset"
    if len(names) != len(entries):
        return _TWICE
    if b"" in names:
        return _NOT_A_NAME
    return None


# Variables dash and BusyBox ash reset from the environment (and dash reads
# OPTIND as a number).
_ASH_RESETS = (b"IFS", b"OPTIND", b"PPID")


def _ash_model(kind: str, snapshot: Snapshot, own: Sequence[bytes]) -> Union[_Model, str]:
    names = snapshot.names
    reason = _common_reason(names, snapshot.entries)
    if reason is not None:
        return reason
    path = names[_PATH]
    if 0x25 in path:  # "%": a PATH entry ending in %builtin is an option to ash
        return "'%' in PATH"
    for name in _ASH_RESETS:
        if name in names:
            return f"{name.decode('ascii')} is set"
    # Names that are not shell names are not imported, so not passed on.
    kept = list(names)
    if _NAMES.fullmatch(b"=".join(kept) + b"=") is None:
        kept = [name for name in kept if _NAME.fullmatch(name)]
    values = dict(names)
    pwd = names.get(_PWD)
    if kind == "busybox":
        # ash.c init(): SHLVL is set (as an unsigned number, from atoi()),
        # then PWD, each a new variable when the environment lacked it.
        level = _busybox_shlvl(names.get(_SHLVL))
        if level is None:
            return "SHLVL out of the range BusyBox counts in"
        if _SHLVL not in names:
            kept.append(_SHLVL)
        values[_SHLVL] = level
    if pwd is None:
        kept.append(_PWD)
        values[_PWD] = b""
    template = {name: values[name] for name in _ash_order(kept, own)}
    return _Model(kind, template, pwd, path)


_ATOI = re.compile(rb"[ \t\n\v\f\r]*([+-]?[0-9]+)")


def _busybox_shlvl(value: Optional[bytes]) -> Optional[bytes]:
    """``utoa(atoi(SHLVL) + 1)``, or ``None`` where ``atoi`` would overflow an int."""
    number = 0
    if value is not None:
        found = _ATOI.match(value)
        if found is not None:
            number = int(found.group(1))
    if not -(2**31) <= number < 2**31 - 1:
        return None
    return str((number + 1) & 0xFFFFFFFF).encode()


# Variables bash sets, resets or reads for itself at start-up (checked
# against bash 5.2 and 5.3: with each of them in the environment, the
# program would not get what shim computes), and every name that starts
# with BASH (BASH_FUNC_name%% is an exported function, which bash would run
# instead of the program of the same name; BASH_ENV, BASHOPTS, BASH_COMPAT,
# BASH_XTRACEFD, ...).
_BASH_OWN = frozenset(
    b"COMP_WORDBREAKS DIRSTACK EPOCHREALTIME EPOCHSECONDS EUID EXECIGNORE FUNCNAME GROUPS"
    b" HISTCMD IFS LINENO OPTERR OPTIND PIPESTATUS POSIXLY_CORRECT PPID PS4 RANDOM SECONDS"
    b" SHELLOPTS SRANDOM UID".split()
)
# Removed from the environment of a non-interactive bash.
_BASH_DROPS = (b"PS1", b"PS2")
# variables.c: hash_create(64) for the invalid names, 1024 buckets for the
# variables; past twice that many entries a table grows and is reordered.
_BASH_MOST_INVALID = 100
_BASH_MOST = 1500
_BASH_LEGAL_NUMBER = re.compile(rb"[ \t\n\v\f\r]*([+-]?[0-9]+)[ \t]*")


def _bash_model(snapshot: Snapshot) -> Union[_Model, str]:
    names = snapshot.names
    reason = _common_reason(names, snapshot.entries)
    if reason is not None:
        return reason
    path = names[_PATH]
    if path.startswith(b"~") or b":~" in path:
        return "'~' in PATH"
    invalid = 0
    for name in names:
        if name.startswith(b"BASH"):
            if name.startswith(b"BASH_FUNC_"):
                return f"an exported bash function ({os.fsdecode(name)})"
            return f"{os.fsdecode(name)} is set"
        if name in _BASH_OWN:
            return f"{name.decode('ascii')} is set"
    if _NAMES.fullmatch(b"=".join(names) + b"=") is None:
        for name in names:
            if not _NAME.fullmatch(name):
                if max(name) >= 0x80:
                    # Hashed as signed or unsigned char, as the C compiler chose.
                    return _NOT_A_NAME
                invalid += 1
    if invalid > _BASH_MOST_INVALID or len(names) > _BASH_MOST:
        return "too many environment variables"
    lc_all = names.get(b"LC_ALL")
    if lc_all and not _locale_loads(lc_all):
        return "LC_ALL names a locale bash would warn about"
    level = _bash_shlvl(names.get(_SHLVL))
    if level is None:
        return "SHLVL at which bash would warn"
    created = [name for name in names if name not in _BASH_DROPS]
    values = dict(names)
    pwd = names.get(_PWD)
    if pwd is None:
        created.append(_PWD)
        values[_PWD] = b""
    if _SHLVL not in names:
        created.append(_SHLVL)
    values[_SHLVL] = level
    order = _bash_order(created)
    underscore = _UNDERSCORE in names
    if not underscore:
        # Added to the environment last, when the program is executed.
        order.append(_UNDERSCORE)
        values[_UNDERSCORE] = b""
    template = {name: values[name] for name in order}
    oldpwd = names.get(_OLDPWD)
    return _Model("bash", template, pwd, path, oldpwd=oldpwd, underscore=True)


def _bash_shlvl(value: Optional[bytes]) -> Optional[bytes]:
    """The ``SHLVL`` bash passes to a program it executes in its place.

    bash adds one at start-up and takes it back when it replaces itself
    with the program; a value that is not a number counts as 0, and the
    level never goes below 0.  ``None`` from 999 on: bash would warn
    "shell level (1000) too high".
    """
    number = 0
    if value:
        found = _BASH_LEGAL_NUMBER.fullmatch(value)
        if found is not None:
            number = int(found.group(1))
            if not -(2**63) <= number < 2**63:
                number = 0  # strtoimax: ERANGE, not a legal number
    if number >= 999:
        return None
    return str(max(number, 0)).encode()


_locales: Dict[bytes, bool] = {}


def _locale_loads(name: bytes) -> bool:
    """Whether the C library can load the locale ``name`` (``setlocale(LC_ALL, name)``)."""
    found = _locales.get(name)
    if found is not None:
        return found
    found = False
    if platform.GLIBC_VERSION is not None:
        try:
            import ctypes

            libc = ctypes.CDLL(None)
            libc.newlocale.restype = ctypes.c_void_p
            libc.newlocale.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)
            libc.freelocale.argtypes = (ctypes.c_void_p,)
            handle = libc.newlocale(_GLIBC_LC_ALL_MASK, name, None)
            if handle:
                libc.freelocale(handle)
                found = True
        except (ImportError, OSError, AttributeError):
            found = False
    if len(_locales) < 64:
        _locales[name] = found
    return found


# glibc's LC_ALL_MASK: one bit per category (locale.h), LC_ALL's own bit (6) excluded.
_GLIBC_LC_ALL_MASK = 0x1FFF & ~(1 << 6)


def _model(shell: Shell, snapshot: Snapshot) -> Union[_Model, str]:
    found = snapshot.derived.get(shell)
    if found is None:
        if shell.kind == "bash":
            found = _bash_model(snapshot)
        else:
            found = _ash_model(shell.kind, snapshot, shell.own)
        snapshot.derived[shell] = found
    return found


_DASH = Shell("dash", (), "dash", DASH_OWN)
_BASH = Shell("bash", (), "bash")


def _as_shell(shell: Union[Shell, str]) -> Shell:
    if isinstance(shell, Shell):
        return shell
    if shell == "bash":
        return _BASH
    if shell == "dash":
        return _DASH
    raise ValueError(f"say which {shell} it is: pass a platform.Shell")


# --- signals ------------------------------------------------------------------------------------

_SIGCHLD = _signal.SIGCHLD
_SIGQUIT = _signal.SIGQUIT
_SIG_IGN = _signal.SIG_IGN
_NOTHING: Tuple[int, ...] = ()


def _signal_reason(kind: str, held: bool) -> Union[bool, str]:
    """Why the program cannot start with the signal state the shell would give it.

    Otherwise whether it must start with SIGQUIT ignored.  Only the main
    thread can change dispositions (``held``).
    """
    if kind == "bash":
        if _SIGCHLD in _signal.pthread_sigmask(_signal.SIG_BLOCK, _NOTHING):
            return "SIGCHLD is blocked"
        return False
    if _signal.getsignal(_SIGCHLD) == _SIG_IGN:
        return "SIGCHLD is ignored"
    if kind == "dash":
        if _signal.pthread_sigmask(_signal.SIG_BLOCK, _NOTHING):
            return "blocked signals"
        return False
    # BusyBox ash ignores SIGQUIT for itself and keeps it ignored when it
    # replaces itself with the program.
    if _signal.getsignal(_SIGQUIT) == _SIG_IGN:
        return False
    if not held:
        return "SIGQUIT would be ignored, which only the main thread can arrange"
    return True


# --- the plan -------------------------------------------------------------------------------------


def plan(argv: Sequence[bytes], shell: Shell, snapshot: Snapshot, held: bool) -> Union[Launch, str]:
    """How to run ``argv`` as ``shell`` would, with this environment.

    ``shell``: what ``/bin/sh`` is (dash, bash or BusyBox ash); ``held``:
    the calling thread holds the signal dispositions (the main thread).
    Returns a :class:`Launch`, or the reason to leave the command to the
    shell.
    """
    model = _model(shell, snapshot)
    if model.__class__ is str:
        return model  # type: ignore[return-value]
    kind = shell.kind
    quit_ignored = _signal_reason(kind, held)
    if quit_ignored.__class__ is str:
        return quit_ignored  # type: ignore[return-value]
    executable = locate(argv[0], model.path, kind)  # type: ignore[union-attr]
    if executable is None:
        return _NOT_FOUND
    env = model.environment(executable)  # type: ignore[union-attr]
    if env.__class__ is str:
        return env  # type: ignore[return-value]
    return Launch(executable, env, kind == "dash", quit_ignored is True)  # type: ignore[arg-type]


def program_environment(
    shell: Union[Shell, str], environ: Mapping[bytes, bytes], executable: bytes
) -> Union[Dict[bytes, bytes], str]:
    """The environment ``shell`` hands a program it executes as ``executable``.

    ``environ`` (in its order) is the environment the shell starts with,
    in the current working directory; ``shell`` a :class:`Shell`, or
    ``"dash"``/``"bash"``.  A string when shim does not reproduce what the
    shell would do: the reason.
    """
    model = _model(_as_shell(shell), Snapshot(tuple(environ.items())))
    if isinstance(model, str):
        return model
    return model.environment(executable)


def environment_reason(
    environ: Optional[Mapping[bytes, bytes]] = None, shell: Union[Shell, str, None] = None
) -> Optional[str]:
    """Why a program started directly would not get what ``shell`` gives it.

    ``None`` when shim can give it the same: the environment (this
    process's C environment unless ``environ`` is given) and the calling
    thread's signal state are ones whose changes by ``shell`` (default:
    ``/bin/sh``) are reproduced.  Otherwise the reason, as for
    :func:`shim._common.syntax.analyze`.
    """
    found = platform.shell() if shell is None else _as_shell(shell)
    unavailable = platform.shell_free_reason(found)
    if unavailable is not None:
        return unavailable
    snapshot = ENVIRONMENT.snapshot() if environ is None else Snapshot(tuple(environ.items()))
    model = _model(found, snapshot)
    if isinstance(model, str):
        return model
    if _working_directory(model.pwd) is None:
        return _NO_CWD
    signals = _signal_reason(found.kind, held=True)
    return signals if isinstance(signals, str) else None


def locate(program: bytes, path: Optional[bytes], kind: str = "dash") -> Optional[bytes]:
    """The file the shell would execute for ``program``, named as the shell names it.

    A name with a slash is used as it is.  dash and BusyBox ash take the
    first regular file on ``PATH`` (executable or not: one that cannot be
    executed makes the direct start fail, and the shell then runs the
    command), as ``dir/program``; bash takes the first entry that is not a
    directory, named as ``sh_makepath`` names it (``./program`` for an
    empty entry, no doubled slash).  ``None`` when there is none.
    """
    if b"/" in program:
        return program
    bash = kind == "bash"
    if bash and not path:
        return program if _exists_not_directory(program) else None
    for entry in (path or b"").split(b":"):
        if bash:
            directory = entry or b"."
            slash = b"" if directory[-1:] == b"/" else b"/"
            candidate = directory + slash + program
        else:
            directory = entry
            candidate = directory + b"/" + program if directory else program
        try:
            mode = os.stat(candidate).st_mode
        except (OSError, ValueError):
            continue
        if stat.S_ISDIR(mode) if bash else not stat.S_ISREG(mode):
            continue
        return candidate
    return None


def _exists_not_directory(path: bytes) -> bool:
    try:
        return not stat.S_ISDIR(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


# --- dash's report of a program's end -------------------------------------------------------------

# dash writes no message for these (jobs.c, sprint_status): an interrupted
# or a broken pipeline is not news.
_QUIET_SIGNALS = (_signal.SIGINT, _signal.SIGPIPE)


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
    bash and BusyBox ash replace themselves with the program of
    ``sh -c 'prog'``: there the status is the program's own.
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


def _strsignal(sig: int) -> Optional[str]:
    """The C library's description of ``sig`` (``signal.strsignal`` from Python 3.8 on)."""
    import signal

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


# --- the kernel's limits for sh -c --------------------------------------------------------------

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
