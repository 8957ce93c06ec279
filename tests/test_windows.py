"""F9: the pure parts of the Windows path, which this machine cannot run.

The Windows branch itself runs in the CI matrix on windows-latest.
"""

import pytest
from shim._runtime import windows as _windows


def test_comspec_is_used_when_set() -> None:
    """system() runs %COMSPEC% when it is set."""
    assert _windows.comspec({"COMSPEC": r"C:\Windows\system32\cmd.exe"}) == r"C:\Windows\system32\cmd.exe"


@pytest.mark.parametrize("environ", [{}, {"COMSPEC": ""}, {"COMSPEC": "   "}])
def test_comspec_falls_back_to_cmd_exe(environ: dict) -> None:
    """Without a usable COMSPEC, system() falls back to cmd.exe."""
    assert _windows.comspec(environ) == "cmd.exe"


def test_command_line_is_comspec_slash_c_command() -> None:
    """The command line is `%COMSPEC% /c command`, the command passed on untouched."""
    program, line = _windows.command_line('dir "C:\\Program Files" & echo %PATH%', {"COMSPEC": "X:\\cmd.exe"})
    assert program == "X:\\cmd.exe"
    assert line == 'X:\\cmd.exe /c dir "C:\\Program Files" & echo %PATH%'


def test_command_line_without_comspec() -> None:
    """Without COMSPEC the command line starts with cmd.exe."""
    assert _windows.command_line("echo hi", {}) == ("cmd.exe", "cmd.exe /c echo hi")


class FakePopen:
    """Stands in for subprocess.Popen, which cannot start cmd.exe here."""

    calls: list = []

    def __init__(self, args: str, **kwargs: object) -> None:
        FakePopen.calls.append((args, kwargs))

    def wait(self) -> int:
        return 3


def refuse(*args: object, **kwargs: object) -> None:
    raise FileNotFoundError(2, "cannot start")


def test_exit_code_is_returned_as_is() -> None:
    """Windows os.system returns the exit code itself, not a wait status."""
    FakePopen.calls = []
    assert _windows.run("exit 3", {"COMSPEC": "C:\\cmd.exe"}, spawn=FakePopen) == 3
    assert FakePopen.calls == [("C:\\cmd.exe /c exit 3", {"executable": "C:\\cmd.exe", "close_fds": False})]


def test_relative_comspec_is_searched() -> None:
    """A COMSPEC that is not absolute (the cmd.exe fallback) is left to the search path."""
    FakePopen.calls = []
    _windows.run("ver", {}, spawn=FakePopen)
    assert FakePopen.calls[0][1]["executable"] is None


def test_interpreter_not_started_gives_minus_one() -> None:
    """When the command interpreter cannot be started, _wsystem returns -1."""
    assert _windows.run("ver", {}, spawn=refuse) == -1
