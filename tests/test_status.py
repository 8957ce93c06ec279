"""Wait-status arithmetic against the os module's own W* functions, on real statuses."""

import os
import posix
import signal
from typing import List

import pytest
from shim._common import status as _status


def real_statuses() -> List[int]:
    """Wait statuses produced by real commands (exits, signals, a core dump)."""
    commands = ["exit 0", "exit 1", "exit 255", "kill -TERM $$", "kill -KILL $$",
                "ulimit -c 0; kill -SEGV $$", "ulimit -c unlimited; kill -SEGV $$"]
    return [posix.system(f"cd /tmp && {c}") for c in commands]


@pytest.fixture(scope="module")
def statuses(tmp_path_factory: pytest.TempPathFactory) -> List[int]:
    cwd = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("cores"))
    try:
        return real_statuses()
    finally:
        os.chdir(cwd)


def test_exit_code_matches_os(statuses: List[int]) -> None:
    """exit_code() agrees with os.WIFEXITED/os.WEXITSTATUS."""
    for status in statuses:
        expected = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
        assert _status.exit_code(status) == expected


def test_term_signal_matches_os(statuses: List[int]) -> None:
    """term_signal() agrees with os.WIFSIGNALED/os.WTERMSIG."""
    for status in statuses:
        expected = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        assert _status.term_signal(status) == expected


def test_core_dumped_matches_os(statuses: List[int]) -> None:
    """core_dumped() agrees with os.WCOREDUMP."""
    for status in statuses:
        assert _status.core_dumped(status) == (os.WIFSIGNALED(status) and os.WCOREDUMP(status))


def test_returncode_matches_subprocess_convention(statuses: List[int]) -> None:
    """returncode() is what Popen reports: the exit code, or minus the signal."""
    for status in statuses:
        if os.WIFSIGNALED(status):
            assert _status.returncode(status) == -os.WTERMSIG(status)
        else:
            assert _status.returncode(status) == os.WEXITSTATUS(status)


def test_failure_values() -> None:
    """-1 (status not collected) is neither an exit nor a signal; 127 << 8 is exit 127."""
    assert _status.exit_code(-1) is None and _status.term_signal(-1) is None
    assert _status.exit_code(_status.SHELL_START_FAILED) == 127
    assert _status.term_signal(posix.system("kill -TERM $$")) == signal.SIGTERM


def test_from_returncode_inverts_returncode(statuses: List[int]) -> None:
    """from_returncode(returncode(s)) gives s back, but for the core bit a returncode cannot carry."""
    for status in statuses:
        assert _status.from_returncode(_status.returncode(status)) == status & ~0x80
