"""Logging: one INFO record per call on the ``shim`` logger, and nothing that can change a call's result."""

import json
import logging
import os
import subprocess
import sys
import textwrap
from typing import Any, Dict, Iterator, List

import pytest
import shim
from shim._runtime import logs, warn
from shim._runtime.session import Session
from shim.exceptions import ShimWarning

from conftest import child_env

logger = logging.getLogger("shim")


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Put the shim logger, its handlers and the once-per-process warnings back as they were."""
    handlers = list(logger.handlers)
    filters = list(logger.filters)
    level = logger.level
    warned = set(warn._ONCE.keys)
    warn._ONCE.keys.clear()
    yield
    shim.uninstall()
    logger.handlers[:] = handlers
    logger.filters[:] = filters
    logger.setLevel(level)
    warn._ONCE.keys.clear()
    warn._ONCE.keys.update(warned)


class ListHandler(logging.Handler):
    """Keeps the records it gets."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: List[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def records() -> Iterator[List[logging.LogRecord]]:
    handler = ListHandler()
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler.records
    logger.removeHandler(handler)


def run_child(code: str, **env: str) -> "subprocess.CompletedProcess[str]":
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=child_env(**env),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        universal_newlines=True,
        timeout=60,
        check=False,
    )


def test_one_info_record_per_call(records: List[logging.LogRecord]) -> None:
    """Each call emits one INFO record naming command, status, duration and site, with the fields in extra."""
    plain = os.system("exit 3")
    shim.install()
    line = sys._getframe().f_lineno + 1
    shimmed = os.system("exit 3")
    assert shimmed == plain
    (record,) = records
    assert record.name == "shim"
    assert record.levelno == logging.INFO
    message = record.getMessage()
    assert "os.system('exit 3')" in message
    assert f"returned {plain}" in message
    assert "exit code 3" in message
    assert " ms " in message
    assert f"{__file__}:{line}" in message
    data: Dict[str, Any] = record.shim  # type: ignore[attr-defined]
    assert data["status"] == plain
    assert data["command"] == "exit 3"
    assert data["site"] == {
        "file": __file__,
        "line": line,
        "function": "test_one_info_record_per_call",
    }
    assert record.shim_command == "exit 3"  # type: ignore[attr-defined]
    assert record.shim_status == plain  # type: ignore[attr-defined]
    assert record.shim_exit_code == 3  # type: ignore[attr-defined]
    assert record.shim_signal is None  # type: ignore[attr-defined]
    assert record.shim_duration_ms == data["duration_ms"]  # type: ignore[attr-defined]
    assert record.shim_site == f"{__file__}:{line}"  # type: ignore[attr-defined]
    # The extra is what an audit line holds.
    json.dumps(data)


def test_signal_in_the_message(records: List[logging.LogRecord]) -> None:
    """A command killed by a signal is described by its signal."""
    plain = os.system("kill -TERM $$")
    shim.install()
    assert os.system("kill -TERM $$") == plain
    assert "signal 15" in records[0].getMessage()
    assert records[0].shim_signal == 15  # type: ignore[attr-defined]


def test_secrets_are_masked_in_the_log(records: List[logging.LogRecord]) -> None:
    """The message and the extra fields show the command with its secrets masked."""
    shim.install()
    assert os.system("DB_PASSWORD=hunter2 true") == 0
    (record,) = records
    assert "hunter2" not in record.getMessage()
    assert "DB_PASSWORD=***" in record.getMessage()
    assert "hunter2" not in json.dumps(record.shim)  # type: ignore[attr-defined]


def test_by_default_only_a_null_handler_and_cheap_import() -> None:
    """import shim loads no logging, json, re or wrapt; installed, the logger has only a NullHandler and prints nothing."""
    code = """
    import os, sys, typing
    # typing itself loads re on some Pythons: only what shim adds counts.
    before = set(sys.modules)
    import shim
    loaded = sorted(m for m in set(sys.modules) - before if m in ("logging", "json", "re", "wrapt"))
    import json as _j
    shim.install()
    import logging
    from shim._runtime import lifecycle
    from shim._runtime.session import Session
    handlers = [type(h).__name__ for h in logging.getLogger("shim").handlers]
    status = os.system("exit 2")
    print(_j.dumps([loaded, handlers, Session(lifecycle.settings()).wants_record(), status]))
    """
    proc = run_child(code)
    assert proc.returncode == 0, proc.stderr
    loaded, handlers, wants, status = json.loads(proc.stdout)
    assert loaded == []
    assert handlers == ["NullHandler"]
    assert wants is False
    assert status == 2 << 8
    assert proc.stderr == ""


def test_shim_log_variable_prints_to_stderr() -> None:
    """SHIM_LOG=INFO in the environment prints one line per call on stderr; statuses are unchanged."""
    code = """
    import os, sys{import_shim}
    statuses = [os.system("exit 3"), os.system("true")]
    sys.stdout.write(repr(statuses))
    """
    plain = run_child(code.format(import_shim=""))
    shimmed = run_child(code.format(import_shim="; import shim.auto"), SHIM_LOG="INFO")
    assert shimmed.returncode == plain.returncode == 0
    assert shimmed.stdout == plain.stdout
    assert plain.stderr == ""
    lines = shimmed.stderr.splitlines()
    assert len(lines) == 2, shimmed.stderr
    assert lines[0].startswith("shim: INFO: os.system('exit 3') returned 768 (exit code 3) in ")
    assert lines[1].startswith("shim: INFO: os.system('true') returned 0 (exit code 0) in ")
    assert "<string>:3 in <module>" in lines[0]


