"""``shim fix``: each rewrite keeps what the program sees, each refusal says why, the legacy app."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING, Dict, List, Optional, Tuple

import pytest
from shim._tools import cli as _cli
from shim._tools.fix import rewrite as _rewrite
from shim._tools.scan import changes as _changes

from conftest import ROOT, child_env, shim_process

if TYPE_CHECKING:
    from pathlib import Path

DATA = ROOT / "tests" / "data" / "legacy_app"


def fix(source: str, *, unsafe: bool = False) -> Tuple[Optional[str], List[str]]:
    """Rewrite a snippet; return the new text (None if unchanged) and the reasons for calls left."""
    result = _rewrite.fix_source(textwrap.dedent(source).encode(), "snippet.py", unsafe=unsafe)
    new = None if result.new is None else result.new.decode()
    return new, [reason for _, reason in result.left]


def body(new: Optional[str]) -> str:
    """The rewritten snippet without the import lines, for comparing the calls."""
    assert new is not None
    return "\n".join(
        line for line in new.splitlines() if line and not line.startswith(("import ", "from "))
    ).split("-returncode\n")[-1]


def run_python(path: Path, cwd: Path, **env: str) -> subprocess.CompletedProcess[bytes]:
    """Run a program in a fresh interpreter, capturing stdout and stderr apart."""
    environment = child_env(**env)
    environment.pop("PYTHONUNBUFFERED", None)
    environment.update(env)
    return subprocess.run(
        [sys.executable, str(path)],
        cwd=cwd,
        env=environment,
        capture_output=True,
        check=False,
        timeout=60,
    )


# -- the rewrites, as text --------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ('os.system("ls -l")', 'subprocess.run("ls -l", shell=True, check=False)'),
        ("os.system(b'ls -l')", "subprocess.run(b'ls -l', shell=True, check=False)"),
        ('os.system("ls *.py")', 'subprocess.run("ls *.py", shell=True, check=False)'),
        ("os.system(cmd)", "subprocess.run(cmd, shell=True, check=False)"),
        ('os.system("cp " + a)', 'subprocess.run("cp " + a, shell=True, check=False)'),
        ('os.system(command="ls")', 'subprocess.run("ls", shell=True, check=False)'),
        ('os.system( command = "ls" )', 'subprocess.run( "ls", shell=True, check=False )'),
        ('getattr(os, "system")("ls")', 'subprocess.run("ls", shell=True, check=False)'),
        ('os.system(f"ls {d}")', 'subprocess.run(f"ls {d}", shell=True, check=False)'),
    ],
)
def test_safe_tier_keeps_the_shell(before: str, after: str) -> None:
    """By default the command keeps its shell: the status and messages are the shell's, as before."""
    new, left = fix(f"import os\n{before}\n")
    assert left == []
    assert body(new) == after


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ('os.system("ls -l")', 'subprocess.run(["ls", "-l"], check=False)'),
        ("os.system('ls -l')", "subprocess.run(['ls', '-l'], check=False)"),
        ("os.system(b'ls -l')", "subprocess.run([b'ls', b'-l'], check=False)"),
        ('os.system("ls *.py")', 'subprocess.run("ls *.py", shell=True, check=False)'),
        ("os.system(cmd)", "subprocess.run(cmd, shell=True, check=False)"),
        ('os.system(command="ls")', 'subprocess.run(["ls"], check=False)'),
        ('getattr(os, "system")("ls")', 'subprocess.run(["ls"], check=False)'),
        ('os.system(f"rm -rf {d}/build")', 'subprocess.run(["rm", "-rf", f"{d}/build"], check=False)'),
        ("os.system(f'cp {a!r} {b:>4}')", "subprocess.run(['cp', f'{a!r}', f'{b:>4}'], check=False)"),
        ('os.system("cp %s %s" % (a, b))', 'subprocess.run(["cp", str(a), str(b)], check=False)'),
        ('os.system("renice -n %d -p %d" % (n, pid))', 'subprocess.run(["renice", "-n", "%d" % (n,), "-p", "%d" % (pid,)], check=False)'),
        ('os.system("kill -%d %d" % (sig, pid))', 'subprocess.run("kill -%d %d" % (sig, pid), shell=True, check=False)'),
        ('os.system("rm -rf %s" % path)', 'subprocess.run(["rm", "-rf", str(path)], check=False)'),
        ('os.system(b"rm -rf %s" % (root.path,))', 'subprocess.run([b"rm", b"-rf", b"%s" % (root.path,)], check=False)'),
        ('os.system("cp " + src + " " + dst + "/")', 'subprocess.run(["cp", src, dst + "/"], check=False)'),
        ('os.system("tar -xf " + (name or "a.tar"))', 'subprocess.run(["tar", "-xf", (name or "a.tar")], check=False)'),
        ("os.system('grep -q \"%s\" log' % pattern)", "subprocess.run(['grep', '-q', str(pattern), 'log'], check=False)"),
        ('os.system(f"cd {d} && make")', 'subprocess.run(f"cd {d} && make", shell=True, check=False)'),
        ('os.system("ls %s | wc -l" % d)', 'subprocess.run("ls %s | wc -l" % d, shell=True, check=False)'),
        ('os.system("echo %d%%" % n)', 'subprocess.run("echo %d%%" % n, shell=True, check=False)'),
        ('os.system("a {}".format(x))', 'subprocess.run("a {}".format(x), shell=True, check=False)'),
    ],
)
def test_unsafe_tier_makes_argument_lists(before: str, after: str) -> None:
    """--unsafe-fixes: a literal or a template needing no shell becomes an argument list; the rest keep theirs."""
    new, left = fix(f"import os\n{before}\n", unsafe=True)
    assert left == []
    assert body(new) == after


