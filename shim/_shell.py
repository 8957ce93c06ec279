"""Shell analysis: whether ``/bin/sh -c command`` does more than run one program.

:func:`analyze` answers for the command string: either the argv the shell
would execute (it would only split words, remove quotes and look the
program up on ``PATH``), or the reason a shell is needed.  The rules are
dash's (``/bin/sh`` on Debian and Ubuntu) and stay valid when ``/bin/sh`` is
bash: anything either shell could treat specially sends the command to the
shell.  When unsure, the answer is "shell"; a false "shell" costs one
``exec``, a false "no shell" would change what runs.

:func:`environment_reason` answers the other half, which no command string
can show: whether the shell would hand the program a different environment
or signal mask than the caller has.  :func:`environment_order` gives the
one change dash always makes: the order of the environment variables.
:func:`shell_status` gives what dash makes of a program's exit: it runs the
program as its child, so a signal that kills the program becomes the
shell's exit code 128 + n and a message on stderr.
"""

from __future__ import annotations

import os
import re
import signal
import stat
from typing import Any, Dict, FrozenSet, Iterable, List, Mapping, NamedTuple, Optional, Tuple, Union

__all__ = [
    "BUILTINS",
    "RESERVED_WORDS",
    "Analysis",
    "analyze",
    "environment_order",
    "environment_reason",
    "shell_status",
]


class Analysis(NamedTuple):
    """The outcome of :func:`analyze`; exactly one field is ``None``.

    ``argv``: what ``/bin/sh`` would execute, when it needs no shell.
    ``reason``: a short phrase saying why a shell is needed ("pipe", "glob",
    "shell builtin 'echo'", ...), for logs, audit records and errors.
    """

    argv: Optional[List[bytes]]
    reason: Optional[str]


#: dash's reserved words, plus bash's (``/bin/sh`` may be bash in POSIX mode).
RESERVED_WORDS: FrozenSet[bytes] = frozenset(
    b"! { } case do done elif else esac fi for if in then until while".split()
    + b"[[ ]] coproc function select time".split()
)

#: Every builtin of dash 0.5.12 (``src/builtins.def.in``; ``fc`` only when built
#: with line editing), plus bash's: a builtin behaves differently from the
#: program of the same name (dash's ``echo 'a\tb'`` prints a tab, ``/bin/echo``
#: does not), and most of them act on the shell itself (``cd``, ``exit``).
BUILTINS: FrozenSet[bytes] = frozenset(
    (
        b". : [ alias bg break cd chdir command continue echo eval exec exit export false"
        b" fc fg getopts hash jobs kill local printf pwd read readonly return set shift"
        b" test times trap true type ulimit umask unalias unset wait"
    ).split()
    + (
        b"bind builtin caller compgen complete compopt declare dirs disown enable help"
        b" history let logout mapfile popd pushd readarray shopt source suspend typeset"
    ).split()
)

# Bytes that mean nothing to dash or bash outside quotes.  '#' (a comment at
# the start of a word) and '=' (an assignment in the first word) depend on
# their position and are handled by the scanner; '~' is never taken as
# literal (bash expands it after '=' and ':' in any word, too).
_SAFE_CLASS = rb"A-Za-z0-9\-_./,:+@%^\x80-\xff"

# A command made of safe bytes, '=', spaces and tabs only: the common case,
# decided by one regular expression and bytes.split().  A single character
# class under '*' cannot backtrack.
_PLAIN = re.compile(rb"[" + _SAFE_CLASS + rb"= \t]*")
# One token the scanner can take whole: (1) blanks, (2) literal bytes
# ('#' starts a comment at the start of a word, not inside it), (3) a
# single-quoted string, (4) a double-quoted string in which nothing is
# special.  The alternatives start with different bytes: no backtracking.
_TOKEN = re.compile(
    rb"([ \t]+)"
    rb"|([" + _SAFE_CLASS + rb"=][" + _SAFE_CLASS + rb"=#]*)"
    rb"|'([^']*)'"
    rb'|"([^"\\$`]*)"'
)
# A run of bytes that are literal inside double quotes.
_DQ_RUN = re.compile(rb'[^"\\$`]*')

