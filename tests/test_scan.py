"""``shim scan``: every spelling of os.system/os.popen, the baseline, exit statuses, progress."""

from __future__ import annotations

import json
import os
import pty
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import List, Tuple

import pytest
from shim._common import suggest as _suggest
from shim._common import syntax as _shell
from shim._tools import cli as _cli
from shim._tools.scan import calls as _calls
from shim._tools.scan import files as _files
from shim._tools.scan import progress as _progress

from conftest import ROOT, child_env, shim_process

DATA = ROOT / "tests" / "data" / "legacy_app"
SPELLINGS = DATA / "spellings.py"
STAR = DATA / "star.py"
BACKUP = DATA / "backup.py"

# Runs every case_* function and method of a fixture with an audit hook that
# stops os.system and subprocess.Popen (which os.popen uses) before anything
# starts, and records the line of the fixture that made the call.
HARNESS = r"""
import importlib.util, inspect, json, os, sys

target = os.path.abspath(sys.argv[1])
calls = []

class Stop(Exception):
    pass

def hook(event, args):
    if event not in ("os.system", "subprocess.Popen"):
        return
    frame = sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename) != target:
        frame = frame.f_back
    if frame is not None:
        name = "os.system" if event == "os.system" else "os.popen"
        calls.append([name, frame.f_lineno])
        raise Stop

spec = importlib.util.spec_from_file_location("fixture", target)
module = importlib.util.module_from_spec(spec)
sys.addaudithook(hook)
spec.loader.exec_module(module)
for name, value in sorted(vars(module).items()):
    cases = []
    if name.startswith("case_") and inspect.isfunction(value):
        cases.append(value)
    elif inspect.isclass(value) and value.__module__ == "fixture":
        cases.extend(getattr(value(), n) for n in sorted(vars(value)) if n.startswith("case_"))
    for case in cases:
        try:
            case()
        except Stop:
            pass
print(json.dumps(sorted(calls)))
"""


def shim(*argv: str) -> int:
    """Run the command line in this process (output goes to capsys)."""
    return _cli.main(list(argv))


def marked_calls(path: Path) -> List[Tuple[str, int]]:
    lines = path.read_text().splitlines()
    return sorted(
        (match.group(1), number)
        for number, line in enumerate(lines, 1)
        for match in [re.search(r"# finds: (os\.\w+)$", line)]
        if match
    )


def found_calls(path: Path) -> List[Tuple[str, int]]:
    findings = _calls.find_calls(path.read_text(), str(path))
    return sorted((finding.name, finding.line) for finding in findings)