def test_unsafe_rewrites_are_labelled_with_what_they_change() -> None:
    """Each unsafe rewrite lists its changes; a template also states what it assumes of its values."""
    result = _rewrite.fix_source(
        b'import os\nos.system("ls -l")\nos.system(f"rm -rf {d}")\nos.system("ls | wc")\n',
        "snippet.py",
        unsafe=True,
    )
    literal, template, shell = result.rewritten
    assert literal.tier == template.tier == "unsafe"
    assert literal.changes == ("program-not-started", "signal-report", "environment")
    assert template.changes == (*literal.changes, "word-splitting")
    assert template.assumption is not None
    assert template.assumption.startswith("assumes d: each interpolated value is one non-empty word")
    assert literal.assumption is None
    assert (shell.tier, shell.changes, shell.shell_free) == ("safe", (), False)
    assert literal.shell_free and template.shell_free
    for code in template.changes:
        assert code in _changes.CHANGES


def test_safe_run_offers_the_unsafe_fixes_without_applying_them() -> None:
    """Without --unsafe-fixes the argument lists are counted as available, not applied."""
    result = _rewrite.fix_source(b'import os\nos.system("ls -l")\nos.system("ls | wc")\n', "x.py")
    assert [applied.tier for applied in result.rewritten] == ["safe", "safe"]
    assert [finding.line for finding, _ in result.unsafe_available] == [2]


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("if os.system(c):\n    pass", "if subprocess.run(c, shell=True, check=False).returncode:\n    pass"),
        ("if not os.system(c):\n    pass", "if not subprocess.run(c, shell=True, check=False).returncode:\n    pass"),
        ("while os.system(c):\n    break", "while subprocess.run(c, shell=True, check=False).returncode:\n    break"),
        ("assert not os.system(c), 'x'", "assert not subprocess.run(c, shell=True, check=False).returncode, 'x'"),
        ("x = 1 if os.system(c) else 2", "x = 1 if subprocess.run(c, shell=True, check=False).returncode else 2"),
        ("y = [c for c in cs if os.system(c)]", "y = [c for c in cs if subprocess.run(c, shell=True, check=False).returncode]"),
        ("ok = os.system(c) == 0", "ok = subprocess.run(c, shell=True, check=False).returncode == 0"),
        ("ok = os.system(c) != 0", "ok = subprocess.run(c, shell=True, check=False).returncode != 0"),
        ("ok = 0 == os.system(c)", "ok = 0 == subprocess.run(c, shell=True, check=False).returncode"),
        ("os.system(c) or die()", "subprocess.run(c, shell=True, check=False).returncode or die()"),
        ("if os.system(a) and os.system(b):\n    pass", "if subprocess.run(a, shell=True, check=False).returncode and subprocess.run(b, shell=True, check=False).returncode:\n    pass"),
        ("if (os.system(c)):\n    pass", "if (subprocess.run(c, shell=True, check=False).returncode):\n    pass"),
        ("def f():\n    return os.system(c) == 0", "def f():\n    return subprocess.run(c, shell=True, check=False).returncode == 0"),
    ],
)
def test_truth_test_and_zero_comparison_become_returncode(before: str, after: str) -> None:
    """A status only tested for truth or compared with 0 becomes .returncode (0 exactly when status is 0)."""
    new, left = fix(f"import os\n{before}\n")
    assert left == []
    assert body(new) == after


RUN = "subprocess.run(c, shell=True, check=False)"


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("code = os.system(c) >> 8", f"code = max({RUN}.returncode, 0)"),
        ("code = (os.system(c)) >> 8", f"code = max({RUN}.returncode, 0)"),
        ("code = (os.system(c) >> 8) & 0xFF", f"code = (max({RUN}.returncode, 0)) & 0xFF"),
        ("code = os.WEXITSTATUS(os.system(c))", f"code = max({RUN}.returncode, 0)"),
        ("code = WEXITSTATUS(os.system(c))", f"code = max({RUN}.returncode, 0)"),
        ("code = os.waitstatus_to_exitcode(os.system(c))", f"code = {RUN}.returncode"),
        ("status = os.system(c)", f"status = _os_system_status({RUN}.returncode)"),
        ("status: int = os.system(c)", f"status: int = _os_system_status({RUN}.returncode)"),
        ("total += os.system(c)", f"total += _os_system_status({RUN}.returncode)"),
        ("def f():\n    return os.system(c)", f"def f():\n    return _os_system_status({RUN}.returncode)"),
        ("sys.exit(os.system(c))", f"sys.exit(_os_system_status({RUN}.returncode))"),
        ("print('status', os.system(c))", f"print('status', _os_system_status({RUN}.returncode))"),
        ("f(status=os.system(c))", f"f(status=_os_system_status({RUN}.returncode))"),
        ("sig = os.system(c) & 0x7f", f"sig = _os_system_status({RUN}.returncode) & 0x7f"),
        ("if os.system(c) == 256:\n    pass", f"if _os_system_status({RUN}.returncode) == 256:\n    pass"),
        ("x = os.system(c) or 1", f"x = _os_system_status({RUN}.returncode) or 1"),
        ("g = lambda: os.system(c)", f"g = lambda: _os_system_status({RUN}.returncode)"),
        ("def g():\n    yield os.system(c)", f"def g():\n    yield _os_system_status({RUN}.returncode)"),
    ],
)
def test_status_used_as_a_number_is_rebuilt(before: str, after: str) -> None:
    """Shifted, WEXITSTATUS, waitstatus_to_exitcode, stored, returned, passed on: the same number."""
    new, left = fix(f"import os, sys\nfrom os import WEXITSTATUS\n{before}\n")
    assert left == []
    assert body(new).split("\n\n\n")[-1] == after


