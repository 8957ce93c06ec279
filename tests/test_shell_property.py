"""Property tests: whenever the analysis says "no shell", the real shell agrees.

Command strings are generated from words made of plain text, single- and
double-quoted strings, backslash escapes, blanks, non-ASCII text and raw
bytes, shell metacharacters and the names of builtins and reserved words.
For every command ``analyze`` runs without a shell, the real ``/bin/sh``
(dash; bash and BusyBox ash started as ``sh`` too, with fewer examples) runs the same
string and reports the argv it executed (see ``ShellProbe`` in
``test_shell_analysis.py`` for why that report is exact).

The seed is printed on failure; ``SHIM_TEST_SEED=<n>`` replays a run.
"""

import os
import random
import shutil
import tempfile
from pathlib import Path
from typing import Dict, Iterator, List

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from shim._common.syntax import analyze

from conftest import characters
from test_shell_analysis import BASH, DASH, ShellProbe

# --- the generator ---------------------------------------------------------------------------
# A command is decoded from a short byte string: the first bytes pick leading
# blanks, the command name and what follows it, every further byte picks one
# token.  Drawing bytes is several times cheaper for hypothesis than drawing
# lists or text, so thousands of examples fit in a few seconds; tokens glue
# into every combination of quoting styles, and shrinking the bytes towards
# zero shrinks the command towards "prog".

_SAFE_ASCII = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./,:+@%^="
_SPECIAL_ASCII = "|&;<>()$`*?[]#~{}!'\"\\ \t\n\r"

_PLAIN: List[bytes] = [
    *(t.encode() for t in ["a", "b", "x", "abc", "X-Y", "1.5", "/tmp/x", "a,b:c", "@%^+", "-v", "--opt=v", "k=v", "=", "==", "_", ".", "..", "/", "-"]),
    *(t.encode() for t in ["\u00e9", "\u00df", "\u4e2d\u6587", "\U0001f600", "\u0085", "\u00a0", "\u2028"]),
    b"\xff", b"\x80\x81", b"\xc3", b"\x88\x87\x86", b"\xfe\xfd",
]
_QUOTED_CONTENT: List[bytes] = [
    b"", b" ", b"a b", b"\t", b"x\ny", b"*", b"[a]", b"~", b"#", b"!", b"{a,b}", b"|;&<>()",
    b"=", b"\xc3\xa9", b"\xff", b"--x",
]
_SINGLE_ONLY = [b"$x", b"`x`", b"\\", b"\\n", b'"', b'a"b', b"\\\n", b"$(x)"]
_DOUBLE_ONLY = [
    b"'", b"it's", b"\\\\", b'\\"', b"\\$", b"\\`", b"\\a", b"\\n", b"\\ ", b"\\'",
    b"\\\n", b"$x", b"`x`", b"\xff\\\\", b"a\\\\b", b"\\#",
]

#: Every token is listed once, blanks and plain text several times (weight).
_TOKENS: List[bytes] = [
    *([b" "] * 12), *([b"\t", b"  ", b" \t "] * 3),
    *(_PLAIN * 3),
    *(b"'" + c + b"'" for c in _QUOTED_CONTENT + _SINGLE_ONLY),
    *(b'"' + c + b'"' for c in _QUOTED_CONTENT + _DOUBLE_ONLY),
    *(b"\\" + c.encode() for c in "a-=/" + _SPECIAL_ASCII + "\u00e9"),
    *(c.encode() for c in _SPECIAL_ASCII if c not in " \t"),
    b"$x", b"${x}", b"$(x)", b"$((1))", b"&&", b"||", b"<<", b"2>&1", b"\x01", b"\x7f", b"\\",
]
assert len(_TOKENS) <= 256, len(_TOKENS)

_NAMES = [
    b"prog", b"ls", b"date", b"sub/prog", b"./prog", b"echo", b"printf", b"test", b"[", b"true",
    b"false", b"kill", b"pwd", b"cd", b"exec", b"exit", b"export", b"read", b"set", b"ulimit",
    b"umask", b"command", b"type", b"if", b"for", b"while", b"case", b"!", b"{", b"time", b".",
    b":", b"eval", b"local", b"alias", b"wait", b"source", b"X=1", b"in", b"do", b"\xc3\xa9",
    b"%1", b"%prog", b"fc", b"let",
]
#: The command name: mostly a program, else any token or a builtin, keyword or
#: program name, bare or quoted in one of several ways.
_FIRST: List[bytes] = [
    *([b"prog", b"ls", b"date", b"./prog", b"sub/prog", b"'prog'", b'"ls"', b"d\\ate"] * 40),
    *(t for t in _TOKENS if t.strip(b" \t")),
    *(
        v
        for n in _NAMES
        for v in (n, b"'" + n + b"'", b'"' + n + b'"', n[:1] + b"''" + n[1:], b"\\" + n)
    ),
]