@pytest.mark.parametrize("fixture", [SPELLINGS, STAR], ids=lambda path: path.name)
def test_scan_finds_exactly_the_calls_that_really_happen(fixture: Path) -> None:
    """Every spelling: the lines scan reports are the lines where os.system/os.popen really run."""
    result = subprocess.run(
        [sys.executable, "-c", HARNESS, str(fixture)],
        env=child_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    real = sorted((name, line) for name, line in json.loads(result.stdout))
    assert real == found_calls(fixture)
    assert real == marked_calls(fixture)


def test_scan_reports_location_command_shell_and_suggestion(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Text output: file:line:col, spelling, function, literal command, shell needed, suggestion."""
    assert shim("scan", str(BACKUP)) == 1
    lines = capsys.readouterr().out.splitlines()
    source = BACKUP.read_text().splitlines()
    for command, function in [
        ("mkdir -p archive", "prepare"),
        ("echo preparing the archive >&2", "prepare"),
        ("exit 3", "main"),
    ]:
        number = next(n for n, line in enumerate(source, 1) if f'os.system("{command}")' in line)
        column = source[number - 1].index("os.system") + 1
        analysis = _shell.analyze(command.encode())
        argv = None if analysis.argv is None else [arg.decode() for arg in analysis.argv]
        shell = "no shell needed" if argv is not None else f"needs a shell ({analysis.reason})"
        header = f"{BACKUP}:{number}:{column}: os.system in {function}, command {command!r}, {shell}"
        assert header in lines
        suggestion = _suggest.literal_suggestion(command, argv, double_quotes=True)
        assert lines[lines.index(header) + 1] == f"    {suggestion}"
    assert any('non-literal command "cp " + source' in line for line in lines)
    assert lines[-1].startswith(f"{len(found_calls(BACKUP))} calls in 1 of 1 file")


def test_json_output_lists_every_call(capsys: pytest.CaptureFixture[str]) -> None:
    """JSON output: one entry per call with location, command, shell and suggestion."""
    assert shim("scan", "--format", "json", str(SPELLINGS)) == 1
    document = json.loads(capsys.readouterr().out)
    calls = document["calls"]
    assert sorted((call["call"], call["line"]) for call in calls) == found_calls(SPELLINGS)
    first = calls[0]
    assert first["command"] == "true"
    assert first["shell"] is True
    assert first["shell_reason"] == _shell.analyze(b"true").reason
    assert first["new"] is None
    assert first["suggestion"].startswith("subprocess.run(")
    comprehension = next(call for call in calls if call["function"] == "case_comprehension")
    assert comprehension["command"] is None
    assert comprehension["shell"] is None
    assert document["summary"] == {
        "files": 1, "calls": len(calls), "suppressed": 0, "skipped_files": 0, "new": None, "gone": None,
    }
    assert document["suppressed"] == document["skipped"] == []


def test_scan_reports_a_call_where_the_name_is_shadowed_only_in_a_branch(tmp_path: Path) -> None:
    """A name bound to os.system anywhere in its scope counts, even if also bound to other things."""
    source = tmp_path / "branch.py"
    source.write_text(
        "import os\n"
        "if os.name == 'nt':\n"
        "    run = print\n"
        "else:\n"
        "    run = os.system\n"
        "def go(system=None):\n"
        "    run('ls')\n"
        "    system('ls')\n"
    )
    assert found_calls(source) == [("os.system", 7)]


def test_columns_count_characters_not_bytes(tmp_path: Path) -> None:
    """A column after non-ASCII text is a character column, in a UTF-8 and a Latin-1 file."""
    utf8 = tmp_path / "utf8.py"
    utf8.write_text("import os\nx = ('é', os.system('ls'))\n", encoding="utf-8")
    latin1 = tmp_path / "latin1.py"
    latin1.write_bytes("# -*- coding: latin-1 -*-\nimport os\nx = ('é', os.system('ls'))\n".encode("latin-1"))
    for path, line in ((utf8, 2), (latin1, 3)):
        result = _files.scan_file(str(path))
        assert isinstance(result, list)
        (finding,) = result
        text = path.read_bytes().decode("latin-1" if path is latin1 else "utf-8")
        assert (finding.line, finding.col) == (line, text.splitlines()[line - 1].index("os.system") + 1)


def test_identical_calls_in_one_function_are_counted(tmp_path: Path) -> None:
    """Two identical calls in one function get occurrences 0 and 1; in another function 0 again."""
    source = tmp_path / "twice.py"
    source.write_text(
        "import os\n"
        "def a():\n    os.system('ls')\n    os.system('ls')\n"
        "def b():\n    os.system('ls')\n"
    )
    findings = _calls.find_calls(source.read_text(), str(source))
    assert [(f.function, f.occurrence) for f in findings] == [("a", 0), ("a", 1), ("b", 0)]
    assert len({f.fingerprint for f in findings}) == 1


# -- the baseline --------------------------------------------------------------

LEGACY = """\
import os


def build(target):
    os.system("make " + target)
    if os.system("test -d out"):
        os.system("mkdir out")


class Deploy:
    def run(self):
        return os.system("rsync -a out/ server:")
"""

# The same calls after a refactoring that moved every line, reformatted one
# call over several lines and added comments and unrelated code.
MOVED = """\
\"\"\"Build and deploy.\"\"\"
import os
import sys

VERBOSE = "-v" in sys.argv


def helper():
    return 1


class Deploy:
    retries = 3

    def run(self):
        # ship it
        return os.system(
            "rsync -a out/ server:"  # the server
        )


def build(target):
    print("building", target)
    os.system("make "   +   target)
    if os.system('test -d out'):
        os.system("mkdir out")
"""


def test_baseline_accepts_moved_and_reformatted_calls(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Moving, reformatting and commenting calls keeps them known; the baseline file is unchanged."""
    code = tmp_path / "app.py"
    baseline = tmp_path / "baseline.json"
    code.write_text(LEGACY)
    assert shim("scan", str(code), "--baseline", str(baseline), "--write-baseline") == 0
    assert "wrote 4 calls" in capsys.readouterr().err
    first = baseline.read_bytes()
    assert shim("scan", str(code), "--baseline", str(baseline)) == 0
    code.write_text(MOVED)
    capsys.readouterr()
    assert shim("scan", str(code), "--baseline", str(baseline)) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == [out.splitlines()[-1]]  # only the summary
    assert "0 not in the baseline" in out
    assert shim("scan", str(code), "--baseline", str(baseline), "--write-baseline") == 0
    assert baseline.read_bytes() == first


def test_baseline_file_is_sorted_stable_json(tmp_path: Path) -> None:
    """The baseline is JSON, sorted, without line numbers, identical when written twice."""
    code = tmp_path / "app.py"
    code.write_text(LEGACY)
    baseline = tmp_path / "baseline.json"
    assert shim("scan", str(code), "--baseline", str(baseline), "--write-baseline") == 0
    document = json.loads(baseline.read_text())
    assert document["version"] == 1
    keys = [(c["path"], c["function"], c["fingerprint"], c["occurrence"]) for c in document["calls"]]
    assert keys == sorted(keys)
    assert {c["path"] for c in document["calls"]} == {"app.py"}
    assert all("line" not in c for c in document["calls"])
    again = tmp_path / "again.json"
    assert shim("scan", str(code), "--baseline", str(again), "--write-baseline") == 0
    assert again.read_bytes() == baseline.read_bytes()


@pytest.mark.parametrize(
    "change",
    [
        ("def build(target):\n", "def build(target):\n    os.system('rm -rf out')\n"),
        ('        os.system("mkdir out")\n', '        os.system("mkdir out")\n        os.system("mkdir out")\n'),
        ('os.system("make " + target)', 'os.system("make -j4 " + target)'),
        ("class Deploy:\n", "def extra():\n    os.popen('ls').read()\n\n\nclass Deploy:\n"),
    ],
    ids=["new-call", "duplicate-call", "changed-call", "new-popen"],
)
def test_baseline_reports_new_calls_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: Tuple[str, str]
) -> None:
    """A call that is not in the baseline is printed with its location and the exit status is 1."""
    code = tmp_path / "app.py"
    baseline = tmp_path / "baseline.json"
    code.write_text(LEGACY)
    assert shim("scan", str(code), "--baseline", str(baseline), "--write-baseline") == 0
    old, new = change
    assert old in LEGACY
    code.write_text(LEGACY.replace(old, new, 1))
    capsys.readouterr()
    assert shim("scan", str(code), "--baseline", str(baseline)) == 1
    out = capsys.readouterr().out
    reported = [line for line in out.splitlines() if line.startswith(f"{code}:")]
    assert len(reported) == 1
    assert "1 not in the baseline" in out
    assert shim("scan", "--format", "json", str(code), "--baseline", str(baseline)) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["summary"]["new"] == 1
    assert sum(call["new"] for call in document["calls"]) == 1


def test_removed_calls_keep_the_exit_status_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Fixing a call (it disappears) is not an error; the summary says the baseline can shrink."""
    code = tmp_path / "app.py"
    other = tmp_path / "other.py"
    baseline = tmp_path / "baseline.json"
    code.write_text(LEGACY)
    other.write_text("import os\nos.system('ls')\n")
    assert shim("scan", str(tmp_path), "--baseline", str(baseline), "--write-baseline") == 0
    code.write_text(LEGACY.replace('        os.system("mkdir out")\n', "        pass\n"))
    capsys.readouterr()
    assert shim("scan", str(code), "--baseline", str(baseline)) == 0
    out = capsys.readouterr().out
    # other.py was not scanned: its call is not counted as gone.
    assert out.endswith("; 0 not in the baseline " + str(baseline) + "; 1 of its calls are gone (--write-baseline drops them)\n")


def test_baseline_paths_do_not_depend_on_the_current_directory(tmp_path: Path) -> None:
    """Paths are relative to the baseline file, so CI may run from another directory."""
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / "src" / "app.py").write_text(LEGACY)
    written = shim_process("scan", "src", "--baseline", "shim-baseline.json", "--write-baseline", cwd=project)
    assert written.returncode == 0, written.stderr
    checked = shim_process(
        "scan", "project/src", "--baseline", "project/shim-baseline.json", cwd=tmp_path
    )
    assert checked.returncode == 0, checked.stdout


def _other_python() -> str:
    """Return another Python (3.8 first: the oldest ast the tools support), or skip the test."""
    running = f"{sys.version_info[0]}.{sys.version_info[1]}"
    for version in ("3.8", "3.13", "3.15", "3.14", "3.9", "3.12", "3.10", "3.11"):
        if version == running:
            continue
        candidates = [
            *sorted(Path.home().glob(f".pyenv/versions/{version}.*/bin/python{version}")),
            shutil.which(f"python{version}"),
        ]
        for candidate in candidates:
            # pyenv's shims exist for every version but only run the active ones.
            if candidate and subprocess.run([str(candidate), "-c", "pass"], capture_output=True, check=False).returncode == 0:
                return str(candidate)
    pytest.skip("no second Python interpreter on this machine")
    return ""


def test_baseline_written_on_one_python_matches_on_another(tmp_path: Path) -> None:
    """Fingerprints do not depend on the Python version (ast.dump does)."""
    code = tmp_path / "app.py"
    code.write_text(
        LEGACY
        + "def more(items, width):\n"
        + "    os.system(items[0])\n"
        + "    os.system(items[1:2, 3])\n"
        + "    os.system(f'ls {items[0]!r:>{width}} {width}')\n"
        + "    os.system(b'ls' + bytes(1))\n"
    )
    baseline = tmp_path / "baseline.json"
    other = subprocess.run(
        [_other_python(), "-m", "shim", "scan", str(code), "--baseline", str(baseline), "--write-baseline"],
        cwd=ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert other.returncode == 0, other.stderr
    assert shim("scan", str(code), "--baseline", str(baseline)) == 0


# -- bad input and unparsable files -------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["scan", "missing-dir"], "no such file or directory: missing-dir"),
        (["scan", "--format", "xml", "tests"], "--format must be one of text, json, sarif, github"),
        (["scan", "tests", "--write-baseline"], "--write-baseline needs --baseline"),
        (["scan", "tests", "--baseline", "tests"], "baseline is a directory"),
        (["scan", "tests/data", "--baseline", "no-such-baseline.json"], "cannot read baseline"),
        (["scan", "tests/data", "--baseline", "tests/data/legacy_app/backup.py"], "not valid JSON"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: List[str], message: str) -> None:
    """Bad paths, formats and baselines: one line on stderr naming the problem, exit status 2."""
    result = shim_process(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith("shim: ")
    assert message in result.stderr


def test_baseline_from_a_newer_shim_is_refused(tmp_path: Path) -> None:
    """A baseline with a newer version: a clear message and exit 2, not a crash."""
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps({"version": 99, "calls": []}))
    result = shim_process("scan", str(BACKUP), "--baseline", str(baseline))
    assert result.returncode == 2
    assert "version 99" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_unparsable_files_are_reported_and_skipped(tmp_path: Path) -> None:
    """Files that do not parse or decode are named on stderr and counted; the others are still scanned.

    The exit status is 1: a call could hide in a file the scan could not read.
    """
    (tmp_path / "a_broken.py").write_text("import os\nos.system('ls'\n")
    (tmp_path / "b_encoding.py").write_bytes(b"# coding: utf-8\nx = '\xff'\n")
    (tmp_path / "c_good.py").write_text("import os\nos.system('ls')\n")
    result = shim_process("scan", str(tmp_path))
    assert result.returncode == 1
    assert result.stdout.splitlines()[-1].endswith("; 2 files could not be read or parsed (their calls are not counted)")
    assert "c_good.py:2:1: os.system" in result.stdout
    assert f"shim: skipped {tmp_path / 'a_broken.py'}:" in result.stderr
    assert f"shim: skipped {tmp_path / 'b_encoding.py'}: cannot decode" in result.stderr
    assert "Traceback" not in result.stderr
    baseline = tmp_path / "baseline.json"
    written = shim_process("scan", str(tmp_path), "--baseline", str(baseline), "--write-baseline")
    assert written.returncode == 1
    assert "2 file(s) could not be read or parsed; their calls are not in the baseline" in written.stderr
    assert shim_process("scan", str(tmp_path), "--baseline", str(baseline)).returncode == 1
    (tmp_path / "a_broken.py").unlink()
    (tmp_path / "b_encoding.py").unlink()
    assert shim_process("scan", str(tmp_path), "--baseline", str(baseline)).returncode == 0


def test_directories_are_walked_without_vcs_caches_and_environments(tmp_path: Path) -> None:
    """Only *.py below the paths, skipping .git, .tox, venvs, __pycache__, node_modules, site-packages."""
    call = "import os\nos.system('ls')\n"
    kept = [tmp_path / "app.py", tmp_path / "pkg" / "mod.py", tmp_path / "build" / "gen.py"]
    skipped = [
        tmp_path / ".git" / "hook.py",
        tmp_path / ".tox" / "py38" / "x.py",
        tmp_path / "__pycache__" / "x.py",
        tmp_path / "node_modules" / "x.py",
        tmp_path / "lib" / "site-packages" / "x.py",
        tmp_path / "env" / "lib" / "x.py",
        tmp_path / "app.txt",
    ]
    for path in kept + skipped:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(call)
    (tmp_path / "env" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    script = tmp_path / "script"
    script.write_text(call)
    files = _files.collect_files([str(tmp_path), str(script)])
    assert sorted(files) == sorted(str(path) for path in [*kept, script])


# -- progress ----------------------------------------------------------------------


def _tree(root: Path, count: int) -> Path:
    for index in range(count):
        package = root / f"pkg{index % 7}"
        package.mkdir(parents=True, exist_ok=True)
        (package / f"mod{index}.py").write_text(f"import os\nos.system('ls {index}')\n")
    return root


def test_progress_on_a_terminal_is_one_line_rewritten_in_place(tmp_path: Path) -> None:
    """With stderr on a terminal, a large tree shows a progress line that is cleared at the end."""
    tree = _tree(tmp_path / "tree", _progress.PROGRESS_MIN_FILES_TTY + 10)
    master, slave = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "shim", "scan", str(tree)],
            cwd=ROOT,
            env=child_env(),
            stdout=subprocess.PIPE,
            stderr=slave,
        )
        os.close(slave)
        chunks = []
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        stdout, _ = process.communicate()
    finally:
        os.close(master)
    err = b"".join(chunks).decode()
    assert process.returncode == 1
    total = _progress.PROGRESS_MIN_FILES_TTY + 10
    assert f"\rshim: scanned 1/{total} files" in err
    assert err.endswith("\r\x1b[K")
    assert "\n" not in err.replace("\r\n", "")
    assert b"scanned" not in stdout


def test_no_progress_in_a_log_for_a_small_tree(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """When stderr is not a terminal, a tree below the threshold prints no progress at all."""
    tree = _tree(tmp_path / "tree", _progress.PROGRESS_MIN_FILES_TTY + 10)
    assert shim("scan", str(tree)) == 1
    assert capsys.readouterr().err == ""


def test_progress_in_a_log_for_a_large_tree(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large tree with stderr in a log gets plain progress lines, never terminal control codes."""
    monkeypatch.setattr(_progress, "PROGRESS_MIN_FILES_LOG", 20)
    monkeypatch.setattr(_progress, "PROGRESS_LOG_INTERVAL", 0.0)
    tree = _tree(tmp_path / "tree", 30)
    assert shim("scan", str(tree)) == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines
    assert all(re.fullmatch(r"shim: scanned \d+/30 files", line) for line in lines)
    assert len(lines) <= 30
