"""Shell analysis (``shim._shell``) against the real ``/bin/sh``.

How a real shell reports the argv it executes, exactly
------------------------------------------------------
A command string ``C`` for which ``analyze`` claims "no shell, argv A" is
run unchanged as ``sh -c C``, with ``PATH`` holding a single directory in
which an argv dumper is linked under the name ``A[0]`` (or, when ``A[0]``
contains a slash, under that relative path in the working directory).  The
dumper is a small C program that writes ``argc`` and every ``argv[i]``,
``argv[0]`` included, each followed by a NUL byte.  Nothing is prefixed to
``C`` (a prefix such as ``exec printf ...`` would turn ``C``'s first word
into an argument and hide how the shell treats a command name: reserved
words, builtins and assignments are only special there), so whatever the
shell does with ``C`` shows: a builtin or keyword would run instead of the
dumper (wrong output), an expansion or a second command would change the
words.  The shell passes ``argv[0]`` as the word it looked up, which the
dumper reports byte for byte.

Without a C compiler the dumper is a ``#!/bin/sh`` script; the kernel then
replaces ``argv[0]`` with the path of the file it ran, which still names
the word (``$PATH_DIR/word``, or the word itself when it has a slash), and
that path is what is compared.
"""

import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

import pytest
from shim._common import platform
from shim._common import syntax as _shell
from shim._common.syntax import Analysis, analyze
from shim._runtime.shellfree import (
    environment_order,
    environment_reason,
    program_environment,
    shell_status,
)

from assumptions import (
    BASH,
    COMPILER,
    DASH,
    needs_bash,
    needs_compiler,
    needs_dash,
    needs_shell_free,
)

_DUMPER_C = rb"""
#include <stdio.h>
#include <string.h>
int main(int argc, char **argv) {
    int i;
    printf("%d", argc);
    putchar(0);
    for (i = 0; i < argc; i++)
        fwrite(argv[i], 1, strlen(argv[i]) + 1, stdout);
    return 0;
}
"""
_DUMPER_SH = b"#!/bin/sh\nprintf '%s\\0' \"$(($# + 1))\" \"$0\" \"$@\"\n"


class ShellProbe:
    """Run ``sh -c command`` with a real shell and return the argv it executed.

    See the module docstring for why this is exact.
    """

    def __init__(self, root: Path, shell: str) -> None:
        self.shell = shell
        self.bin = root / "bin"
        self.work = root / "work"
        self.bin.mkdir(parents=True, exist_ok=True)
        self.work.mkdir(parents=True, exist_ok=True)
        self.dumper = root / "dump"
        self._placed: Dict[bytes, Path] = {}
        if not self.dumper.exists():
            self.exact_argv0 = _build_dumper(root, self.dumper)
        else:
            self.exact_argv0 = (root / "dump.c").exists()

    def place(self, name: bytes) -> Optional[Path]:
        """Make the command word ``name`` run the dumper; return the directory to run in.

        ``None`` when that cannot be arranged (an absolute name outside the
        probe, or a name with a ``..`` component).
        """
        if name.startswith(os.fsencode(self.bin) + b"/"):
            target = Path(os.fsdecode(name))
            cwd = self.work
        elif name.startswith(b"/") or not name:
            return None
        elif name in self._placed:
            return self._placed[name]
        else:
            parts = name.split(b"/")
            if b".." in parts or parts[-1] in (b"", b".") or any(len(p) > 255 for p in parts):
                return None
            if len(parts) == 1:
                target, cwd = self.bin / os.fsdecode(name), self.work
            else:
                # A fresh directory for each such name: "./prog" and "prog/x"
                # cannot share one.
                cwd = self.work / str(len(self._placed))
                self._placed[name] = cwd
                target = cwd.joinpath(*(os.fsdecode(p) for p in parts if p not in (b"", b".")))
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(self.dumper)
        return cwd

    def argv(self, command: bytes, cwd: Path) -> Tuple[int, Optional[List[bytes]], bytes]:
        """Exit status, argv the shell executed (``None``: no dumper ran), stderr."""
        proc = subprocess.run(
            [b"sh", b"-c", command],
            executable=self.shell,
            cwd=cwd,
            env={"PATH": os.fsdecode(self.bin), "LC_ALL": "C"},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            timeout=30,
            check=False,
        )
        fields = proc.stdout.split(b"\0")
        if len(fields) < 2 or not fields[0].isdigit():
            return proc.returncode, None, proc.stderr
        count = int(fields[0])
        argv = fields[1:-1]
        if len(argv) != count or fields[-1] != b"":
            return proc.returncode, None, proc.stderr
        return proc.returncode, argv, proc.stderr

    def expected(self, argv: Sequence[bytes]) -> List[bytes]:
        """What the dumper reports when the shell runs ``argv``."""
        if self.exact_argv0 or b"/" in argv[0]:
            return list(argv)
        return [os.fsencode(self.bin) + b"/" + argv[0], *argv[1:]]

    def check(self, command: bytes, argv: Sequence[bytes]) -> Optional[str]:
        """A description of the mismatch between ``argv`` and the shell's, or ``None``.

        Raises ``ValueError`` when ``argv[0]`` cannot be placed (see :meth:`place`).
        """
        cwd = self.place(argv[0])
        if cwd is None:
            raise ValueError(f"cannot place {argv[0]!r}")
        status, got, err = self.argv(command, cwd)
        want = self.expected(argv)
        if status != 0 or got != want or err:
            return (
                f"{os.path.basename(self.shell)} -c {command!r}: status {status}, "
                f"argv {got!r}, stderr {err!r}; analyze gave {list(argv)!r}"
            )
        return None