_NEWLINE = 0x0A
_SQUOTE, _DQUOTE, _BACKSLASH = 0x27, 0x22, 0x5C
_DOLLAR, _BACKTICK, _HASH = 0x24, 0x60, 0x23
_DQ_ESCAPABLE = frozenset(b'$`"\\\n')

_LIST = "list (;, &&, ||)"
_REASONS = {
    ord("|"): "pipe",
    ord("&"): "background (&)",
    ord(";"): _LIST,
    ord("<"): "redirection",
    ord(">"): "redirection",
    ord("("): "subshell/grouping",
    ord(")"): "subshell/grouping",
    ord("{"): "braces",
    ord("}"): "braces",
    ord("*"): "glob",
    ord("?"): "glob",
    ord("["): "glob",
    ord("~"): "tilde",
    _BACKTICK: "command substitution",
    _NEWLINE: "newline",
}


_EMPTY = Analysis(None, "empty command")
_UNBALANCED = Analysis(None, "unbalanced quote")
_BACKSLASH_NEWLINE = Analysis(None, "backslash-newline")
_COMMENT = Analysis(None, "comment")
_ASSIGNMENT = Analysis(None, "assignment prefix")
_EMPTY_NAME = Analysis(None, "empty command name")
_JOB = Analysis(None, "job control (%)")
_OPTION_START = frozenset(b"-+")
_WORD_LIKE = frozenset(b"[{}!")
_WORD_END = (b"", b" ", b"\t")


def _special(command: bytes, i: int) -> Analysis:
    """Explain why the unquoted byte at ``command[i]`` (not a literal) needs the shell."""
    c = command[i]
    nxt = command[i + 1 : i + 2]
    if c == _DOLLAR:
        if nxt == b"(":
            if command[i + 2 : i + 3] == b"(":
                return Analysis(None, "arithmetic")
            return Analysis(None, "command substitution")
        return Analysis(None, "parameter expansion")
    if c == ord("|") and nxt == b"|":
        return Analysis(None, _LIST)
    if c == ord("&") and nxt == b"&":
        return Analysis(None, _LIST)
    if c == ord("<") and nxt == b"<":
        return Analysis(None, "here-document")
    if c in _WORD_LIKE and not command[:i].strip(b" \t") and command[i + 1 : i + 2] in _WORD_END:
        # "[", "{", "}" or "!" as the command name: a builtin or a reserved word.
        return _NAME_REASONS[bytes([c])]
    reason = _REASONS.get(c)
    if reason is None:
        reason = f"special character '{repr(bytes([c]))[2:-1]}'"
    return Analysis(None, reason)


_NAME_REASONS: Dict[bytes, Analysis] = {
    **{word: Analysis(None, f"reserved word '{word.decode()}'") for word in RESERVED_WORDS},
    **{word: Analysis(None, f"shell builtin '{word.decode()}'") for word in BUILTINS},
}
_new = tuple.__new__  # Analysis(argv, None) without NamedTuple's Python-level __new__


def _first_word(argv: List[bytes]) -> Analysis:
    """``argv`` as the analysis, unless the command name itself needs the shell."""
    name = argv[0]
    bad = _NAME_REASONS.get(name)
    if bad is not None:
        return bad
    if not name:
        return _EMPTY_NAME
    if 0x3D in name:  # "="
        # Unquoted, NAME=value is an assignment; quoted, a program name no
        # one has: not worth telling the two apart.
        return _ASSIGNMENT
    if name[0] == 0x25:  # "%"
        # bash reads a command name that starts with '%' as a job ("%1" is "fg %1").
        return _JOB
    if name[0] in _OPTION_START:
        # Before glibc 2.38, system(3) runs "sh -c command": a command that
        # starts with '-' or '+' is read as the shell's options.
        return Analysis(None, f"command name starts with '{chr(name[0])}'")
    return _new(Analysis, (argv, None))