def test_program_logging_configuration_gets_the_records() -> None:
    """Without SHIM_LOG, a program that configures logging at INFO receives the records, extra fields included."""
    code = """
    import logging, os, sys
    logging.basicConfig(level=logging.INFO, stream=sys.stdout,
                        format="%(name)s|%(shim_status)s|%(shim_exit_code)s|%(shim_site)s")
    import shim
    shim.install()
    os.system("exit 4")
    """
    proc = run_child(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"shim|{4 << 8}|4|<string>:7"
    assert proc.stderr == ""


def test_repeated_install_keeps_one_stderr_handler(capsys: pytest.CaptureFixture[str]) -> None:
    """install(log=...) twice adds one handler; a later install without log removes it and restores the level."""
    level = logger.level
    shim.install(log="INFO")
    shim.install(log="INFO")
    ours = [h for h in logger.handlers if isinstance(h, logs._StderrHandler)]
    assert len(ours) == 1
    assert os.system("true") == 0
    err = capsys.readouterr().err
    assert err.count("shim: INFO: os.system('true')") == 1
    shim.install(log="WARNING")
    assert os.system("true") == 0
    assert capsys.readouterr().err == ""
    shim.install()
    assert not [h for h in logger.handlers if isinstance(h, logs._StderrHandler)]
    assert logger.level == level
    assert os.system("true") == 0
    assert capsys.readouterr().err == ""


def test_stderr_handler_leaves_a_lower_program_level_alone() -> None:
    """A level the program set lower than SHIM_LOG's stays; the handler filters instead."""
    logger.setLevel(logging.DEBUG)
    shim.install(log="INFO")
    assert logger.level == logging.DEBUG
    shim.install()
    assert logger.level == logging.DEBUG


class RaisingHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        raise RuntimeError("handler is broken")


def test_handler_that_raises_changes_nothing(records: List[logging.LogRecord]) -> None:
    """A handler whose emit raises: same status as plain os.system, one ShimWarning, other handlers still served."""
    plain = [os.system("exit 6"), os.system("kill -TERM $$")]
    logger.addHandler(RaisingHandler())
    shim.install()
    with pytest.warns(ShimWarning, match="handler is broken") as caught:
        shimmed = [os.system("exit 6"), os.system("kill -TERM $$")]
    assert shimmed == plain
    assert len(caught) == 1
    assert caught[0].filename == __file__


def test_handler_that_reports_its_own_error(capsys: pytest.CaptureFixture[str]) -> None:
    """A handler failing through logging's handleError prints logging's report; the status is unchanged."""

    class Failing(logging.StreamHandler):  # type: ignore[type-arg]
        def emit(self, record: logging.LogRecord) -> None:
            try:
                raise OSError("disk gone")
            except OSError:
                self.handleError(record)

    plain = os.system("exit 9")
    logger.addHandler(Failing())
    logger.setLevel(logging.INFO)
    shim.install()
    assert os.system("exit 9") == plain
    assert "--- Logging error ---" in capsys.readouterr().err


def test_filter_that_raises_changes_nothing() -> None:
    """A logger filter that raises is contained like a handler."""

    def broken(record: logging.LogRecord) -> bool:
        raise ValueError("filter is broken")

    plain = os.system("exit 1")
    logger.addFilter(broken)
    logger.setLevel(logging.INFO)
    shim.install()
    with pytest.warns(ShimWarning, match="filter is broken"):
        assert os.system("exit 1") == plain


def test_handler_that_calls_os_system_does_not_recurse(
    records: List[logging.LogRecord], tmp_path: Any
) -> None:
    """A handler that itself runs a command: that call is audited but not logged again."""

    class Notifier(logging.Handler):
        def __init__(self) -> None:
            super().__init__()
            self.statuses: List[int] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.statuses.append(os.system("exit 2"))

    notifier = Notifier()
    logger.addHandler(notifier)
    audit = tmp_path / "audit.jsonl"
    shim.install(audit=str(audit))
    assert os.system("exit 5") == 5 << 8
    assert notifier.statuses == [2 << 8]
    assert [r.shim_command for r in records] == ["exit 5"]  # type: ignore[attr-defined]
    commands = [json.loads(line)["command"] for line in audit.read_text().splitlines()]
    assert sorted(commands) == ["exit 2", "exit 5"]


def test_wants_record() -> None:
    """A record is made only when an audit file is set or the logger listens at INFO."""
    from shim._common.settings import Settings

    logger.setLevel(logging.WARNING)
    assert not Session(Settings()).wants_record()
    assert Session(Settings(audit="/tmp/x")).wants_record()
    logger.setLevel(logging.INFO)
    assert Session(Settings()).wants_record()