def _build_dumper(root: Path, dumper: Path) -> bool:
    """Compile the C dumper (exact argv[0]) or fall back to a script; True if compiled."""
    compiler = COMPILER
    if compiler:
        source = root / "dump.c"
        source.write_bytes(_DUMPER_C)
        built = subprocess.run(
            [compiler, "-O1", "-o", str(dumper), str(source)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False
        )
        if built.returncode == 0:
            return True
        source.unlink()
    dumper.write_bytes(_DUMPER_SH)
    dumper.chmod(0o755)
    return False


def shells() -> List[Tuple[str, str]]:
    """The shells to compare with: dash, and bash started as ``sh`` (POSIX mode)."""
    found = []
    if DASH:
        found.append(("dash", DASH))
    if BASH:
        found.append(("bash-as-sh", BASH))
    return found


@pytest.fixture(scope="module")
def probe_root() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="shim-shell-") as tmp:
        yield Path(tmp)


@pytest.fixture(scope="module", params=[name for name, _ in shells()] or ["none"])
def probe(request: pytest.FixtureRequest, probe_root: Path) -> ShellProbe:
    table = dict(shells())
    if request.param not in table:
        pytest.skip("neither dash nor bash is installed")
    return ShellProbe(probe_root / request.param, table[request.param])


B = b"@BIN@"  # replaced by the probe's PATH directory (an absolute command name)

