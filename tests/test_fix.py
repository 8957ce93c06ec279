"""``shim fix``: each rewrite keeps what the program sees, each refusal says why, the legacy app."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING, Dict, List, Optional, Tuple

import pytest
from shim._tools import cli as _cli
from shim._tools.fix import rewrite as _rewrite

from conftest import ROOT, child_env, shim_process

if TYPE_CHECKING:
    from pathlib import Path

pytest.importorskip("libcst", reason="shim fix needs the 'fix' extra")

DATA = ROOT / "tests" / "data" / "legacy_app"


def fix(source: str) -> Tuple[Optional[str], List[str]]:
    """Rewrite a snippet; return the new text (None if unchanged) and the reasons for calls left."""
    result = _rewrite.fix_source(textwrap.dedent(source).encode(), "snippet.py")
    new = None if result.new is None else result.new.decode()
    return new, [reason for _, reason in result.left]


def body(new: Optional[str]) -> str:
    """The rewritten snippet without the import lines, for comparing the calls."""
    assert new is not None
    return "\n".join(
        line for line in new.splitlines() if line and not line.startswith(("import ", "from "))
    )


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
        ('os.system("ls -l")', 'subprocess.run(["ls", "-l"], check=False)'),
        ("os.system('ls -l')", "subprocess.run(['ls', '-l'], check=False)"),
        ("os.system(b'ls -l')", "subprocess.run([b'ls', b'-l'], check=False)"),
        ('os.system("ls *.py")', 'subprocess.run("ls *.py", shell=True, check=False)'),
        ("os.system(cmd)", "subprocess.run(cmd, shell=True, check=False)"),
        ('os.system("cp " + a)', 'subprocess.run("cp " + a, shell=True, check=False)'),
        ('os.system(command="ls")', 'subprocess.run(["ls"], check=False)'),
        ('getattr(os, "system")("ls")', 'subprocess.run(["ls"], check=False)'),
        ('os.system(f"ls {d}")', 'subprocess.run(f"ls {d}", shell=True, check=False)'),
    ],
)
def test_statement_call_becomes_subprocess_run(before: str, after: str) -> None:
    """A call whose value is discarded: subprocess.run with an argv list, or shell=True."""
    new, left = fix(f"import os\n{before}\n")
    assert left == []
    assert body(new) == after


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


@pytest.mark.parametrize(
    ("snippet", "reason"),
    [
        ("status = os.system('ls')", "stored in a variable"),
        ("status: int = os.system('ls')", "stored in a variable"),
        ("total += os.system('ls')", "stored in a variable"),
        ("def f():\n    return os.system('ls')", "returned"),
        ("sys.exit(os.system('ls'))", "passed to another call"),
        ("print('status', os.system('ls'))", "passed to another call"),
        ("f(status=os.system('ls'))", "passed to another call"),
        ("code = os.system('ls') >> 8", "shifted"),
        ("sig = os.system('ls') & 0x7f", "masked"),
        ("n = os.system('ls') + 1", "arithmetic"),
        ("n = -os.system('ls')", "used as a value"),
        ("if os.system('ls') == 256:\n    pass", "compared with something other than 0"),
        ("if os.system('ls') > 0:\n    pass", "compared with something other than 0"),
        ("x = os.system('a') or os.system('b')", "and/or expression"),
        ("f = lambda: os.system('ls')", "returned by a lambda"),
        ("def g():\n    yield os.system('ls')", "yielded"),
        ("os.popen('ls').read()", "os.popen returns a file object"),
        ("os.system(*args)", "unusual arguments"),
        ("os.system('ls', 'extra')", "unusual arguments"),
        ("subprocess = None\nos.system('ls')", "'subprocess' means something else"),
        ("def f(subprocess):\n    os.system('ls')", "'subprocess' means something else"),
    ],
)
def test_calls_whose_status_matters_are_left_alone_with_the_reason(snippet: str, reason: str) -> None:
    """Stored, returned, passed on, shifted, compared with other numbers: unchanged, reason given."""
    new, left = fix(f"import os, sys\n{snippet}\n")
    assert new is None
    assert left
    assert all(reason in text for text in left)


def test_comments_and_formatting_are_kept() -> None:
    """Comments inside and after the call, line breaks and trailing commas survive the rewrite."""
    new, _ = fix(
        """\
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
    )
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