def test_the_helper_is_added_once_after_the_imports() -> None:
    """_os_system_status is defined once, after the imports, with two blank lines around it."""
    new, _ = fix('"""Doc."""\nimport os\nimport sys\nA = 1\nx = os.system(a)\ny = os.system(b)\n')
    assert new == (
        '"""Doc."""\nimport os\nimport subprocess\nimport sys\n\n\n'
        "def _os_system_status(returncode: int) -> int:\n"
        '    """Return what os.system returned for a command that ended with ``returncode``."""\n'
        "    return returncode << 8 if returncode >= 0 else -returncode\n\n\n"
        "A = 1\n"
        "x = _os_system_status(subprocess.run(a, shell=True, check=False).returncode)\n"
        "y = _os_system_status(subprocess.run(b, shell=True, check=False).returncode)\n"
    )
    again, left = fix(new + "z = os.system(c)\n")
    assert left == []
    assert again is not None
    assert again.count("def _os_system_status") == 1


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("t = os.popen(c).read()", "t = subprocess.Popen(c, shell=True, stdout=subprocess.PIPE, text=True).stdout.read()"),
        ("t = os.popen(c, 'r').readlines()", "t = subprocess.Popen(c, shell=True, stdout=subprocess.PIPE, text=True).stdout.readlines()"),
        ("t = os.popen(c).readline().strip()", "t = subprocess.Popen(c, shell=True, stdout=subprocess.PIPE, text=True).stdout.readline().strip()"),
        ("for line in os.popen(c):\n    pass", "for line in subprocess.Popen(c, shell=True, stdout=subprocess.PIPE, text=True).stdout:\n    pass"),
        ("n = [x for x in os.popen(c)]", "n = [x for x in subprocess.Popen(c, shell=True, stdout=subprocess.PIPE, text=True).stdout]"),
        ("os.popen(c, mode='w').write(data)", "subprocess.Popen(c, shell=True, stdin=subprocess.PIPE, text=True).stdin.write(data)"),
    ],
)
def test_popen_read_by_lines_or_iterated_becomes_the_same_popen(before: str, after: str) -> None:
    """os.popen's file is Popen(...).stdout: reading or iterating it is exactly what os.popen did."""
    new, left = fix(f"import os\n{before}\n")
    assert left == []
    assert body(new) == after


def test_unsafe_tier_turns_a_whole_read_into_run() -> None:
    """--unsafe-fixes: os.popen(c).read() becomes subprocess.run(...).stdout, which waits for the command."""
    result = _rewrite.fix_source(
        b"import os\nt = os.popen('ls -l').read()\nu = os.popen(c).read()\nfor l in os.popen('ls'):\n    pass\n",
        "x.py",
        unsafe=True,
    )
    assert result.new is not None
    assert body(result.new.decode()) == (
        "t = subprocess.run(['ls', '-l'], stdout=subprocess.PIPE, text=True, check=False).stdout\n"
        "u = subprocess.run(c, shell=True, stdout=subprocess.PIPE, text=True, check=False).stdout\n"
        "for l in subprocess.Popen(['ls'], stdout=subprocess.PIPE, text=True).stdout:\n    pass"
    )
    literal, expression, iterated = result.rewritten
    assert "waits-for-exit" in literal.changes and "program-not-started" in literal.changes
    assert expression.changes == ("waits-for-exit",)
    assert iterated.changes == ("program-not-started", "signal-report", "environment")


@pytest.mark.parametrize(
    ("snippet", "reason"),
    [
        ("f = os.popen('ls')", "the file object is kept"),
        ("with os.popen('ls') as f:\n    pass", "with statement"),
        ("os.popen('ls', 'r', 1).read()", "unusual arguments"),
        ("os.popen('ls', mode).read()", "mode is not a literal"),
        ("os.system(*args)", "unusual arguments"),
        ("os.system('ls', 'extra')", "unusual arguments"),
        ("subprocess = None\nos.system('ls')", "'subprocess' means something else"),
        ("def f(subprocess):\n    os.system('ls')", "'subprocess' means something else"),
        ("_os_system_status = 3\nx = os.system('ls')", "the name _os_system_status means something else"),
        ("os.system('rm -rf /tmp/x')  # shim: ignore", "suppressed by '# shim: ignore'"),
        ("os.system(  # shim: ignore -- reviewed\n    'ls')", "suppressed"),
    ],
)
def test_calls_a_rewrite_cannot_follow_are_left_alone_with_the_reason(snippet: str, reason: str) -> None:
    """Kept file objects, odd arguments, taken names, suppression comments: unchanged, reason given."""
    new, left = fix(f"import os, sys\n{snippet}\n", unsafe=True)
    assert new is None
    assert left
    assert all(reason in text for text in left), left