# (command, argv): commands that need no shell, and the argv the shell runs.
DIRECT: List[Tuple[Union[bytes, str], List[bytes]]] = [
    (b"date -u +%s", [b"date", b"-u", b"+%s"]),
    (b"prog", [b"prog"]),
    (b"  prog \t a\tb  ", [b"prog", b"a", b"b"]),
    (B + b"/prog -l /tmp", [B + b"/prog", b"-l", b"/tmp"]),
    (b"./prog -x", [b"./prog", b"-x"]),
    (b"sub/dir/prog x", [b"sub/dir/prog", b"x"]),
    (b"prog ''", [b"prog", b""]),
    (b"prog '' \"\" ''''", [b"prog", b"", b"", b""]),
    (b"prog 'a b' \"c  d\"", [b"prog", b"a b", b"c  d"]),
    (b"prog a'b'c\"d\"e", [b"prog", b"abcde"]),
    (b"prog 'it'\\''s'", [b"prog", b"it's"]),
    (b"prog \"it's\" 'say \"hi\"'", [b"prog", b"it's", b'say "hi"']),
    (b"prog \\$HOME \\* \\? \\[ \\~ \\# \\; \\| \\&", [b"prog", b"$HOME", b"*", b"?", b"[", b"~", b"#", b";", b"|", b"&"]),
    (b"prog \\' \\\" \\\\ \\a \\ ", [b"prog", b"'", b'"', b"\\", b"a", b" "]),
    (b"prog a\\ b a\\\tb", [b"prog", b"a b", b"a\tb"]),
    (b'prog "a\\$b" "a\\`b" "a\\"b" "a\\\\b"', [b"prog", b"a$b", b"a`b", b'a"b', b"a\\b"]),
    (b'prog "a\\nb" "\\x" "\\ " "\\\'"', [b"prog", b"a\\nb", b"\\x", b"\\ ", b"\\'"]),
    (b"prog 'a\\nb' 'a\\'", [b"prog", b"a\\nb", b"a\\"]),
    (b"prog 'a\nb' \"c\nd\"", [b"prog", b"a\nb", b"c\nd"]),
    (b"prog a=b c==d --opt=val", [b"prog", b"a=b", b"c==d", b"--opt=val"]),
    (b"prog a#b 'x'#y a##", [b"prog", b"a#b", b"x#y", b"a##"]),
    (b"prog x,y:z@w%v^u+t-s_r.q/p", [b"prog", b"x,y:z@w%v^u+t-s_r.q/p"]),
    (
        b"prog '*' '?' '[a]' '~' '$x' '`y`' '|' ';' '&' '<' '>' '(' ')' '{' '}' '!' '#' '\\'",
        [b"prog", b"*", b"?", b"[a]", b"~", b"$x", b"`y`", b"|", b";", b"&", b"<", b">", b"(", b")", b"{", b"}", b"!", b"#", b"\\"],
    ),
    (b'prog "*" "~" "#" "|" "\'" "a b" "&&" "{}"', [b"prog", b"*", b"~", b"#", b"|", b"'", b"a b", b"&&", b"{}"]),
    (b"prog \xc3\xa9t\xc3\xa9 \xff\xfe \x80\x81\x82\x83\x84\x85\x86\x87\x88", [b"prog", b"\xc3\xa9t\xc3\xa9", b"\xff\xfe", b"\x80\x81\x82\x83\x84\x85\x86\x87\x88"]),
    (b"prog '\xff' \"\x81\" \\\xc3\xa9", [b"prog", b"\xff", b"\x81", b"\xc3\xa9"]),
    (b"\xc3\xa9 x", [b"\xc3\xa9", b"x"]),
    (b"'prog' a", [b"prog", b"a"]),
    (b'"prog" a', [b"prog", b"a"]),
    (b"pr\\og a", [b"prog", b"a"]),
    (b"pr'o'g a", [b"prog", b"a"]),
    (b"'sub/prog'", [b"sub/prog"]),
    (b"prog -- - -x +x", [b"prog", b"--", b"-", b"-x", b"+x"]),
    (b"time1 x", [b"time1", b"x"]),
    (b"echo1 x", [b"echo1", b"x"]),
    (b"prog ''#y \"\"#", [b"prog", b"#y", b"#"]),
    ("prog \u00e9 \udcff", [b"prog", b"\xc3\xa9", b"\xff"]),
]

