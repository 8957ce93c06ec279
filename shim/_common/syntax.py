"""Shell syntax: whether ``/bin/sh -c command`` does more than run one program.

:func:`analyze` answers for the command string: either the argv the shell
would execute (it would only split words, remove quotes and look the
program up on ``PATH``), or the reason a shell is needed.  The rules are
dash's (``/bin/sh`` on Debian and Ubuntu) and stay valid when ``/bin/sh`` is
bash: anything either shell could treat specially sends the command to the
shell.  When unsure, the answer is "shell"; a false "shell" costs one
``exec``, a false "no shell" would change what runs.

This is only the syntax.  Whether the shell would also hand the program a
different environment or signal mask is a question about the running
process, answered at run time (``shim._runtime.shellfree``).
"""

import os
import re
from typing import Dict, FrozenSet, List, NamedTuple, Optional, Union

__all__ = ["BUILTINS", "RESERVED_WORDS", "Analysis", "analyze"]


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