def test_comments_and_formatting_are_kept() -> None:
    """Comments inside and after the call, line breaks and trailing commas survive the rewrite."""
    source = """\
        import os

        def build():
            # build everything
            os.system(
                "make all"  # the default target
            )
            os.system(
                "make install",
            )  # then install
            if os.system(  # tested
                cmd
            ):
                pass
        """
    new, _ = fix(source, unsafe=True)
    assert new == textwrap.dedent(
        """\
        import os
        import subprocess

        def build():
            # build everything
            subprocess.run(
                ["make", "all"], check=False  # the default target
            )
            subprocess.run(
                ["make", "install"], check=False,
            )  # then install
            if subprocess.run(  # tested
                cmd, shell=True, check=False
            ).returncode:
                pass
        """
    )
    safe, _ = fix(source)
    assert safe is not None
    assert '"make all", shell=True, check=False  # the default target' in safe


def test_comments_inside_a_concatenated_literal_are_kept() -> None:
    """Comments between the parts of a literal stay where they were (the shell form keeps the parts)."""
    new, _ = fix(
        """\
        import os
        os.system(
            "ls"  # the program
            " -l"  # long format
        )
        """
    )
    assert body(new) == textwrap.dedent(
        """\
        subprocess.run(
            "ls"  # the program
            " -l", shell=True, check=False  # long format
        )"""
    )

# -- the rewrites, as behaviour ---------------------------------------------------

BEHAVIOUR = """\
import os
import sys
from os import system as run


def report(label, value):
    print(label, value)


COMMANDS = ["true", "false", "exit 3", "kill -TERM $$", "sh -c 'exit 4'", "ls /", "ls /nonexistent"]

for command in COMMANDS:
    os.system(command)
    os.system("ls / > /dev/null")
    run("cat /dev/null")
    if os.system(command):
        report("failed", command)
    if not os.system(command):
        report("succeeded", command)
    report("zero", os.system(command) == 0)
    report("nonzero", 0 != os.system(command))
    report("ternary", "bad" if os.system(command) else "good")
    report("listed", [c for c in [command] if not os.system(c)])
    os.system(command) or report("or", command)
    os.system(command) and report("and", command)
    report("status", os.system(command))
    report("shifted", os.system(command) >> 8)
    report("exit status", os.WEXITSTATUS(os.system(command)))
    if hasattr(os, "waitstatus_to_exitcode"):
        report("exit code", os.waitstatus_to_exitcode(os.system(command)))
    report("masked", os.system(command) & 0x7F)
    for line in os.popen("echo " + command.replace("$", "")):
        report("popen line", line)
    report("popen read", os.popen("printf 'a\\\\nb'").read())
if os.system("sh -c 'exit 9'"):
    report("exit", "failed")
if not os.system("grep -q root /etc/passwd"):
    report("root", "found")
assert os.system("test -d /") == 0
status = os.system("exit 5")
report("status", status)
sys.stdout.flush()
sys.exit(os.system("exit 6"))
"""


@pytest.mark.parametrize("buffered", [True, False], ids=["buffered", "unbuffered"])
def test_safe_rewrites_keep_what_the_program_sees(tmp_path: Path, buffered: bool) -> None:
    """Every safe rewrite, over successes, failures and signals: same stdout, stderr and exit status."""
    before = tmp_path / "before.py"
    before.write_text(BEHAVIOUR)
    result = _rewrite.fix_source(BEHAVIOUR.encode(), str(before))
    assert result.new is not None
    assert result.left == []
    assert len(result.rewritten) == 23
    assert {applied.tier for applied in result.rewritten} == {"safe"}
    after = tmp_path / "after.py"
    after.write_bytes(result.new)
    assert b"os.system(" not in result.new and b"os.popen(" not in result.new
    env = {} if buffered else {"PYTHONUNBUFFERED": "1"}
    old = run_python(before, tmp_path, **env)
    new = run_python(after, tmp_path, **env)
    assert (new.stdout, new.stderr, new.returncode) == (old.stdout, old.stderr, old.returncode)
    # sys.exit(6 << 8): the process exit status is 1536 & 0xff, which os.system's status gave too.
    assert old.returncode == 0
    assert b"failed exit 3" in old.stdout
    assert b"status 15\n" in old.stdout  # kill -TERM $$: the shell killed by SIGTERM
    assert b"status 768\nshifted 3\nexit status 3\n" in old.stdout