# (command, reason): commands that need a shell, and why.
SHELL: List[Tuple[bytes, str]] = [
    (b"ls | wc -l", "pipe"),
    (b"a || b", "list (;, &&, ||)"),
    (b"a && b", "list (;, &&, ||)"),
    (b"a; b", "list (;, &&, ||)"),
    (b"a;", "list (;, &&, ||)"),
    (b"sleep 1 &", "background (&)"),
    (b"ls > out", "redirection"),
    (b"ls 2>&1", "redirection"),
    (b"sort < in", "redirection"),
    (b"cat <<EOF\nx\nEOF", "here-document"),
    (b"(cd /tmp)", "subshell/grouping"),
    (b"ls (x)", "subshell/grouping"),
    (b"{ ls; }", "reserved word '{'"),
    (b"ls {a,b}", "braces"),
    (b"ls }", "braces"),
    (b"ls *.py", "glob"),
    (b"ls a?", "glob"),
    (b"ls [ab]", "glob"),
    (b"ls ]", "special character ']'"),
    (b"ls ~", "tilde"),
    (b"ls ~/x", "tilde"),
    (b"ls a~b", "tilde"),
    (b"ls $HOME", "parameter expansion"),
    (b"ls ${HOME}", "parameter expansion"),
    (b"ls $", "parameter expansion"),
    (b'ls "$HOME"', "parameter expansion"),
    (b"ls $(pwd)", "command substitution"),
    (b"ls `pwd`", "command substitution"),
    (b'ls "`pwd`"', "command substitution"),
    (b'ls "$(pwd)"', "command substitution"),
    (b"ls $((1+1))", "arithmetic"),
    (b'ls "$((1+1))"', "arithmetic"),
    (b"ls # comment", "comment"),
    (b"# only a comment", "comment"),
    (b"ls 'x' #y", "comment"),
    (b"ls x\t#y", "comment"),
    (b"X=1 prog", "assignment prefix"),
    (b"prog=1", "assignment prefix"),
    (b"'X=1' prog", "assignment prefix"),
    (b"echo hi", "shell builtin 'echo'"),
    (b"'echo' hi", "shell builtin 'echo'"),
    (b'"echo" hi', "shell builtin 'echo'"),
    (b"ec\\ho hi", "shell builtin 'echo'"),
    (b"e'ch'o", "shell builtin 'echo'"),
    (b"printf x", "shell builtin 'printf'"),
    (b"test -f x", "shell builtin 'test'"),
    (b"[ -f x ]", "shell builtin '['"),
    (b". ./env.sh", "shell builtin '.'"),
    (b": nothing", "shell builtin ':'"),
    (b"cd /tmp", "shell builtin 'cd'"),
    (b"kill -0 1", "shell builtin 'kill'"),
    (b"true", "shell builtin 'true'"),
    (b"if true", "reserved word 'if'"),
    (b"'if' x", "reserved word 'if'"),
    (b"time ls", "reserved word 'time'"),
    (b"! ls", "reserved word '!'"),
    (b"ls !x", "special character '!'"),
    (b"", "empty command"),
    (b"   \t ", "empty command"),
    (b"''", "empty command name"),
    (b"'' arg", "empty command name"),
    (b'"" arg', "empty command name"),
    (b"ls\nls", "newline"),
    (b"ls\n", "newline"),
    (b"ls \\\nx", "backslash-newline"),
    (b'ls "a\\\nb"', "backslash-newline"),
    (b"ls \\", "trailing backslash"),
    (b"ls 'abc", "unbalanced quote"),
    (b'ls "abc', "unbalanced quote"),
    (b'ls "a\\"', "unbalanced quote"),
    (b'ls "a\\', "unbalanced quote"),
    (b"ls '", "unbalanced quote"),
    (b"%1", "job control (%)"),
    (b"'%prog' x", "job control (%)"),
    (b"-x", "command name starts with '-'"),
    (b"+x y", "command name starts with '+'"),
    (b"ls \r", "special character '\\r'"),
    (b"ls \x7f", "special character '\\x7f'"),
    (b"ls \x0b", "special character '\\x0b'"),
    (b"ls a\x00b", "special character '\\x00'"),
    (b"ls \xff\\ a", "backslash after a non-ASCII byte"),
    (b'ls "\x81\\\\"', "backslash after a non-ASCII byte"),
]


def _fill(command: Union[bytes, str], argv: List[bytes], probe: Optional[ShellProbe]) -> Tuple[Union[bytes, str], List[bytes]]:
    """Replace the ``@BIN@`` placeholder with the probe's PATH directory."""
    if probe is None or isinstance(command, str) or B not in command:
        return command, argv
    where = os.fsencode(probe.bin)
    return command.replace(B, where), [a.replace(B, where) for a in argv]