def test_comments_inside_a_concatenated_literal_keep_the_shell_form() -> None:
    """Comments between the parts of a literal have no place in an argv list: shell=True keeps them."""
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


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            '"""Doc."""\nfrom __future__ import annotations\n\nimport os\nimport sys\n\nos.system(c)\n',
            '"""Doc."""\nfrom __future__ import annotations\n\nimport os\nimport subprocess\nimport sys\n\nsubprocess.run(c, shell=True, check=False)\n',
        ),
        (
            '"""Doc."""\n\n# standard library\nimport zlib\nfrom os import system\n\nsystem(c)\n',
            '"""Doc."""\n\n# standard library\nimport subprocess\nimport zlib\nfrom os import system\n\nsubprocess.run(c, shell=True, check=False)\n',
        ),
        (
            "#!/usr/bin/env python\nfrom os import system\nsystem(c)\n",
            "#!/usr/bin/env python\nimport subprocess\nfrom os import system\nsystem(c)\n".replace(
                "\nsystem(c)", "\nsubprocess.run(c, shell=True, check=False)"
            ),
        ),
        (
            '"""Doc."""\ndef f():\n    import os\n    os.system(c)\n',
            '"""Doc."""\n\nimport subprocess\n\ndef f():\n    import os\n    subprocess.run(c, shell=True, check=False)\n',
        ),
        (
            "import os\nimport subprocess\nos.system(c)\nos.system(d)\n",
            "import os\nimport subprocess\nsubprocess.run(c, shell=True, check=False)\nsubprocess.run(d, shell=True, check=False)\n",
        ),
        (
            "import os\nimport subprocess as sp\nos.system(c)\n",
            "import os\nimport subprocess\nimport subprocess as sp\nsubprocess.run(c, shell=True, check=False)\n",
        ),
        (
            "import os\ndef f():\n    import subprocess\n    os.system(c)\n",
            "import os\ndef f():\n    import subprocess\n    subprocess.run(c, shell=True, check=False)\n",
        ),
    ],
    ids=["sorted-block", "head-of-block", "shebang", "no-imports", "already-there", "other-alias", "local-import"],
)
def test_import_subprocess_is_added_once_in_place(source: str, expected: str) -> None:
    """import subprocess: after docstring and __future__, in sorted place, never twice."""
    result = _rewrite.fix_source(source.encode(), "snippet.py")
    assert result.new is not None
    assert result.new.decode() == expected


def test_invalid_escape_sequences_in_the_file_raise_no_warning() -> None:
    """A file with an invalid escape sequence is rewritten without a warning (warnings are errors here)."""
    new, _ = fix("import os\nos.system('grep \\d log')\nos.system('ls *\\d')\n")
    assert new is not None
    assert "subprocess.run(['grep', 'd', 'log'], check=False)" in new
    assert "subprocess.run('ls *\\d', shell=True, check=False)" in new