def analyze(command: Union[bytes, str]) -> Analysis:
    """Tell what ``/bin/sh -c command`` would do: run one argv, or need the shell.

    Returns ``Analysis(argv, None)`` when the shell would do nothing but
    split words on blanks, remove quotes and run a program that is not a
    builtin, with no redirection, expansion, assignment or second command;
    otherwise ``Analysis(None, reason)``.  ``str`` is encoded like
    ``os.system`` encodes it.  Never raises for bytes (a NUL byte, which
    ``os.system`` refuses before this is called, gives "shell").
    """
    if isinstance(command, str):
        command = os.fsencode(command)
    if _PLAIN.fullmatch(command) is not None:
        argv = command.split()
        return _first_word(argv) if argv else _EMPTY
    return _scan(command)


def _scan(command: bytes) -> Analysis:
    """Analyze the general case: quotes, backslashes, bytes that need a shell."""
    words: List[bytes] = []
    word = bytearray()
    in_word = False  # also true for a word made only of quotes ('' is a word)
    n = len(command)
    i = 0
    while i < n:
        m = _TOKEN.match(command, i)
        if m is not None:
            kind = m.lastindex
            if kind == 1:  # blanks end a word
                if in_word:
                    words.append(bytes(word))
                    word = bytearray()
                    in_word = False
            else:  # literal bytes, or a simple quoted string without its quotes
                word += m.group(kind)  # type: ignore[arg-type]
                in_word = True
            i = m.end()
            continue
        c = command[i]
        if c == _HASH and in_word:  # inside a word, '#' is literal
            word.append(c)
            i += 1
        elif c == _SQUOTE:
            return _UNBALANCED
        elif c == _DQUOTE:
            i += 1
            while True:
                m = _DQ_RUN.match(command, i)
                end = m.end() if m is not None else i
                word += command[i:end]
                i = end
                if i >= n:
                    return _UNBALANCED
                c = command[i]
                if c == _DQUOTE:
                    i += 1
                    break
                if c != _BACKSLASH:
                    return _special(command, i)
                bad = _check_backslash(command, i)
                if bad is not None:
                    return bad
                if i + 1 >= n:
                    return _UNBALANCED
                nxt = command[i + 1]
                if nxt in _DQ_ESCAPABLE:
                    word.append(nxt)
                else:
                    word += command[i : i + 2]
                i += 2
            in_word = True
        elif c == _BACKSLASH:
            bad = _check_backslash(command, i)
            if bad is not None:
                return bad
            if i + 1 >= n:
                # dash keeps a trailing backslash, other shells differ.
                return Analysis(None, "trailing backslash")
            word.append(command[i + 1])
            in_word = True
            i += 2
        elif c == _HASH:  # at the start of a word: a comment
            return _COMMENT
        else:
            return _special(command, i)
    if in_word:
        words.append(bytes(word))
    return _first_word(words) if words else _EMPTY


def _check_backslash(command: bytes, i: int) -> Optional[Analysis]:
    """Why the backslash at ``command[i]`` needs the shell, or ``None``."""
    if command[i + 1 : i + 2] == b"\n":
        return _BACKSLASH_NEWLINE
    if i and command[i - 1] >= 0x80:
        # In a multibyte locale (Big5, GBK, Shift_JIS) bash reads this
        # backslash as the second byte of a character, not as an escape.
        return Analysis(None, "backslash after a non-ASCII byte")
    return None


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
    text = (signal.strsignal(sig) or f"Unknown signal {sig}").encode()[:32]
    if status & 0x80:
        text += b" (core dumped)"
    return code, text + b"\n"


def c_environment() -> List[Tuple[bytes, bytes]]:
    """The C library's environment, in its order: what ``/bin/sh`` would inherit.

    ``os.environ`` misses what ``os.putenv`` set and may differ from it in
    order, so the C ``environ`` array is read (through ctypes, loaded at the
    first call of a shell-free run).  Falls back to ``os.environb``.
    """
    global _environ_array
    if _environ_array is None:
        try:
            import ctypes

            _environ_array = ctypes.POINTER(ctypes.c_char_p).in_dll(ctypes.CDLL(None), "environ")
        except (ImportError, OSError, ValueError, AttributeError):
            _environ_array = False
    if _environ_array is False:
        return list(os.environb.items())
    found: List[Tuple[bytes, bytes]] = []
    index = 0
    while True:
        entry = _environ_array[index]
        if entry is None:
            return found
        name, sep, value = entry.partition(b"=")
        if sep:
            found.append((name, value))
        index += 1


_environ_array: Any = None


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