@pytest.mark.parametrize(("command", "argv"), DIRECT, ids=[repr(c)[:60] for c, _ in DIRECT])
def test_direct_commands_give_the_argv(command: Union[bytes, str], argv: List[bytes]) -> None:
    """A command the shell would only split and unquote gives its argv, and no reason."""
    result = analyze(command)
    assert result == Analysis(argv, None)
    assert type(result.argv) is list
    assert all(type(a) is bytes for a in result.argv)


@pytest.mark.parametrize(("command", "argv"), DIRECT, ids=[repr(c)[:60] for c, _ in DIRECT])
def test_direct_commands_match_the_real_shell(probe: ShellProbe, command: Union[bytes, str], argv: List[bytes]) -> None:
    """For each "no shell" case the real shell runs the same program with the same argv."""
    command, argv = _fill(command, argv, probe)
    result = analyze(command)
    assert result.argv == argv
    raw = os.fsencode(command) if isinstance(command, str) else command
    assert probe.check(raw, argv) is None


@pytest.mark.parametrize(("command", "reason"), SHELL, ids=[repr(c)[:60] for c, _ in SHELL])
def test_shell_commands_give_the_reason(command: bytes, reason: str) -> None:
    """A command that needs the shell gives the reason and no argv."""
    assert analyze(command) == Analysis(None, reason)


def test_str_is_analyzed_as_its_fsencoded_bytes() -> None:
    """A str command is analyzed exactly as os.system would pass it (os.fsencode)."""
    for command in ["prog \u00e9", "prog \udcff", "echo \u00e9", "ls | wc", "pr'o'g x"]:
        assert analyze(command) == analyze(os.fsencode(command))


def test_result_is_immutable() -> None:
    """An Analysis cannot be changed after the fact (it may be shared between calls)."""
    result = analyze(b"ls | wc")
    with pytest.raises(AttributeError):
        result.reason = "x"  # type: ignore[misc]


@pytest.mark.parametrize("name", sorted(_shell.BUILTINS | _shell.RESERVED_WORDS))
def test_every_builtin_and_reserved_word_needs_the_shell(name: bytes) -> None:
    """Each builtin or reserved word as the command name, bare or quoted, needs the shell."""
    for command in (name, name + b" arg", b"'" + name + b"' arg", b'"' + name + b'"', b"  " + name + b"\targ"):
        result = analyze(command)
        assert result.argv is None, command
        assert result.reason, command


@needs_dash
def test_the_builtin_list_covers_every_builtin_dash_knows() -> None:
    """No name dash runs as a builtin or keyword passes as a program.

    The candidates are the brief list of dash's builtins and every program
    name in the directories of a standard ``PATH`` (a builtin that shadows a
    program is the dangerous case); dash itself says which of them it treats
    as a builtin or a keyword (``command -V``).
    """
    assert DASH is not None
    names = set(
        b". : [ alias bg break cd chdir command continue echo eval exec exit export false fc fg"
        b" getopts hash jobs kill local printf pwd read readonly return set shift test times trap"
        b" true type ulimit umask unalias unset wait if then else elif fi do done case esac while"
        b" until for in { } !".split()
    )
    for directory in ("/bin", "/usr/bin", "/sbin", "/usr/sbin", "/usr/local/bin"):
        try:
            names.update(os.fsencode(n) for n in os.listdir(directory))
        except OSError:
            continue
    names = {n for n in names if re.fullmatch(rb"[A-Za-z0-9_.:\[\]{}!+-]+", n)}
    script = b"".join(b"command -V '" + n + b"'\n" for n in sorted(names))
    out = subprocess.run(
        [b"sh", b"-c", script], executable=DASH, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={"PATH": "/nonexistent"}, check=False
    ).stdout
    special = set()
    for line in out.splitlines():
        m = re.fullmatch(rb"(.+) is a (?:special )?shell (?:builtin|keyword)", line)
        if m:
            special.add(m.group(1))
    assert b"echo" in special and b"if" in special  # the probe itself works
    missing = special - (_shell.BUILTINS | _shell.RESERVED_WORDS)
    assert not missing