def test_unsafe_argument_list_raises_where_the_shell_returned_127(tmp_path: Path) -> None:
    """The labelled difference of the argv form: a missing program raises instead of 127 << 8."""
    before = tmp_path / "before.py"
    before.write_text("import os\nprint(os.system('no-such-program-here --help'))\n")
    result = _rewrite.fix_source(before.read_bytes(), str(before), unsafe=True)
    assert result.new is not None
    (applied,) = result.rewritten
    assert "program-not-started" in applied.changes
    after = tmp_path / "after.py"
    after.write_bytes(result.new)
    old = run_python(before, tmp_path)
    new = run_python(after, tmp_path)
    assert old.stdout == b"32512\n"
    assert b"not found" in old.stderr
    assert new.returncode == 1
    assert b"FileNotFoundError" in new.stderr
    safe = _rewrite.fix_source(before.read_bytes(), str(before))
    assert safe.new is not None
    after.write_bytes(safe.new)
    same = run_python(after, tmp_path)
    assert same.stdout == old.stdout
    # The shell's own message names the shell as $0: the one difference every shell=True has.
    # (dash: "sh: 1: x: not found", bash: "sh: line 1: x: command not found").
    assert same.stderr == re.sub(rb"^sh:", b"/bin/sh:", old.stderr, flags=re.MULTILINE)


def test_program_killed_by_a_signal_is_the_known_difference_of_the_argv_form(tmp_path: Path) -> None:
    """Labelled signal-report: /bin/sh reports a program a signal killed ("Killed", 128 + n); argv does not.

    The truth value the rewrite keeps is the same (both fail); only the
    shell's own message and the status number differ.
    """
    before = tmp_path / "before.py"
    before.write_text(
        "import os\n"
        "if os.system(\"sh -c 'kill -KILL $$'\"):\n"
        "    print('failed')\n"
    )
    result = _rewrite.fix_source(before.read_bytes(), str(before), unsafe=True)
    assert result.new is not None
    assert "signal-report" in result.rewritten[0].changes
    assert b'subprocess.run(["sh", "-c", "kill -KILL $$"], check=False).returncode' in result.new
    after = tmp_path / "after.py"
    after.write_bytes(result.new)
    old = run_python(before, tmp_path)
    new = run_python(after, tmp_path)
    assert old.stdout == new.stdout == b"failed\n"
    assert new.stderr == b""
    assert old.stderr in (b"", b"Killed\n")  # dash says it, bash (which execs) does not


# -- the command line ------------------------------------------------------------


def test_diff_is_the_default_and_exits_1_without_touching_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """shim fix PATH prints a unified diff, exits 1, and leaves the file as it was."""
    code = tmp_path / "app.py"
    code.write_text("import os\nos.system('ls')\nstatus = os.system('ls') # shim: ignore\n")
    assert _cli.main(["fix", str(code)]) == 1
    captured = capsys.readouterr()
    assert captured.out.startswith(f"--- {code}\n+++ {code}\n@@ ")
    assert "\n-os.system('ls')\n" in captured.out
    assert "\n+import subprocess\n" in captured.out
    assert "\n+subprocess.run('ls', shell=True, check=False)\n" in captured.out
    assert "\n status = os.system('ls') # shim: ignore\n" in captured.out
    assert f"{code}:3:10: left alone: suppressed by '# shim: ignore'" in captured.err
    assert "would rewrite 1 call in 1 file (1 safe, 0 unsafe; 0 without a shell), left 1 alone" in captured.err
    assert "1 more call can drop the shell with --unsafe-fixes" in captured.err
    assert "every rewrite of os.system also changes what subprocess cannot keep" in captured.err
    assert code.read_text() == "import os\nos.system('ls')\nstatus = os.system('ls') # shim: ignore\n"


def test_unsafe_fixes_are_listed_with_their_changes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--unsafe-fixes: each rewrite that changes behaviour is named on stderr with what it changes."""
    code = tmp_path / "app.py"
    code.write_text("import os\nos.system('ls')\nos.system(f'rm {x}')\nos.system('ls | wc')\n")
    assert _cli.main(["fix", "--unsafe-fixes", str(code)]) == 1
    err = capsys.readouterr().err
    assert f"{code}:2:1: unsafe fix: changes program-not-started, signal-report, environment\n" in err
    assert (
        f"{code}:3:1: unsafe fix: changes program-not-started, signal-report, environment, "
        "word-splitting; assumes x: each interpolated value" in err
    )
    assert f"{code}:4:1" not in err
    assert "(1 safe, 2 unsafe; 2 without a shell)" in err


def test_json_lists_every_call_with_its_tier(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--format json: one document, every call rewritten or left, its tier and changes, and totals."""
    code = tmp_path / "app.py"
    code.write_text("import os\nos.system('ls')\nf = os.popen('ls')\n")
    assert _cli.main(["fix", "--format", "json", str(code)]) == 1
    document = json.loads(capsys.readouterr().out)
    first, second = document["calls"]
    assert first["action"] == "rewritten" and first["tier"] == "safe" and not first["shell_free"]
    assert first["unsafe_available"] is True
    assert first["unsafe_changes"] == ["program-not-started", "signal-report", "environment"]
    assert second["action"] == "left" and "file object is kept" in second["reason"]
    assert document["summary"] == {
        "files": 1, "files_changed": 1, "calls": 2, "rewritten": 1, "safe": 1, "unsafe": 0,
        "shell_free": 0, "left": 1, "unsafe_available": 1,
    }
    assert code.read_text() == "import os\nos.system('ls')\nf = os.popen('ls')\n"


