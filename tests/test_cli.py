"""The command line: ``shim``/``python -m shim``, its errors, and ``shim run``.

``shim run`` replaces its own process with the program, so every test of it
runs ``python -m shim`` in a fresh interpreter and compares with running the
same program directly.
"""

import json
import os
import platform
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Dict, List, Optional

import pytest
import shim
from shim._tools import cli as _cli
from shim._tools import unavailable

from assumptions import needs_non_root, needs_tools
from conftest import ROOT, child_env

POSIX = os.name == "posix"
posix_only = pytest.mark.skipif(not POSIX, reason="exec and wait statuses are POSIX")


def shim_cli(
    *args: str,
    env: Optional[Dict[str, str]] = None,
    cwd: Optional[Path] = None,
    timeout: float = 60,
) -> "subprocess.CompletedProcess[str]":
    """Run ``python -m shim ARGS`` in a fresh interpreter."""
    return subprocess.run(
        [sys.executable, "-m", "shim", *args],
        env=env if env is not None else child_env(),
        cwd=str(cwd) if cwd is not None else None,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        universal_newlines=True,
        timeout=timeout,
        check=False,
    )


def hooked_env(tmp_path: Path, **extra: str) -> Dict[str, str]:
    """An environment in which every Python process runs shim's start-up hook.

    That is what installing the package does (its ``shim.pth`` sits in
    site-packages).  Here a ``sitecustomize`` processes the checkout's own
    ``shim.pth`` instead, so the test needs no installation.
    """
    hook = tmp_path / "hook"
    hook.mkdir(exist_ok=True)
    (hook / "sitecustomize.py").write_text(f"import site\nsite.addsitedir({str(ROOT)!r})\n")
    env = child_env(**extra)
    env["PYTHONPATH"] = os.pathsep.join([str(hook), env["PYTHONPATH"]])
    return env


def one_error_line(stderr: str) -> str:
    """The single ``shim: ...`` line an error must produce (fails on anything else)."""
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("shim: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


# -- the command line itself ------------------------------------------------------


def test_version_is_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    """``shim --version`` prints ``shim <version>`` and exits 0."""
    assert _cli.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"shim {shim.__version__}"


def test_python_dash_m_shim_is_the_same_command_line() -> None:
    """``python -m shim`` runs the same ``main`` as the console script."""
    result = shim_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"shim {shim.__version__}"


def _subcommands() -> List[str]:
    parser = _cli.build_parser()
    for action in parser._actions:
        choices = getattr(action, "choices", None)
        if isinstance(choices, dict):
            return sorted(choices)
    raise AssertionError("no subcommands")


def test_the_basic_subcommands_are_registered() -> None:
    """``run`` and ``report`` are always there; ``scan``/``fix`` when their modules are."""
    names = _subcommands()
    assert {"run", "report"} <= set(names)
    for name in ("scan", "fix"):
        present = (ROOT / "shim" / "_tools" / name).is_dir()
        assert (name in names) == present


@pytest.mark.parametrize("command", [None, *_subcommands()])
def test_help_for_every_subcommand(command: Optional[str], capsys: pytest.CaptureFixture[str]) -> None:
    """``--help`` works for the top level and every subcommand, and exits 0.

    Where the migration tools need a newer Python, theirs says so in one
    line and exits 2.
    """
    argv = ["--help"] if command is None else [command, "--help"]
    if command in unavailable.TOOLS.values() and sys.version_info < unavailable.TOOLS_NEED:
        assert _cli.main(argv) == 2
        captured = capsys.readouterr()
        assert captured.out == ""
        assert captured.err == (
            f"shim: {command} needs Python 3.8 or later, and this is Python {platform.python_version()}; "
            f"run 'shim {command}' with a newer Python (pip install os-system-shim there): "
            "audit files and sources do not depend on the Python that wrote them\n"
        )
        return
    assert _cli.main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: shim" if command is None else f"usage: shim {command}")


def test_help_documents_the_exit_statuses(capsys: pytest.CaptureFixture[str]) -> None:
    """The top-level help lists the exit statuses."""
    _cli.main(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    for text in ("0 success", "1 findings", "2 bad usage", "126/127", "130 interrupted", "141"):
        assert text in out


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["bogus"],
        ["--bogus"],
        ["run"],
        ["run", "--"],
        ["run", "--bogus", "--", "true"],
        ["run", "--capture", "everything", "--", "true"],
        ["run", "--shell", "sometimes", "--", "true"],
        ["run", "--capture-limit", "-1", "--", "true"],
        ["run", "--capture-limit", "lots", "--", "true"],
        ["run", "--log", "LOUD", "--", "true"],
        ["run", "--audit", "", "--", "true"],
        ["run", "--redact", "a(", "--", "true"],
        ["run", "--redact", "a;b", "--", "true"],
        ["run", "--redact", "", "--", "true"],
        ["report"],
        ["report", "--format", "xml", "audit.jsonl"],
    ],
)
def test_bad_usage_is_one_line_and_status_2(argv: List[str], capsys: pytest.CaptureFixture[str]) -> None:
    """Bad usage gives exactly one ``shim: ...`` line on stderr and exit status 2."""
    assert _cli.main(argv) == 2
    captured = capsys.readouterr()
    one_error_line(captured.err)
    assert captured.out == ""