@needs_bash
def test_bash_builtins_are_covered() -> None:
    """When /bin/sh is bash (POSIX mode) its builtins and keywords also need the shell."""
    out = subprocess.run(
        [b"sh", b"-c", b"compgen -b; compgen -k"], executable=BASH, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False
    ).stdout
    names = set(out.split())
    assert b"echo" in names
    assert not names - (_shell.BUILTINS | _shell.RESERVED_WORDS)


def test_never_raises_on_odd_bytes() -> None:
    """Every single byte, alone and inside a command, gives an answer, never an exception."""
    for c in range(256):
        for command in (bytes([c]), b"prog " + bytes([c]), b"prog a" + bytes([c]) + b"b", b'prog "' + bytes([c]) + b'"'):
            result = analyze(command)
            assert (result.argv is None) != (result.reason is None), command


# --- environment_reason ----------------------------------------------------------------------

_ENV_DUMP = b"/usr/bin/env"


def _environment_seen(environ: Dict[bytes, bytes], via_shell: bool, cwd: str, *, ordered: bool = False) -> List[bytes]:
    argv = [b"sh", b"-c", _ENV_DUMP + b" -0"] if via_shell else [_ENV_DUMP, b"-0"]
    out = subprocess.run(
        argv,
        executable=b"/bin/sh" if via_shell else argv[0],
        env=environ,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        check=True,
    ).stdout
    entries = out.split(b"\0")[:-1]
    return entries if ordered else sorted(entries)


def _base_environ(cwd: str) -> Dict[bytes, bytes]:
    return {b"PATH": b"/usr/bin:/bin", b"PWD": os.fsencode(cwd), b"HOME": b"/root", b"LC_ALL": b"C"}


@pytest.mark.skipif(not os.path.exists(_ENV_DUMP), reason="needs /usr/bin/env")
@needs_shell_free
@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({}, None),
        ({b"PWD": None}, None),
        ({b"PWD": b"/"}, None),
        ({b"PWD": b"relative"}, None),
        ({b"PWD": b"@CWD@/."}, None),
        ({b"PWD": b"@CWD@/../@BASE@"}, None),
        ({b"PWD": b"@LINK@"}, None),
        ({b"A-B": b"1"}, None),
        ({b"1X": b"1"}, None),
        ({b"\xc3\xa9": b"1"}, {"bash": "an environment variable name that is not a shell name"}),
        ({b"_ok_1": b"1", b"SHLVL": b"7", b"ENV": b"/nonexistent", b"_": b"x"}, None),
        ({b"IFS": b"x"}, "IFS is set"),
        ({b"OPTIND": b"3"}, "OPTIND is set"),
        ({b"PPID": b"1"}, "PPID is set"),
        ({b"PATH": b"/usr/bin%builtin:/bin"}, {"dash": "'%' in PATH", "busybox": "'%' in PATH"}),
        ({b"PATH": None}, "PATH is unset"),
        ({b"BASH_FUNC_ls%%": b"() { echo function; }"}, {"bash": "an exported bash function (BASH_FUNC_ls%%)"}),
    ],
)
def test_environment_reason_matches_what_the_shell_changes(
    tmp_path: Path, change: Dict[bytes, Optional[bytes]], reason: Union[str, Dict[str, str], None]
) -> None:
    """environment_reason is None exactly when shim reproduces what /bin/sh hands a program.

    Each case runs ``/usr/bin/env -0`` through ``/bin/sh -c`` from the
    current directory: where no reason is given, the program sees exactly,
    in order, the environment shim computes for it; where one is given, it
    sees something else than the environment as it is (so each check is
    needed), except for PATH, which changes the program lookup and not
    the environment.
    """
    shell = platform.shell()
    if isinstance(reason, dict):
        reason = reason.get(shell.kind)
    cwd = os.getcwd()
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    os.chdir(real)
    try:
        here = os.fsencode(str(real))
        environ = _base_environ(str(real))
        for key, value in change.items():
            if value is None:
                environ.pop(key, None)
            else:
                environ[key] = (
                    value.replace(b"@CWD@", here).replace(b"@BASE@", os.fsencode(real.name)).replace(b"@LINK@", os.fsencode(str(link)))
                )
        assert environment_reason(environ) == reason
        if reason is not None and reason.startswith(("PATH", "'%'")):
            return
        seen = _environment_seen(environ, True, str(real), ordered=True)
        if reason is None:
            expected = program_environment(shell, environ, _ENV_DUMP)
            assert seen == [b"%s=%s" % item for item in expected.items()]  # type: ignore[union-attr]
        else:
            assert sorted(seen) != _environment_seen(environ, False, str(real))
    finally:
        os.chdir(cwd)


