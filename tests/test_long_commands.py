"""Commands the kernel will not let ``/bin/sh -c`` take: plain ``os.system`` runs nothing.

``execve`` refuses an argument longer than ``MAX_ARG_STRLEN`` (32 pages,
128 KiB here) and an argv and environment larger than its limit (a quarter
of ``RLIMIT_STACK``, at least 128 KiB) with E2BIG, so plain ``os.system``
returns ``127 << 8`` and nothing runs.  A shell-free run splits the same
command into short words and would run it: in ``auto`` and ``never`` mode
the shim must give plain's outcome, at every length around the limits.
"""

import json
import os
import posix
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Dict, List

import pytest
import shim
from shim._common import platform as _env

from conftest import child_env

pytestmark = pytest.mark.skipif(not _env.SHELL_IS_DASH, reason="shell-free runs need /bin/sh to be dash")

#: MAX_ARG_STRLEN: 32 pages.
MAX_ARG_STRLEN = 32 * os.sysconf("SC_PAGE_SIZE")


def touching(length: int, *, syntax: bool = False, few: bool = False) -> str:
    """A command of exactly ``length`` bytes that creates the file ``ran`` if it runs.

    Without shell syntax it can run without ``/bin/sh`` (``touch ran z z ...``);
    with ``syntax``, it needs the shell (``touch ran;: z z ...``).  ``few``:
    one long word instead of many short ones, so the program's argv is
    about as large as the shell's.
    """
    head = "touch ran;:" if syntax else "touch ran"
    filler = length - len(head)
    if few:
        words = " " + "z" * (filler - 1)
    else:
        words = " z" * (filler // 2)
        if filler % 2:
            words = " zz" + words[2:] if words else " "
    command = head + words
    assert len(command) == length, (len(command), length)
    return command


def outcome(run: Any, command: str, directory: Path) -> List[Any]:
    """What ``run(command)`` returned or raised in ``directory``, and whether the command ran."""
    directory.mkdir()
    here, pwd = os.getcwd(), os.environ.get("PWD")
    os.chdir(directory)
    # As a shell would set it; a stale PWD would keep shell="auto" on the shell path.
    os.environ["PWD"] = str(directory)
    try:
        try:
            result: Any = run(command)
        except Exception as exc:
            result = type(exc).__name__
        return [result, (directory / "ran").exists()]
    finally:
        os.chdir(here)
        if pwd is None:
            os.environ.pop("PWD", None)
        else:
            os.environ["PWD"] = pwd


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with PWD naming it, as a shell would have set it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PWD", str(tmp_path))
    return tmp_path


LENGTHS = [MAX_ARG_STRLEN + delta for delta in (-3, -2, -1, 0, 1, 2, 3, 100)]


@pytest.mark.parametrize("mode", ["auto", "never"])
def test_one_argument_too_long_for_the_shell(workdir: Path, mode: str) -> None:
    """Around MAX_ARG_STRLEN, each length gives plain os.system's status and runs exactly when plain runs."""
    found = []
    for length in LENGTHS:
        command = touching(length)
        # Plain in a directory of the same name length: PWD stays as long.
        plain = outcome(posix.system, command, workdir / f"p{length}")
        shim.install(shell=mode)
        try:
            shimmed = outcome(os.system, command, workdir / f"s{length}")
        finally:
            shim.uninstall()
        found.append((length, plain, shimmed))
    assert [row[1] for row in found] == [row[2] for row in found], found
    # Both sides of the limit were seen.
    assert {row[1][1] for row in found} == {True, False}


def test_never_mode_gives_plain_status_even_for_shell_syntax(workdir: Path) -> None:
    """Too long for sh -c: never mode returns 127 << 8 as plain does, instead of refusing."""
    for length in (MAX_ARG_STRLEN, MAX_ARG_STRLEN + 1000):
        command = touching(length, syntax=True)
        plain = outcome(posix.system, command, workdir / f"p{length}")
        shim.install(shell="never")
        try:
            shimmed = outcome(os.system, command, workdir / f"s{length}")
        finally:
            shim.uninstall()
        assert plain == shimmed == [127 << 8, False]


def test_a_long_command_within_the_limits_runs_directly(workdir: Path, popen_events: List[Any]) -> None:
    """Well below the limits nothing changes: a long command still runs without the shell."""
    shim.install(shell="auto")
    assert outcome(os.system, touching(60000), workdir / "s") == [0, True]
    assert os.fsencode(popen_events[-1][0]).endswith(b"/touch")


BOUNDARY_SCRIPT = textwrap.dedent(
    """
    import json, os, posix, resource, sys
    sys.path.insert(0, os.environ["TESTS_DIR"])
    from test_long_commands import touching, outcome
    from pathlib import Path
    import shim
    # A quarter of this stack limit is under 128 KiB: execve's limit is then
    # exactly 128 KiB for argv and environment together.
    resource.setrlimit(resource.RLIMIT_STACK, (256 * 1024, resource.RLIM_INFINITY))
    # An environment of 96 KiB: the total reaches the limit long before one
    # argument reaches MAX_ARG_STRLEN.
    os.environ["T_PADDING"] = "p" * (96 * 1024)
    work = Path(os.getcwd())
    # As long as the PWD that outcome() sets for each run.
    os.environ["PWD"] = str(work / "p00000000")
    def fits(length):
        return posix.system(": " + "x" * (length - 2)) == 0
    low, high = 1000, 131072
    while high - low > 1:
        middle = (low + high) // 2
        if fits(middle):
            low = middle
        else:
            high = middle
    rows = []
    for mode in ("auto", "never"):
        for few in (False, True):
            for length in range(low - 60, low + 4):
                command = touching(length, few=few)
                name = f"{mode[0]}{int(few)}{length:06d}"
                plain = outcome(posix.system, command, work / ("p" + name))
                shim.install(shell=mode)
                try:
                    shimmed = outcome(os.system, command, work / ("s" + name))
                finally:
                    shim.uninstall()
                rows.append([mode, few, length, plain, shimmed])
    print(json.dumps({"limit": low, "rows": rows}))
    """
)


def test_argv_and_environment_too_large_together(tmp_path: Path) -> None:
    """Around the limit for argv and environment together, each length gives plain os.system's outcome."""
    proc = subprocess.run(
        [sys.executable, "-c", BOUNDARY_SCRIPT],
        env=child_env(TESTS_DIR=os.path.dirname(__file__), PWD=str(tmp_path)),
        cwd=str(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        universal_newlines=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    data: Dict[str, Any] = json.loads(proc.stdout.splitlines()[-1])
    assert data["limit"] < MAX_ARG_STRLEN - 1000  # the total limit, not the per-argument one
    mismatches = [row for row in data["rows"] if not same_outcome(row[0], row[3], row[4])]
    assert mismatches == [], mismatches
    # Both sides of the limit were seen, and commands that ran.
    assert {row[3][0] == 127 << 8 for row in data["rows"]} == {True, False}
    assert any(row[3][1] for row in data["rows"])


def same_outcome(mode: str, plain: List[Any], shimmed: List[Any]) -> bool:
    """Whether the shim gave plain's outcome; never mode may refuse what only a shell would run.

    Just under the limit ``sh -c`` starts, but its ``exec`` of the program
    (more words, so more pointers) fails: plain prints the shell's message
    and returns 126 << 8.  Never mode refuses such a command ("program
    cannot be executed directly"), as it refuses a script without ``#!``.
    """
    if plain == shimmed:
        return True
    return mode == "never" and plain[0] != 127 << 8 and shimmed == ["ShellRequiredError", False]