@pytest.mark.skipif(shutil.which("patch") is None, reason="needs patch(1)")
def test_the_diff_applies_with_patch_and_gives_what_write_writes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Applying the printed diff with patch(1) gives exactly the file --write writes, even without a final newline."""
    source = "import os\n\nos.system('ls')\nx = os.system(cmd)"
    diffed = tmp_path / "diffed.py"
    written = tmp_path / "written.py"
    diffed.write_text(source)
    written.write_text(source)
    monkeypatch.chdir(tmp_path)  # patch(1) refuses absolute file names
    assert _cli.main(["fix", "--diff", "diffed.py"]) == 1
    diff = capsys.readouterr().out
    subprocess.run(["patch", "-s", "-p0"], input=diff, text=True, cwd=tmp_path, check=True)
    assert _cli.main(["fix", "--write", str(written)]) == 0
    assert diffed.read_bytes() == written.read_bytes()
    assert written.read_text() != source


def test_write_rewrites_in_place_and_a_second_run_finds_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--write exits 0; running it again changes nothing and exits 0; --diff then exits 0 too."""
    code = tmp_path / "app.py"
    code.write_text("import os\nif os.system('ls'):\n    pass\nrc = os.system('ls')\n")
    assert _cli.main(["fix", "--write", "--unsafe-fixes", str(code)]) == 0
    first = code.read_text()
    assert "subprocess.run(['ls'], check=False).returncode" in first
    capsys.readouterr()
    assert _cli.main(["fix", "--write", "--unsafe-fixes", str(code)]) == 0
    assert "rewrote 0 calls in 0 files" in capsys.readouterr().err
    assert code.read_text() == first
    assert _cli.main(["fix", str(code)]) == 0
    assert capsys.readouterr().out == ""


def test_unparsable_files_are_skipped_and_the_others_fixed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file that does not parse is named on stderr; the other files are still rewritten."""
    (tmp_path / "a_broken.py").write_text("import os\nos.system('ls'\n")
    good = tmp_path / "b_good.py"
    good.write_text("import os\nos.system('ls')\n")
    assert _cli.main(["fix", "--write", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert f"shim: skipped {tmp_path / 'a_broken.py'}:2: cannot parse" in err
    assert "subprocess.run('ls', shell=True, check=False)" in good.read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["fix", "no-such-file.py"], "no such file or directory: no-such-file.py"),
        (["fix", "--diff", "--write", "tests"], "not allowed with argument"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: List[str], message: str) -> None:
    """A missing path or contradictory options: one line on stderr, exit status 2."""
    result = shim_process(*args)
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1
    assert message in result.stderr


def test_no_path_and_no_configuration_is_exit_2(tmp_path: Path) -> None:
    """Without PATH and without [tool.shim] paths there is nothing to fix: one line, status 2."""
    result = shim_process("fix", cwd=tmp_path)
    assert result.returncode == 2
    assert "no PATH given" in result.stderr


def test_fix_needs_no_optional_dependency(tmp_path: Path) -> None:
    """shim fix edits the text itself: it runs without libcst (the 'fix' extra is kept, empty)."""
    code = tmp_path / "app.py"
    code.write_text("import os\nos.system('ls')\n")
    program = (
        "import sys; sys.modules['libcst'] = None\n"
        "from shim._tools.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program, "fix", "--write", str(code)],
        env=child_env(), capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "subprocess.run('ls', shell=True, check=False)" in code.read_text()


# -- the legacy program, end to end ---------------------------------------------------


@pytest.mark.parametrize("unsafe", [False, True], ids=["safe", "unsafe"])
@pytest.mark.parametrize("buffered", [True, False], ids=["buffered", "unbuffered"])
def test_legacy_app_rewritten_with_write_prints_the_same_bytes(
    tmp_path: Path, buffered: bool, unsafe: bool
) -> None:
    """Run the legacy app, rewrite it with shim fix --write, run it again: same output, same status.

    Its programs all exist and none is killed, so even the unsafe rewrites
    (argument lists) give the same bytes here.
    """
    before = tmp_path / "before"
    after = tmp_path / "after"
    shutil.copytree(DATA, before)
    shutil.copytree(DATA, after)
    program = after / "backup.py"
    fixed = shim_process("fix", "--write", *(["--unsafe-fixes"] if unsafe else []), str(program))
    assert fixed.returncode == 0, fixed.stderr
    text = program.read_text()
    assert "os.system(" not in text and "getattr(os" not in text
    assert text.count("import subprocess\n") == 1
    if unsafe:
        assert 'subprocess.run(["mkdir", "-p", "archive"], check=False)' in text
        assert 'subprocess.run(["cp", source, ARCHIVE + "/"], check=False).returncode' in text
    else:
        assert 'subprocess.run("mkdir -p archive", shell=True, check=False)' in text
    assert 'subprocess.run("echo preparing the archive >&2", shell=True, check=False)' in text
    assert (
        'status = _os_system_status(subprocess.run("exit 3", shell=True, check=False).returncode)'
        in text
    )
    assert "left 0 alone" in fixed.stderr

    env: Dict[str, str] = {} if buffered else {"PYTHONUNBUFFERED": "1"}
    old = run_python(before / "backup.py", before, **env)
    new = run_python(program, after, **env)
    assert old.returncode == 3
    assert b"backup: copied 2 of 3 files" in old.stdout
    assert b"cp: cannot stat" in old.stderr
    assert new.stdout == old.stdout
    assert new.stderr == old.stderr
    assert new.returncode == old.returncode
    assert sorted(os.listdir(after / "archive")) == sorted(os.listdir(before / "archive"))


# -- writing files: nothing lost, byte for byte (issue 9, item 10) --------------------


@pytest.mark.parametrize("final", [True, False], ids=["final-break", "no-final-break"])
@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"], ids=["lf", "crlf", "cr"])
def test_every_line_ending_style_round_trips_byte_for_byte(
    tmp_path: Path, newline: str, final: bool
) -> None:
    """LF, CRLF and CR-only files: only the call changes, the added import has the file's line break."""
    lines = ["import os", "", "def f(cmd):", "    os.system(cmd)", "    return 1"]
    text = newline.join(lines) + (newline if final else "")
    code = tmp_path / "app.py"
    code.write_bytes(text.encode())
    assert _cli.main(["fix", "--write", str(code)]) == 0
    expected = text.replace("os.system(cmd)", "subprocess.run(cmd, shell=True, check=False)")
    expected = expected.replace(f"import os{newline}", f"import os{newline}import subprocess{newline}")
    assert code.read_bytes() == expected.encode()