@needs_shell_free
@pytest.mark.skipif(
    not os.path.exists("/proc/self/status") or not os.path.exists("/bin/grep"), reason="needs /proc and /bin/grep"
)
def test_environment_reason_sees_blocked_signals() -> None:
    """A blocked signal is a reason exactly where /bin/sh would hand the program another mask.

    dash unblocks every signal; bash keeps them blocked but SIGCHLD; BusyBox
    ash keeps them all (``tests/test_shells.py`` goes through every signal).
    """
    code = textwrap.dedent(
        """
        import os, signal, subprocess
        from shim._runtime.shellfree import environment_reason
        def blocked(argv):
            out = subprocess.run(argv, stdout=subprocess.PIPE, check=True, restore_signals=False).stdout
            return [l for l in out.splitlines() if l.startswith(b"SigBlk")]
        grep = [b"/bin/grep", b"SigBlk", b"/proc/self/status"]
        def same():
            return blocked(grep) == blocked([b"/bin/sh", b"-c", b" ".join(grep)])
        print(environment_reason(), same())
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
        print(environment_reason(), same())
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
        print(environment_reason(), same())
        """
    )
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent), PWD=os.getcwd(), DASH=str(DASH))
    env.pop("IFS", None)
    proc = subprocess.run([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=False)
    assert proc.returncode == 0, proc.stderr
    lines = [line.rsplit(" ", 1) for line in proc.stdout.splitlines()]
    assert lines[0] == ["None", "True"]
    assert all((reason == "None") == (same == "True") for reason, same in lines), lines
    kind = platform.shell().kind
    assert [reason for reason, _ in lines] == {
        "dash": ["None", "blocked signals", "blocked signals"],
        "bash": ["None", "None", "SIGCHLD is blocked"],
        "busybox": ["None", "None", "None"],
    }[kind]


@needs_shell_free
def test_environment_reason_reads_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without an argument, the process's own environment is checked."""
    monkeypatch.setenv("PWD", os.getcwd())
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    for name in ("IFS", "OPTIND", "PPID"):
        monkeypatch.delenv(name, raising=False)
    for name in list(os.environ):
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            monkeypatch.delenv(name)
    if not signal.pthread_sigmask(signal.SIG_BLOCK, ()):
        assert environment_reason() is None
    monkeypatch.setenv("OPTIND", "1")
    assert environment_reason() == "OPTIND is set"


@needs_dash
def test_environment_order_is_the_order_dash_passes() -> None:
    """environment_order gives the order in which dash hands variables to a program.

    Random environments (names that share dash's hash chains, dash's own
    variables among them) go through ``dash -c '/usr/bin/env -0'``; the
    names come back in exactly the computed order.
    """
    assert DASH is not None
    run_seed = int(os.environ.get("SHIM_TEST_SEED") or random.SystemRandom().randrange(2**32))
    print(f"seed {run_seed} (replay with SHIM_TEST_SEED={run_seed})")
    rng = random.Random(run_seed)
    pool = [
        b"MAIL", b"MAILPATH", b"PS1", b"PS2", b"PS4", b"LINENO", b"TERM", b"HISTSIZE", b"ATTY",
        b"HOME", b"ENV", b"SHLVL", b"_", b"CDPATH", b"OLDPWD", b"LANG", b"USER",
    ]
    cwd = os.fsencode(os.getcwd())
    for _ in range(40):
        names = rng.sample(pool, rng.randrange(len(pool)))
        names += [
            bytes(rng.choice(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ_abc") for _ in range(rng.randrange(1, 4)))
            for _ in range(rng.randrange(40))
        ]
        names += [b"PATH", b"PWD"]
        rng.shuffle(names)
        environ = dict.fromkeys(names, b"v")
        environ.update({b"PATH": b"/usr/bin:/bin", b"PWD": cwd})
        assert environment_reason(environ, "dash") is None
        out = subprocess.run(
            [b"sh", b"-c", _ENV_DUMP + b" -0"], executable=DASH, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True
        ).stdout
        seen = [entry.split(b"=", 1)[0] for entry in out.split(b"\0")[:-1]]
        assert seen == environment_order(environ), list(environ)


# --- shell_status ----------------------------------------------------------------------------

_NOT_FATAL = {"SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGCHLD", "SIGCONT", "SIGURG", "SIGWINCH"}


def _fatal_signals() -> List[int]:
    names = {s.value: s.name for s in signal.Signals}
    rt = range(signal.SIGRTMIN, signal.SIGRTMAX + 1) if hasattr(signal, "SIGRTMIN") else range(0)
    return [n for n in range(1, 65) if (n in names and names[n] not in _NOT_FATAL) or n in rt]


def _raw_status(argv: List[str], cwd: Optional[str] = None) -> int:
    proc = subprocess.Popen(argv, cwd=cwd, stderr=subprocess.DEVNULL)  # restore_signals: SIGPIPE fatal
    _, status = os.waitpid(proc.pid, 0)
    proc.returncode = 0  # collected above
    return status


@needs_dash
def test_shell_status_matches_dash_for_every_signal() -> None:
    """A program killed by signal n: dash exits 128 + n and names the signal on stderr.

    The program is a shell that kills itself (``kill -n $$``); run directly
    it gives the raw status, run from dash it gives dash's exit code and
    message, for every signal whose default action ends a process,
    real-time signals included.
    """
    assert DASH is not None
    for sig in _fatal_signals():
        script = f"kill -{sig} $$"
        raw = _raw_status([DASH, "-c", script])
        assert raw & 0x7F == sig, (sig, raw)
        outer = subprocess.run([DASH, "-c", f"{DASH} -c '{script}'"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
        assert shell_status(raw) == (outer.returncode << 8, outer.stderr), sig


@pytest.mark.parametrize("code", [0, 1, 2, 126, 127, 128, 130, 255])
def test_shell_status_passes_exit_codes_through(code: int) -> None:
    """An exit code reaches os.system unchanged, and the shell writes nothing."""
    raw = _raw_status(["/bin/sh", "-c", f"exit {code}"])
    outer = subprocess.run(["/bin/sh", "-c", f"/bin/sh -c 'exit {code}'"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    assert shell_status(raw) == (outer.returncode << 8, outer.stderr) == (code << 8, b"")


def test_shell_status_keeps_an_uncollected_status() -> None:
    """-1 (the status could not be collected) is not a signal death."""
    assert shell_status(-1) == (-1, b"")


@needs_dash
@needs_compiler
def test_shell_status_reports_a_core_dump(tmp_path: Path) -> None:
    """A program that dumps core: dash adds " (core dumped)" to the message."""
    compiler = str(COMPILER)
    source = tmp_path / "abort.c"
    source.write_text("#include <stdlib.h>\nint main(void) { abort(); }\n")
    subprocess.run([compiler, "-o", str(tmp_path / "abort"), str(source)], check=True)
    script = "ulimit -c unlimited 2>/dev/null; "
    raw = _raw_status([str(DASH), "-c", script + "exec ./abort"], cwd=str(tmp_path))
    if not raw & 0x80:
        pytest.skip("this system does not dump cores here (ulimit or core_pattern)")
    outer = subprocess.run([str(DASH), "-c", script + "./abort"], cwd=str(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    assert shell_status(raw) == (outer.returncode << 8, outer.stderr)
    assert outer.stderr.endswith(b" (core dumped)\n")