def test_crlf_and_latin1_files_keep_their_bytes() -> None:
    """Line endings and the declared encoding of the file are kept."""
    source = "# -*- coding: latin-1 -*-\r\nimport os\r\nos.system('echo é')\r\nx = 'ü'\r\n".encode("latin-1")
    result = _rewrite.fix_source(source, "latin.py")
    assert result.new is not None
    assert result.new.decode("latin-1") == (
        "# -*- coding: latin-1 -*-\r\nimport os\r\nimport subprocess\r\n"
        "subprocess.run('echo é', shell=True, check=False)\r\nx = 'ü'\r\n"
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
if os.system("sh -c 'exit 9'"):
    report("exit", "failed")
if not os.system("grep -q root /etc/passwd"):
    report("root", "found")
assert os.system("test -d /") == 0
status = os.system("exit 5")
report("status", status)
sys.stdout.flush()
sys.exit(status >> 8)
"""


@pytest.mark.parametrize("buffered", [True, False], ids=["buffered", "unbuffered"])
def test_rewritten_program_behaves_the_same(tmp_path: Path, buffered: bool) -> None:
    """Every kind of rewrite, over successes, failures and signals: same stdout, stderr and exit status."""
    before = tmp_path / "before.py"
    before.write_text(BEHAVIOUR)
    result = _rewrite.fix_source(BEHAVIOUR.encode(), str(before))
    assert result.new is not None
    assert [reason for _, reason in result.left] == ["the status is stored in a variable"]
    assert len(result.rewritten) == 14
    after = tmp_path / "after.py"
    after.write_bytes(result.new)
    env = {} if buffered else {"PYTHONUNBUFFERED": "1"}
    old = run_python(before, tmp_path, **env)
    new = run_python(after, tmp_path, **env)
    assert (new.stdout, new.stderr, new.returncode) == (old.stdout, old.stderr, old.returncode)
    assert old.returncode == 5
    assert b"failed exit 3" in old.stdout


def test_program_killed_by_a_signal_is_the_known_difference_of_the_argv_form(tmp_path: Path) -> None:
    """Documented difference: /bin/sh reports a program a signal killed ("Killed", 128 + n); argv does not.

    The truth value the rewrite keeps is the same (both fail); only the
    shell's own message and the status number differ.
    """
    before = tmp_path / "before.py"
    before.write_text(
        "import os\n"
        "if os.system(\"sh -c 'kill -KILL $$'\"):\n"
        "    print('failed')\n"
    )
    result = _rewrite.fix_source(before.read_bytes(), str(before))
    assert result.new is not None
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
    code.write_text("import os\nos.system('ls')\nstatus = os.system('ls')\n")
    assert _cli.main(["fix", str(code)]) == 1
    captured = capsys.readouterr()
    assert captured.out.startswith(f"--- {code}\n+++ {code}\n@@ ")
    assert "\n-os.system('ls')\n" in captured.out
    assert "\n+import subprocess\n" in captured.out
    assert "\n+subprocess.run(['ls'], check=False)\n" in captured.out
    assert "\n status = os.system('ls')\n" in captured.out
    assert f"{code}:3:10: left alone: the status is stored in a variable" in captured.err
    assert "would rewrite 1 call in 1 file, left 1 alone" in captured.err
    assert code.read_text() == "import os\nos.system('ls')\nstatus = os.system('ls')\n"


@pytest.mark.skipif(shutil.which("patch") is None, reason="needs patch(1)")
def test_the_diff_applies_with_patch_and_gives_what_write_writes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Applying the printed diff with patch(1) gives exactly the file --write writes, even without a final newline."""
    source = "import os\n\nos.system('ls')\nos.system(cmd)"
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
    code.write_text("import os\nif os.system('ls'):\n    pass\n")
    assert _cli.main(["fix", "--write", str(code)]) == 0
    first = code.read_text()
    assert "subprocess.run(['ls'], check=False).returncode" in first
    capsys.readouterr()
    assert _cli.main(["fix", "--write", str(code)]) == 0
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
    assert "subprocess.run(['ls'], check=False)" in good.read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["fix", "no-such-file.py"], "no such file or directory: no-such-file.py"),
        (["fix", "--diff", "--write", "tests"], "not allowed with argument"),
        (["fix"], "required"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: List[str], message: str) -> None:
    """A missing path or contradictory options: one line on stderr, exit status 2."""
    result = shim_process(*args)
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1
    assert message in result.stderr


def test_without_libcst_fix_says_how_to_install_it(tmp_path: Path) -> None:
    """No libcst: one line naming the extra to install, exit status 2; scan still works."""
    code = tmp_path / "app.py"
    code.write_text("import os\nos.system('ls')\n")
    program = (
        "import sys; sys.modules['libcst'] = None\n"
        "from shim._tools.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program, "fix", str(code)],
        env=child_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr == "shim: shim fix needs libcst: pip install 'os-system-shim[fix]'\n"
    scan = subprocess.run(
        [sys.executable, "-c", program, "scan", str(code)],
        env=child_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert scan.returncode == 0


# -- the legacy program, end to end ---------------------------------------------------


@pytest.mark.parametrize("buffered", [True, False], ids=["buffered", "unbuffered"])
def test_legacy_app_rewritten_with_write_prints_the_same_bytes(tmp_path: Path, buffered: bool) -> None:
    """Run the legacy app, rewrite it with shim fix --write, run it again: same output, same status."""
    before = tmp_path / "before"
    after = tmp_path / "after"
    shutil.copytree(DATA, before)
    shutil.copytree(DATA, after)
    program = after / "backup.py"
    fixed = shim_process("fix", "--write", str(program))
    assert fixed.returncode == 0, fixed.stderr
    text = program.read_text()
    original = (DATA / "backup.py").read_text()
    assert text != original
    assert text.count("import subprocess\n") == 1
    assert 'subprocess.run(["mkdir", "-p", "archive"], check=False)' in text
    assert 'subprocess.run("echo preparing the archive >&2", shell=True, check=False)' in text
    # The two calls whose status is kept are exactly as they were, and said so.
    for kept in ('missing = getattr(os, "system")("test -e archive/missing.txt")', 'status = os.system("exit 3")'):
        assert kept in text
        number = original.splitlines().index(f"    {kept}") + 1
        assert f"{program}:{number}:" in fixed.stderr
    assert fixed.stderr.count("left alone: the status is stored in a variable") == 2

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