def _decode(data: bytes) -> bytes:
    """The command string that ``data`` (at least 4 bytes) stands for."""
    blanks = (b"", b"", b" ", b"\t")[data[0] % 4]
    first = _FIRST[(data[1] << 8 | data[2]) % len(_FIRST)]
    after = (b" ", b" ", b" ", b"\t", b"")[data[3] % 5]
    return blanks + first + after + b"".join(_TOKENS[b % len(_TOKENS)] for b in data[4:])


commands = st.binary(min_size=4, max_size=14).map(_decode)


# --- the properties --------------------------------------------------------------------------


def _seed() -> int:
    value = os.environ.get("SHIM_TEST_SEED")
    return int(value) if value else random.SystemRandom().randrange(2**32)


@pytest.fixture(scope="module")
def probe_root() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="shim-shell-prop-") as tmp:
        yield Path(tmp)


def _agrees_with(probe: ShellProbe, examples: int) -> Dict[str, int]:
    """Check ``examples`` generated commands against the probe's shell; return the tallies."""
    tally = {"direct": 0, "shell": 0, "unplaceable": 0}
    run_seed = _seed()
    print(f"hypothesis seed {run_seed} (replay with SHIM_TEST_SEED={run_seed})")

    @seed(run_seed)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=False,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(command=commands)
    def check(command: bytes) -> None:
        result = analyze(command)
        assert (result.argv is None) != (result.reason is None)
        if result.argv is None:
            tally["shell"] += 1
            return
        if probe.place(result.argv[0]) is None:
            tally["unplaceable"] += 1
            return
        tally["direct"] += 1
        mismatch = probe.check(command, result.argv)
        assert mismatch is None, mismatch

    check()
    return tally


@pytest.mark.slow
@pytest.mark.skipif(DASH is None, reason="dash is not installed")
def test_direct_argv_equals_what_dash_executes(probe_root: Path) -> None:
    """For thousands of generated commands, every "no shell" answer is dash's own argv.

    A fair share of the examples must take the no-shell path, so the property
    cannot hold vacuously.
    """
    assert DASH is not None
    tally = _agrees_with(ShellProbe(probe_root / "dash", DASH), examples=2000)
    total = sum(tally.values())
    assert tally["direct"] >= 0.25 * total, tally
    assert tally["shell"] >= 0.25 * total, tally


@pytest.mark.skipif(BASH is None, reason="bash is not installed")
def test_direct_argv_equals_what_bash_as_sh_executes(probe_root: Path) -> None:
    """Where /bin/sh is bash (POSIX mode), the "no shell" answers hold as well."""
    assert BASH is not None
    tally = _agrees_with(ShellProbe(probe_root / "bash", BASH), examples=300)
    assert tally["direct"] >= 0.25 * sum(tally.values()), tally


BUSYBOX = shutil.which("busybox")


@pytest.mark.skipif(BUSYBOX is None, reason="BusyBox is not installed")
def test_direct_argv_equals_what_busybox_ash_executes(probe_root: Path) -> None:
    """Where /bin/sh is BusyBox ash (Alpine), the "no shell" answers hold as well."""
    assert BUSYBOX is not None
    tally = _agrees_with(ShellProbe(probe_root / "busybox", BUSYBOX), examples=300)
    assert tally["direct"] >= 0.25 * sum(tally.values()), tally


@settings(max_examples=1000, deadline=None, database=None)
@given(command=st.binary(max_size=64).map(lambda b: b.replace(b"\0", b"")))
def test_never_raises_on_arbitrary_bytes(command: bytes) -> None:
    """Any bytes without NUL give exactly one of argv and reason, and never raise."""
    result = analyze(command)
    assert (result.argv is None) != (result.reason is None)
    if result.argv is not None:
        assert result.argv and all(isinstance(a, bytes) for a in result.argv)


@settings(max_examples=300, deadline=None, database=None)
@given(command=st.text(alphabet=characters(exclude_categories=["Cs"], exclude_characters="\0")))
def test_str_and_bytes_agree(command: str) -> None:
    """A str command is analyzed as the bytes os.system would pass (os.fsencode)."""
    assert analyze(command) == analyze(os.fsencode(command))
