"""shell="auto" and shell="never": which commands skip /bin/sh, and what is refused.

Each test checks the path actually taken through the subprocess.Popen audit
event (its executable), and compares results with plain os.system.
"""

import os
import pickle
import posix
import subprocess
import sys
from pathlib import Path
from typing import Any, List, Optional

import pytest
import shim
from shim._common import platform as _env

from assumptions import needs_shell_free
from conftest import child_env

# /bin/sh is identified once per process (BusyBox is asked how it was built,
# by running it), here, before any test counts the processes a call starts.
_env.shell()


def executables(popen_events: List[Any]) -> List[bytes]:
    """The executables handed to subprocess.Popen so far."""
    return [os.fsencode(args[0]) for args in popen_events]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with PWD naming it, as a shell would have set it.

    ``bin/pwd_check`` on PATH writes the PWD it was given to ``seen`` (to
    ``seen-by-plain`` when it is already there).
    """
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PWD", str(tmp_path))
    (tmp_path / "bin").mkdir()
    check = tmp_path / "bin" / "pwd_check"
    check.write_text(
        f"#!{sys.executable}\n"
        "import os\n"
        "name = 'seen-by-plain' if os.path.exists('seen') else 'seen'\n"
        "open(name, 'w').write(os.environ.get('PWD', '<unset>') + '\\n')\n"
    )
    check.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    return tmp_path


@needs_shell_free
def test_auto_runs_a_plain_command_without_the_shell(popen_events: List[Any], workdir: Path) -> None:
    """A command with no shell syntax runs as an argv: Popen gets the program, not /bin/sh."""
    shim.install(shell="auto")
    assert os.system("date -u +%s >/dev/null") == 0  # redirection: the shell
    assert executables(popen_events) == [_env.SHELL_PATH]
    assert os.system("ls -d .") == posix.system("ls -d .") == 0
    assert executables(popen_events)[-1].endswith(b"/ls")


def test_auto_keeps_the_shell_for_shell_syntax(popen_events: List[Any], workdir: Path) -> None:
    """A command with a pipe goes to /bin/sh, with the same status as plain os.system."""
    shim.install(shell="auto")
    assert os.system("true | false") == posix.system("true | false")
    assert executables(popen_events) == [_env.SHELL_PATH]


def test_auto_keeps_the_shell_when_sh_is_unknown(
    popen_events: List[Any], workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where /bin/sh is a shell shim does not reproduce, auto mode never skips it."""
    monkeypatch.setattr(_env, "shell", lambda: _env.Shell("", (), "unknown (a script)"))
    shim.install(shell="auto")
    assert os.system("/bin/true") == 0
    assert executables(popen_events) == [_env.SHELL_PATH]


@needs_shell_free
@pytest.mark.parametrize("pwd", ["/", None, "relative", ""], ids=["stale", "unset", "relative", "empty"])
def test_auto_runs_without_the_shell_whatever_pwd_says(
    popen_events: List[Any], workdir: Path, pwd: Optional[str]
) -> None:
    """After os.chdir, or without PWD, the program runs directly with the PWD the shell would set."""
    if pwd is None:
        del os.environ["PWD"]
    else:
        os.environ["PWD"] = pwd
    shim.install(shell="auto")
    assert os.system("pwd_check") == posix.system("pwd_check")
    assert executables(popen_events) == [os.fsencode(workdir / "bin" / "pwd_check")]
    assert (workdir / "seen").read_text() == (workdir / "seen-by-plain").read_text()
    assert (workdir / "seen").read_text() == f"{os.path.realpath(workdir)}\n"


@needs_shell_free
def test_auto_keeps_the_shell_when_the_working_directory_is_gone(
    popen_events: List[Any], workdir: Path
) -> None:
    """A working directory that was removed cannot be named: the shell decides what PWD is."""
    gone = workdir / "gone"
    gone.mkdir()
    os.chdir(gone)
    gone.rmdir()
    shim.install(shell="auto")
    assert os.system("/bin/true") == posix.system("/bin/true")
    assert executables(popen_events) == [_env.SHELL_PATH]


def test_never_refuses_shell_syntax_and_runs_nothing(popen_events: List[Any], workdir: Path) -> None:
    """shell="never": a command that needs a shell raises ShellRequiredError before anything runs."""
    shim.install(shell="never")
    with pytest.raises(shim.ShellRequiredError) as info:
        os.system("touch ran.txt | cat")
    assert not (workdir / "ran.txt").exists()
    assert executables(popen_events) == []
    error = info.value
    assert isinstance(error, OSError)
    assert isinstance(error, shim.ShimError)
    assert error.reason == "pipe"
    assert error.command == "touch ran.txt | cat"
    assert error.site is not None and error.site.startswith(__file__ + ":")
    assert "pipe" in str(error) and __file__ in str(error)


@needs_shell_free
def test_never_runs_plain_commands_directly(popen_events: List[Any], workdir: Path) -> None:
    """shell="never" runs commands without shell syntax, directly, with plain os.system's status."""
    shim.install(shell="never")
    assert os.system("/bin/false") == posix.system("/bin/false") == 1 << 8
    assert executables(popen_events)[-1] == b"/bin/false"