def test_mixed_line_endings_are_each_kept(tmp_path: Path) -> None:
    """A file mixing line breaks keeps each one; the helper takes the break of the line it follows."""
    source = b"import os\r\nimport sys\n\nx = 1\rrc = os.system('ls')\r\nprint(rc)\n"
    code = tmp_path / "app.py"
    code.write_bytes(source)
    assert _cli.main(["fix", "--write", str(code)]) == 0
    new = code.read_bytes()
    assert new.startswith(b"import os\r\nimport subprocess\r\nimport sys\n\n\ndef _os_system_status(")
    assert new.endswith(
        b"\n\n\nx = 1\rrc = _os_system_status(subprocess.run('ls', shell=True, check=False)"
        b".returncode)\r\nprint(rc)\n"
    )


@pytest.mark.parametrize(
    ("source", "encoding"),
    [
        (b"\xef\xbb\xbfimport os\nos.system('echo \xc3\xa9')\n", "utf-8-sig"),
        (b"\xef\xbb\xbf# -*- coding: utf-8 -*-\r\nimport os\r\nos.system('echo \xc3\xa9')\r\n", "utf-8-sig"),
        (b"# -*- coding: latin-1 -*-\r\nimport os\r\nos.system('echo \xe9')\r\nx = '\xfc'\r\n", "latin-1"),
        (b"# vim: set fileencoding=cp1252 :\nimport os\nos.system('echo \x80')\n", "cp1252"),
    ],
    ids=["bom", "bom-and-cookie-crlf", "latin-1-crlf", "cp1252"],
)
def test_encoding_declarations_and_bom_are_kept(tmp_path: Path, source: bytes, encoding: str) -> None:
    """The BOM, the coding cookie and the file's own encoding survive: only the call's bytes change."""
    code = tmp_path / "app.py"
    code.write_bytes(source)
    assert _cli.main(["fix", "--write", str(code)]) == 0
    new = code.read_bytes()
    text = source.decode(encoding)
    newline = "\r\n" if "\r\n" in text else "\n"
    expected = text.replace("os.system(", "subprocess.run(").replace("')", "', shell=True, check=False)")
    expected = expected.replace(f"import os{newline}", f"import os{newline}import subprocess{newline}")
    assert new == expected.encode(encoding)
    assert new.startswith(b"\xef\xbb\xbf") == source.startswith(b"\xef\xbb\xbf")


def test_a_file_with_nothing_to_rewrite_is_not_touched(tmp_path: Path) -> None:
    """No call to rewrite: the file is neither written nor replaced (same inode, same time)."""
    code = tmp_path / "app.py"
    code.write_bytes(b"import os\r\nx = os.system('ls')  # shim: ignore\r")
    before = code.stat()
    assert _cli.main(["fix", "--write", str(code)]) == 0
    after = code.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


BIG = "import os\n\n" + "".join(f"VALUE_{n} = {n}  # padding so the file is large\n" for n in range(200)) + "os.system('ls')\n"


def test_a_write_that_fails_leaves_the_file_whole(tmp_path: Path) -> None:
    """A write cut short (file size limit, full disk) leaves the file exactly as it was, and no temp file."""
    code = tmp_path / "app.py"
    code.write_text(BIG)
    limit = len(BIG) // 2

    def small_files() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    result = subprocess.run(
        [sys.executable, "-m", "shim", "fix", "--write", str(code)],
        env=child_env(), capture_output=True, text=True, check=False, preexec_fn=small_files,
    )
    assert result.returncode == 2, result.stderr
    assert f"cannot write {code}" in result.stderr
    assert code.read_text() == BIG
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.py"]


