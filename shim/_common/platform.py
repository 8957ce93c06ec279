"""Platform facts, in one place.

Everything the shim needs to know about the operating system and its C
library is decided here, once, at import time; what ``/bin/sh`` is, the one
fact that can change while a program runs (a package upgrade replaces it, an
administrator points it at another shell), is looked at when it is needed
(:func:`shell`).
"""

import os
import re
import sys
from typing import Dict, List, NamedTuple, Optional, Tuple

__all__ = [
    "DASH_OWN",
    "GLIBC_VERSION",
    "IS_POSIX",
    "IS_WINDOWS",
    "SHELLS_RUN_WITHOUT",
    "SHELL_IS_DASH",
    "SHELL_NAME",
    "SHELL_PATH",
    "SYSTEM_PASSES_DASHDASH",
    "Shell",
    "shell",
    "shell_free_reason",
    "shell_text",
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


#: Whether /bin/sh is named dash (Debian, Ubuntu), decided at import.  Tests
#: use it to find dash; the runtime asks :func:`shell`, which looks at what
#: the file is and notices when it changes.
SHELL_IS_DASH = IS_POSIX and _shell_is_dash()


class Shell(NamedTuple):
    """What ``/bin/sh`` is: the shell, its version, and how it was built.

    ``kind`` is ``"dash"``, ``"bash"``, ``"busybox"`` (BusyBox ``ash``) or
    ``""`` when the file is none of them as far as shim can tell (another
    shell, a script, missing, unreadable); ``version`` is empty where the
    binary does not say (dash).  ``text`` names it for people and audit
    records (``"dash"``, ``"bash 5.2.37"``, ``"busybox 1.37.0"``,
    ``"unknown (a script)"``).  ``own``: the variables dash or ash creates
    before it reads the environment, in the order it creates them (they
    are passed on in an order of their own).
    """

    kind: str
    version: Tuple[int, ...]
    text: str
    own: Tuple[bytes, ...] = ()


#: The shells whose behaviour shim reproduces when it runs a program without
#: ``/bin/sh`` (``shim._runtime.shellfree``), with the versions it was
#: checked against (``None``: any).
SHELLS_RUN_WITHOUT = {
    "dash": None,
    "bash": ((5, 2), (5, 3)),
    "busybox": ((1, 37), (1, 37)),
}

# Signatures in the binaries (their .rodata), which name the shell whatever
# the file is called.  bash and BusyBox print their version; dash has none,
# and is recognised by two of its own messages and its default PATH.
_BASH = re.compile(rb"@\(#\)Bash version (\d+)\.(\d+)\.(\d+)")
_BUSYBOX = re.compile(rb"BusyBox v(\d+)\.(\d+)\.(\d+)")
_BUSYBOX_ASH = b"built-in shell (ash)"
_DASH = (
    b"sh: turning off NDELAY mode",
    b"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    b"%s: %d: %s: ",
)
_ELF = b"\x7fELF"
# A shell binary is at most a few MiB; anything larger is not one we know.
_LARGEST = 16 << 20

#: dash's own variables (var.c, varinit[]) as Debian and Ubuntu build it:
#: without line editing (no TERM, HISTSIZE), without ATTY, LINENO apart.
DASH_OWN = (b"IFS", b"MAIL", b"MAILPATH", b"PATH", b"PS1", b"PS2", b"PS4", b"OPTIND")
# BusyBox ash's (ash.c, varinit_data[]): the first five always, the others
# with the features of the build, which only running it shows.
_ASH_ALWAYS = frozenset((b"IFS", b"PATH", b"PS1", b"PS2", b"PS4"))
_ASH_CANDIDATES = (
    b"IFS", b"MAIL", b"MAILPATH", b"PATH", b"PS1", b"PS2", b"PS4", b"OPTIND", b"LINENO",
    b"FUNCNAME", b"RANDOM", b"EPOCHSECONDS", b"EPOCHREALTIME", b"LC_ALL", b"LC_CTYPE", b"HISTFILE",
)  # fmt: skip
# Why BusyBox was not asked (see _busybox): the program's state, not the file.
_NOT_ASKED = "not asked how it was built: SIGCHLD is handled"
# Programs that print the environment in order, for the probe.
_ENV_PROGRAMS = (b"/usr/bin/env", b"/bin/env")


def _identify(path: bytes, *, ask: bool = True) -> Shell:
    """Tell which shell the file at ``path`` is, by its contents (BusyBox: and its behaviour).

    ``ask=False``: never run it; a BusyBox is then named but unknown.
    """
    try:
        with open(path, "rb") as f:
            data = f.read(_LARGEST + 1)
    except OSError as exc:
        return Shell("", (), f"unknown (unreadable: {exc.strerror})")
    if not data.startswith(_ELF):
        return Shell("", (), "unknown (not an ELF binary)")
    if len(data) > _LARGEST:
        return Shell("", (), "unknown (too large to be a shell shim knows)")
    found = _BASH.search(data)
    if found is not None:
        version = tuple(int(n) for n in found.groups())
        return Shell("bash", version, "bash " + ".".join(map(str, version)))
    found = _BUSYBOX.search(data)
    if found is not None:
        version = tuple(int(n) for n in found.groups())
        text = "busybox " + ".".join(map(str, version))
        if _BUSYBOX_ASH not in data:
            return Shell("", version, f"unknown ({text} without ash)")
        if not ask:
            return Shell("", version, text)
        return _busybox(path, version, text)
    if all(mark in data for mark in _DASH):
        return Shell("dash", (), "dash", DASH_OWN)
    return Shell("", (), "unknown")


def _ash_bucket(name: bytes) -> int:
    """The hash chain of ``name`` in dash and ash (``hashvar``, 39 chains)."""
    return ((name[0] << 4) + sum(name)) % 39


def _busybox(path: bytes, version: Tuple[int, ...], text: str) -> Shell:
    """BusyBox ash, asked once how it was built (nothing in the binary tells).

    One run, with an empty ``PATH`` and an environment in which each
    variable ash may keep itself follows another of its hash chain:

    * ``sh -c :`` finds ``sh`` only as an applet: a shell built with
      FEATURE_SH_STANDALONE runs its applets instead of the programs found
      on ``PATH``, which shim does not reproduce;
    * the order ``env`` then prints tells ash's own variables (first in
      their chain) from the others (in the order of the environment).

    Anything unexpected makes the shell unknown.  The run is a child
    process the program did not ask for: where the program handles or
    ignores SIGCHLD, it would notice, so the shell is left unasked (and
    unknown) there, and asked again on a later call.
    """
    import signal
    import subprocess

    if signal.getsignal(signal.SIGCHLD) != signal.SIG_DFL:
        return Shell("", version, f"unknown ({text} {_NOT_ASKED})")
    program = next((p for p in _ENV_PROGRAMS if os.path.exists(p)), None)
    if program is None:
        return Shell("", version, f"unknown ({text}: no env program to ask it with)")
    spare: Dict[int, List[bytes]] = {}
    for first in b"JKQVWXYZ":
        for second in b"ABCDEFGHIJKLMNOPQRSTUVWXYZ":
            name = bytes((first, second, second))
            spare.setdefault(_ash_bucket(name), []).append(name)
    env = {}
    fillers = {}
    for name in _ASH_CANDIDATES:
        filler = fillers[name] = spare[_ash_bucket(name)].pop()
        env[filler] = b"1"
        env[name] = b"C" if name.startswith(b"LC_") else b"1"
    env[b"PATH"] = b"/nonexistent"
    try:
        probe = subprocess.run(
            [b"sh", b"-c", b"sh -c : 2>/dev/null; echo $?; exec " + program],
            executable=path,
            env=env,
            cwd="/",
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return Shell("", version, f"unknown ({text} could not be asked how it was built)")
    lines = probe.stdout.split(b"\n")
    names = [line.split(b"=", 1)[0] for line in lines[1:] if b"=" in line]
    if probe.returncode != 0 or lines[0] not in (b"0", b"127") or b"PATH" not in names:
        return Shell("", version, f"unknown ({text} could not be asked how it was built)")
    if lines[0] == b"0":
        # Built with FEATURE_SH_STANDALONE: a command named like one of its
        # applets runs the applet, not the program found on PATH.
        return Shell("", version, f"unknown ({text} running its applets as commands)")
    # Always there, or listed before the variable of its chain that the
    # environment had first: created by ash before it read the environment.
    own = tuple(
        name
        for name in _ASH_CANDIDATES
        if name in _ASH_ALWAYS
        or (
            name in names
            and fillers[name] in names
            and names.index(name) < names.index(fillers[name])
        )
    )
    return Shell("busybox", version, text, own)


_UNKNOWN = Shell("", (), "unknown (not a POSIX system)")
# (identity of the file, what it is): replaced whole, by one assignment.
_known: Tuple[object, Shell] = (None, _UNKNOWN)


def shell() -> Shell:
    """What ``/bin/sh`` is now.

    Cheap after the first call: one ``stat`` of ``/bin/sh``, whose device,
    inode, size and times say whether it is still the file identified last
    time (a replaced or re-pointed ``/bin/sh`` is identified again).
    """
    global _known
    if not IS_POSIX:
        return _UNKNOWN
    try:
        st = os.stat(SHELL_PATH)
    except OSError as exc:
        return Shell("", (), f"unknown ({exc.strerror})")
    key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    known = _known
    if known[0] == key:
        return known[1]
    found = _identify(SHELL_PATH)
    if not found.text.endswith(_NOT_ASKED + ")"):
        # (An answer that depends on the program's state, not on the file, is not kept.)
        _known = (key, found)
    return found


_described: Tuple[object, str] = (None, "")


def shell_text() -> str:
    """What ``/bin/sh`` is, for people and audit records, found without running anything.

    For ``shell="always"``, which must not start a process of its own: the
    name and version :func:`shell` would give, but a BusyBox is not asked
    how it was built.
    """
    global _described
    if not IS_POSIX:
        return _UNKNOWN.text
    try:
        st = os.stat(SHELL_PATH)
    except OSError as exc:
        return f"unknown ({exc.strerror})"
    key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    known = _known
    if known[0] == key:
        return known[1].text
    described = _described
    if described[0] == key:
        return described[1]
    text = _identify(SHELL_PATH, ask=False).text
    _described = (key, text)
    return text


def shell_free_reason(found: Optional[Shell] = None) -> Optional[str]:
    """Why no command can run without ``/bin/sh`` here, or ``None`` when some can.

    A command run without the shell gets what this ``/bin/sh`` would have
    handed it; that is reproduced for the shells and versions of
    :data:`SHELLS_RUN_WITHOUT` only.  ``found``: the shell to judge
    (default: :func:`shell`).
    """
    if not IS_POSIX:
        return "not a POSIX system"
    if found is None:
        found = shell()
    if found.kind not in SHELLS_RUN_WITHOUT:
        return f"/bin/sh is not a shell shim reproduces: {found.text}"
    versions = SHELLS_RUN_WITHOUT[found.kind]
    if versions is not None and not versions[0] <= found.version[:2] <= versions[1]:
        return f"/bin/sh is {found.text}, a version shim does not reproduce"
    return None