def test_never_refuses_a_program_not_found(workdir: Path) -> None:
    """A program that is not on PATH would need the shell to report it: refused."""
    shim.install(shell="never")
    with pytest.raises(shim.ShellRequiredError, match="program not found on PATH"):
        os.system("no_such_program_xyz --flag")


def test_never_refuses_a_script_without_shebang(workdir: Path) -> None:
    """A script without #! only runs under a shell: refused, and it has not run."""
    script = workdir / "script"
    script.write_text("touch ran.txt\n")
    script.chmod(0o755)
    shim.install(shell="never")
    with pytest.raises(shim.ShellRequiredError, match="cannot be executed directly"):
        os.system("./script")
    assert not (workdir / "ran.txt").exists()


@pytest.mark.parametrize("mode", ["auto", "never"])
def test_bad_arguments_raise_like_os_system(mode: str) -> None:
    """Wrong types and NUL bytes give plain os.system's exceptions in every shell mode."""
    shim.install(shell=mode)
    for bad in (1, None, b"a\0b", "a\0b", bytearray(b"true")):
        with pytest.raises(Exception) as shimmed:
            os.system(bad)  # type: ignore[arg-type]
        with pytest.raises(Exception) as plain:
            posix.system(bad)  # type: ignore[arg-type]
        assert (type(shimmed.value), str(shimmed.value)) == (type(plain.value), str(plain.value))


def test_shell_required_error_pickles() -> None:
    """ShellRequiredError survives pickling (multiprocessing, logging queues)."""
    error = shim.ShellRequiredError("a | b", "pipe", "x.py:3")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.command, copy.reason, copy.site, str(copy)) == (error.command, error.reason, error.site, str(error))


# Words of simple commands, as programs write them: plain, quoted both ways,
# escaped; none of them is shell syntax.
_WORDS = [
    "-v", "--out=x.txt", "a,b:c", "50%", "1.5", "/tmp/x", "@host", "^x", "k=v", "=",
    "'in file.png'", "'$HOME; rm -rf /'", '"double quoted"', '"it\'s"', "a\\ b", "\\*", '""', "''",
    "\xe9t\xe9", "x#y",
]  # fmt: skip


@needs_shell_free
@pytest.mark.parametrize("pwd", ["valid", "stale", "unset"])
def test_simple_commands_run_without_the_shell(
    popen_events: List[Any], workdir: Path, pwd: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every generated command without shell syntax runs without /bin/sh, after chdir and without PWD.

    The programs are on PATH (links to ``true``); the environment is the
    test run's.  Prints how many ran directly, and under which /bin/sh.
    """
    import random
    import shutil

    from shim._common.syntax import analyze

    true = shutil.which("true")
    assert true is not None
    for name in ("tool", "convert", "git-x", "make.sh"):
        os.symlink(true, workdir / "bin" / name)
    (workdir / "elsewhere").mkdir()
    os.chdir(workdir / "elsewhere")
    if pwd == "stale":
        os.environ["PWD"] = str(workdir)
    elif pwd == "unset":
        del os.environ["PWD"]
    rng = random.Random(11)
    commands = []
    while len(commands) < 200:
        words = [rng.choice(["tool", "convert", "git-x", "make.sh", "'tool'", "t\\ool"])]
        words += rng.sample(_WORDS, rng.randrange(6))
        command = " ".join(words)
        if analyze(command.encode()).argv is not None:
            commands.append(command)
    shim.install(shell="auto")
    for command in commands:
        assert os.system(command) == 0, command
    shim.uninstall()
    direct = sum(executable != _env.SHELL_PATH for executable in executables(popen_events))
    with capsys.disabled():
        print(f"\n{_env.shell().text}, PWD {pwd}: {direct} of {len(commands)} simple commands ran without /bin/sh")
    assert direct == len(commands)


def test_an_empty_path_entry_runs_the_file_the_shell_runs(tmp_path: Path) -> None:
    """PATH=':/other': the shell runs ./tool (a script without #!, through itself); auto must not run /other/tool."""
    work = tmp_path / "work"
    other = tmp_path / "other"
    work.mkdir()
    other.mkdir()
    (work / "tool").write_text("echo the file in the current directory\n")
    (other / "tool").write_text("#!/bin/sh\necho the file on PATH\n")
    for script in (work / "tool", other / "tool"):
        script.chmod(0o755)
    program = (
        "import os, posix, sys\n"
        "os.environ['PATH'] = ':' + sys.argv[1] + ':/usr/bin:/bin'\n"
        "plain = posix.system('tool')\n"
        "import shim\n"
        "shim.install(shell='auto')\n"
        "print('status', plain, os.system('tool'), flush=True)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", program, str(other)], cwd=str(work), env=child_env(PWD=str(work)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=60, check=False,
    )
    assert proc.stdout.splitlines() == [
        "the file in the current directory", "the file in the current directory", "status 0 0",
    ], proc.stderr