def test_a_file_changed_after_it_was_read_is_not_overwritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An edit saved between shim's read and its write is kept: the file is refused, exit status 2."""
    code = tmp_path / "app.py"
    code.write_text("import os\nos.system('ls')\n")
    other = tmp_path / "other.py"
    other.write_text("import os\nos.system('ls')\n")
    real = _rewrite.fix_source

    def racing(data: bytes, path: str, **options: bool) -> _rewrite.FileResult:
        result = real(data, path, **options)
        if path == str(code):
            code.write_text("import os\nos.system('ls')\n# saved by the editor meanwhile\n")
        return result

    monkeypatch.setattr(_rewrite, "fix_source", racing)
    assert _cli.main(["fix", "--write", str(code), str(other)]) == 2
    assert code.read_text().endswith("# saved by the editor meanwhile\n")
    assert "os.system('ls')" in code.read_text()
    assert f"cannot write {code}: it changed since it was read" in capsys.readouterr().err
    assert "subprocess.run" in other.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.py", "other.py"]


def test_mode_and_owner_are_kept(tmp_path: Path) -> None:
    """The rewritten file keeps its permission bits, and (as root) its owner and group."""
    code = tmp_path / "app.py"
    code.write_text("import os\nos.system('ls')\n")
    code.chmod(0o751)
    owner = (4321, 4322) if os.geteuid() == 0 else (os.getuid(), os.getgid())
    if os.geteuid() == 0:
        os.chown(code, *owner)
    assert _cli.main(["fix", "--write", str(code)]) == 0
    status = code.stat()
    assert status.st_mode & 0o7777 == 0o751
    assert (status.st_uid, status.st_gid) == owner
    assert "subprocess.run" in code.read_text()


def test_a_symlink_stays_a_link_and_a_hard_link_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Through a symlink the real file is replaced; a file with hard links is refused (exit 2)."""
    real = tmp_path / "real.py"
    real.write_text("import os\nos.system('ls')\n")
    link = tmp_path / "link.py"
    link.symlink_to(real)
    assert _cli.main(["fix", "--write", str(link)]) == 0
    assert link.is_symlink()
    assert "subprocess.run" in real.read_text()
    first = tmp_path / "first.py"
    first.write_text("import os\nos.system('ls')\n")
    os.link(first, tmp_path / "second.py")
    capsys.readouterr()
    assert _cli.main(["fix", "--write", str(first)]) == 2
    assert "hard links" in capsys.readouterr().err
    assert (tmp_path / "second.py").read_text() == first.read_text() == "import os\nos.system('ls')\n"


def test_a_fifo_named_py_is_skipped_not_waited_on(tmp_path: Path) -> None:
    """A FIFO among the files is named and skipped at once; the other files are still fixed."""
    os.mkfifo(tmp_path / "pipe.py")
    good = tmp_path / "good.py"
    good.write_text("import os\nos.system('ls')\n")
    result = subprocess.run(
        [sys.executable, "-m", "shim", "fix", "--write", str(tmp_path)],
        env=child_env(), capture_output=True, text=True, check=False, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert f"skipped {tmp_path / 'pipe.py'}: cannot read: a FIFO, not a regular file" in result.stderr
    assert "subprocess.run" in good.read_text()


# -- safe first, unsafe later ---------------------------------------------------------


def test_the_unsafe_tier_applies_after_the_safe_one_was_written() -> None:
    """A file rewritten in the safe tier (shell=True) takes the unsafe tier later: same lists as at once."""
    source = (
        "import os\nos.system('ls -l')\nrc = os.system(f'rm -rf {d}')\n"
        "t = os.popen('ls').readlines()\nos.system('ls | wc')\n"
    )
    safe, _ = fix(source)
    assert safe is not None
    assert _rewrite.fix_source(safe.encode(), "x.py").new is None  # nothing more in the safe tier
    later = _rewrite.fix_source(safe.encode(), "x.py", unsafe=True)
    at_once, _ = fix(source, unsafe=True)
    assert later.new is not None
    assert later.new.decode() == at_once
    assert [applied.tier for applied in later.rewritten] == ["unsafe", "unsafe", "unsafe"]
    assert later.rewritten[1].assumption is not None


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (
            "subprocess.run('make all', shell=True, cwd=d, capture_output=True)",
            "subprocess.run(['make', 'all'], cwd=d, capture_output=True)",
        ),
        (
            "out = subprocess.check_output(\n    'git rev-parse HEAD',\n    shell=True,\n    text=True,\n)",
            "out = subprocess.check_output(\n    ['git', 'rev-parse', 'HEAD'],\n    text=True,\n)",
        ),
        ("subprocess.call('ls | wc', shell=True)", None),
        ("subprocess.run('ls', shell=True, executable='/bin/bash')", None),
        ("subprocess.run(cmd, shell=True)", None),
        ("subprocess.run('ls', shell=flag)", None),
        ("subprocess.run('ls', shell=True)  # shim: ignore", None),
        ("subprocess.run('ls',  # why\n    shell=True)", None),
    ],
)
def test_existing_shell_true_calls_take_the_unsafe_tier(before: str, after: Optional[str]) -> None:
    """The program's own shell=True calls: a list when the command needs no shell, else untouched."""
    new, left = fix(f"import subprocess\n{before}\n", unsafe=True)
    assert left == []
    if after is None:
        assert new is None
    else:
        assert body(new) == after
    untouched, _ = fix(f"import subprocess\n{before}\n")
    assert untouched is None