def test_a_bad_option_value_names_the_option(capsys: pytest.CaptureFixture[str]) -> None:
    """The error line names the option and the values it accepts."""
    _cli.main(["run", "--shell", "sometimes", "--", "true"])
    line = one_error_line(capsys.readouterr().err)
    assert "--shell" in line
    assert "always|auto|never" in line


@posix_only
@needs_tools  # reads from shim report
def test_interrupt_exits_130_without_a_traceback(tmp_path: Path) -> None:
    """Ctrl-C (SIGINT) while a command works gives exit status 130 and no traceback."""
    with subprocess.Popen(
        [sys.executable, "-m", "shim", "report", "-"],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=child_env(),
    ) as child:
        assert child.stdin is not None
        # Blank lines it must read past: when the write returns, all but a
        # pipe's worth has been read, so the command is in its read loop.
        child.stdin.write((b" " * 4095 + b"\n") * 64)
        child.stdin.flush()
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=30)
    assert child.returncode == 130
    assert b"Traceback" not in err


@needs_tools
def test_a_closed_pipe_on_stdout_is_not_an_error_message(tmp_path: Path) -> None:
    """``shim report ... | head -1`` ends quietly: no traceback, no complaint at exit."""
    audit = tmp_path / "audit.jsonl"
    # Several MB of report: more than any pipe buffer (up to 1 MiB on Linux).
    lines = [
        json.dumps({"v": 1, "command": f"echo {i} {'x' * 500}", "shell": True,
                    "shell_reason": "builtin", "site": {"file": f"app{i}.py", "line": i,
                    "function": "f"}, "status": 0, "duration_ms": 1.0, "suggestion": "x"})
        for i in range(5000)
    ]
    audit.write_text("\n".join(lines) + "\n")
    with subprocess.Popen(
        [sys.executable, "-m", "shim", "report", str(audit)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=child_env(),
    ) as child:
        assert child.stdout is not None
        assert child.stderr is not None
        assert child.stdout.readline().startswith(b"shim report:")
        child.stdout.close()
        err = child.stderr.read()
        child.wait(timeout=60)
    assert err == b""
    assert child.returncode == 141  # as for a program killed by SIGPIPE


# -- shim run ----------------------------------------------------------------------

SCRIPT = textwrap.dedent(
    """\
    import os, subprocess, sys
    status = os.system("echo parent says hi")
    print("parent got", status, flush=True)
    child = subprocess.run([sys.executable, "child.py"])
    print("child exited", child.returncode, flush=True)
    sys.exit(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    """
)
CHILD = textwrap.dedent(
    """\
    import os
    print("child got", os.system("echo child says hi | tr a-z A-Z; exit 4"), flush=True)
    """
)


def write_programs(tmp_path: Path) -> None:
    (tmp_path / "script.py").write_text(SCRIPT)
    (tmp_path / "child.py").write_text(CHILD)


@posix_only
@needs_tools  # reads the records with shim report
def test_run_records_the_program_and_its_child_pythons(tmp_path: Path) -> None:
    """Both the program's and its child Python's calls land in the audit file.

    The output and exit status are the ones the program gives when run
    directly, and ``shim report`` finds both call sites in the file.
    """
    write_programs(tmp_path)
    env = hooked_env(tmp_path)
    direct = subprocess.run(
        [sys.executable, "script.py", "3"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False
    )
    shimmed = subprocess.run(
        [sys.executable, "-m", "shim", "run", "--audit", "audit.jsonl", "--",
         sys.executable, "script.py", "3"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False, timeout=60,
    )
    assert (shimmed.returncode, shimmed.stdout, shimmed.stderr) == (
        direct.returncode, direct.stdout, direct.stderr,
    )
    assert shimmed.returncode == 3

    records = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    sites = {(Path(r["site"]["file"]).name, r["site"]["line"]): r for r in records}
    assert set(sites) == {("script.py", 2), ("child.py", 2)}
    assert sites["script.py", 2]["command"] == "echo parent says hi"
    assert sites["child.py", 2]["command"] == "echo child says hi | tr a-z A-Z; exit 4"
    assert sites["child.py", 2]["status"] == 4 << 8
    assert len({r["pid"] for r in records}) == 2

    report = shim_cli(
        "report", "--format", "json", "--source-root", str(tmp_path), str(tmp_path / "audit.jsonl"),
        env=env,
    )
    assert report.returncode == 0, report.stderr
    found = {
        (Path(site["file"]).name, site["line"]): site["source"]
        for site in json.loads(report.stdout)["sites"]
    }
    assert found == {
        ("script.py", 2): 'status = os.system("echo parent says hi")',
        ("child.py", 2): 'print("child got", os.system("echo child says hi | tr a-z A-Z; exit 4"), flush=True)',
    }


@posix_only
@pytest.mark.parametrize("code", [0, 3, 255])
def test_run_passes_the_exit_status_through(tmp_path: Path, code: int) -> None:
    """``shim run`` exits with the program's own exit status."""
    argv = [sys.executable, "-c", f"import sys; sys.exit({code})"]
    direct = subprocess.run(argv, env=child_env(), check=False)
    result = shim_cli("run", "--", *argv)
    assert result.returncode == direct.returncode == code


@posix_only
def test_run_passes_a_signal_death_through(tmp_path: Path) -> None:
    """A program killed by a signal leaves ``shim run`` killed by the same signal."""
    argv = [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGTERM)"]
    direct = subprocess.run(argv, env=child_env(), check=False)
    result = shim_cli("run", "--", *argv)
    assert result.returncode == direct.returncode == -signal.SIGTERM


@posix_only
def test_run_gives_the_program_default_sigpipe(tmp_path: Path) -> None:
    """Python ignores SIGPIPE; the program gets it back at its default, as from a shell.

    ``yes | head -1`` prints no "Broken pipe" complaint when SIGPIPE is at
    its default, which is what running it directly shows.
    """
    argv = ["sh", "-c", "yes | head -1"]
    direct = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    result = shim_cli("run", "--", *argv)
    assert (result.returncode, result.stdout, result.stderr) == (
        direct.returncode, direct.stdout.decode(), direct.stderr.decode(),
    )
    assert result.stderr == ""


@posix_only
def test_a_program_that_is_not_found_gives_127_like_a_shell(tmp_path: Path) -> None:
    """A missing program: one line and status 127, what ``sh -c`` gives for it."""
    name = "shim-test-no-such-program"
    shell = subprocess.run(["sh", "-c", name], stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    result = shim_cli("run", "--", name)
    assert result.returncode == shell.returncode == 127
    assert name in one_error_line(result.stderr)
    missing = shim_cli("run", "--", str(tmp_path / "missing"))
    assert missing.returncode == 127
    one_error_line(missing.stderr)


@posix_only
@needs_non_root
def test_a_program_that_cannot_be_executed_gives_126_like_a_shell(tmp_path: Path) -> None:
    """A file without execute permission: one line and status 126, as ``sh -c`` gives."""
    target = tmp_path / "not-executable"
    target.write_text("#!/bin/sh\necho hi\n")
    target.chmod(0o644)
    if os.access(target, os.X_OK):
        pytest.skip("running as a user who may execute any file")
    shell = subprocess.run(["sh", "-c", str(target)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    result = shim_cli("run", "--", str(target))
    assert result.returncode == shell.returncode == 126
    one_error_line(result.stderr)


SHOW_ENV = "import json, os; print(json.dumps({k: v for k, v in os.environ.items() if k.startswith('SHIM_')}))"


@posix_only
def test_run_exports_the_options_as_shim_variables(tmp_path: Path) -> None:
    """Each option becomes its ``SHIM_*`` variable; the audit path is made absolute."""
    (tmp_path / "logs").mkdir()
    result = shim_cli(
        "run", "--capture", "tee", "--capture-limit", "1024", "--shell", "auto",
        "--audit", "logs/audit.jsonl", "--log", "debug", "--redact", "secret=\\S+",
        "--redact", "token", "--", sys.executable, "-c", SHOW_ENV,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "SHIM_ENABLE": "1",
        "SHIM_CAPTURE": "tee",
        "SHIM_CAPTURE_LIMIT": "1024",
        "SHIM_SHELL": "auto",
        "SHIM_AUDIT": str(tmp_path / "logs" / "audit.jsonl"),
        "SHIM_LOG": "DEBUG",
        "SHIM_REDACT": "secret=\\S+;token",
    }


@posix_only
def test_run_keeps_inherited_variables_and_adds_redactions(tmp_path: Path) -> None:
    """Variables already set stay unless an option overrides them; --redact adds patterns."""
    env = child_env(SHIM_SHELL="never", SHIM_CAPTURE="tee", SHIM_REDACT="password", SHIM_AUDIT="a.jsonl")
    result = shim_cli(
        "run", "--capture", "off", "--redact", "token", "--", sys.executable, "-c", SHOW_ENV,
        env=env, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "SHIM_ENABLE": "1",
        "SHIM_SHELL": "never",
        "SHIM_CAPTURE": "off",
        "SHIM_AUDIT": str(tmp_path / "a.jsonl"),
        "SHIM_REDACT": "password;token",
    }


@posix_only
def test_a_bad_inherited_variable_stops_run(tmp_path: Path) -> None:
    """A bad ``SHIM_*`` value in the environment is one line naming it, and status 2."""
    result = shim_cli("run", "--", "true", env=child_env(SHIM_CAPTURE="sometimes"))
    assert result.returncode == 2
    assert "SHIM_CAPTURE" in one_error_line(result.stderr)


@posix_only
def test_an_audit_file_in_a_missing_directory_stops_run(tmp_path: Path) -> None:
    """``--audit`` in a directory that does not exist: one line, status 2, nothing run."""
    marker = tmp_path / "ran"
    result = shim_cli("run", "--audit", str(tmp_path / "nope" / "a.jsonl"), "--", "touch", str(marker))
    assert result.returncode == 2
    one_error_line(result.stderr)
    assert not marker.exists()


@posix_only
def test_the_audit_path_survives_a_change_of_directory(tmp_path: Path) -> None:
    """A relative ``--audit`` means the file where ``shim run`` was started, wherever the program goes."""
    (tmp_path / "elsewhere").mkdir()
    code = "import os; os.chdir('elsewhere'); os.system('true')"
    result = subprocess.run(
        [sys.executable, "-m", "shim", "run", "--audit", "audit.jsonl", "--", sys.executable, "-c", code],
        cwd=tmp_path, env=hooked_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=False, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    records = (tmp_path / "audit.jsonl").read_text().splitlines()
    assert [json.loads(r)["command"] for r in records] == ["true"]
    assert not (tmp_path / "elsewhere" / "audit.jsonl").exists()


@posix_only
def test_run_leaves_arguments_after_the_program_alone(tmp_path: Path) -> None:
    """Options after the program name belong to the program, ``--`` or not."""
    code = "import sys; print(sys.argv[1:])"
    with_dashes = shim_cli("run", "--", sys.executable, "-c", code, "--audit", "x", "--")
    without = shim_cli("run", sys.executable, "-c", code, "--audit", "x", "--")
    assert with_dashes.stdout == without.stdout == "['--audit', 'x', '--']\n"
