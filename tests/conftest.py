"""Shared fixtures: every test leaves os.system, signal handlers and the environment as it found them."""

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Iterator, List, Sequence

import pytest

ROOT = Path(__file__).resolve().parent.parent


def child_env(**extra: str) -> Dict[str, str]:
    """An environment for a child interpreter that imports this checkout's ``shim``.

    ``SHIM_*`` variables of the test run itself are removed so they cannot leak
    into the child.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIM_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env.pop("PYTHONWARNINGS", None)
    # An unbuffered child would hide what F7 is about: Python's own buffered
    # output coming out after the command's.
    env.pop("PYTHONUNBUFFERED", None)
    env.update(extra)
    return env


def shim_process(*argv: str, cwd: Path = ROOT) -> "subprocess.CompletedProcess[str]":
    """Run ``python -m shim`` in a fresh interpreter."""
    return subprocess.run(
        [sys.executable, "-m", "shim", *argv],
        cwd=cwd,
        env=child_env(),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        universal_newlines=True,
        check=False,
    )


@contextlib.contextmanager
def shared_dir(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[Path]:
    """A directory that every xdist worker of this run shares, held under a lock while in use.

    What a test makes once for the run (a plain run to compare with, a
    venv) goes there, whichever worker gets there first: the workers must
    not count on ``xdist_group`` to put related tests together (pytest-xdist
    3.8 no longer groups under pytest 9).
    """
    import fcntl

    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # the run's directory, above each worker's own
    path = base / "shared" / name
    path.mkdir(parents=True, exist_ok=True)
    with open(f"{path}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield path
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture
def popen_events() -> Iterator[List[Any]]:
    """The arguments of the subprocess.Popen audit events raised while the test runs.

    Plain os.system raises none, so they show the calls the shim made, and
    their first item is the executable: /bin/sh, or the program itself.
    """
    events: List[Any] = []
    active = [True]
    if not hasattr(sys, "addaudithook"):
        # Python 3.6 and 3.7 raise no audit events: record what the event
        # would carry, from the method that raises it on 3.8+.
        original = subprocess.Popen._execute_child  # type: ignore[attr-defined]

        def execute_child(self: Any, args: Any, executable: Any, preexec_fn: Any, close_fds: Any, pass_fds: Any, cwd: Any, env: Any, *rest: Any) -> Any:
            events.append((args[0] if executable is None else executable, args, cwd, env))
            return original(self, args, executable, preexec_fn, close_fds, pass_fds, cwd, env, *rest)

        subprocess.Popen._execute_child = execute_child  # type: ignore[attr-defined]
        yield events
        subprocess.Popen._execute_child = original  # type: ignore[attr-defined]
        return

    def hook(name: str, args: Any) -> None:
        if active[0] and name == "subprocess.Popen":
            events.append(args)

    sys.addaudithook(hook)  # audit hooks cannot be removed: this one goes quiet
    yield events
    active[0] = False


@pytest.fixture(autouse=True)
def _restore_global_state() -> Iterator[None]:
    """Restore os.system, module globals, signal handlers and os.environ after each test."""
    saved_system = os.system
    saved_environ = dict(os.environ)
    saved_handlers = {}
    for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGCHLD, signal.SIGALRM, signal.SIGUSR1, signal.SIGTERM):
        saved_handlers[sig] = signal.getsignal(sig)
    yield
    if "shim" in sys.modules:
        import shim

        shim.uninstall()
    os.system = saved_system
    os.environ.clear()
    os.environ.update(saved_environ)
    for sig, handler in saved_handlers.items():
        if handler is not None:
            signal.signal(sig, handler)


# The migration tools (scan, report, fix), the release build and the
# OpenTelemetry SDK need Python 3.8+ (shim._tools.unavailable says why); on
# 3.6 and 3.7 the tests of them are not collected, and the runtime's are
# (.ci/legacy-pythons).
TOOLS_MODULES = (
    "test_architecture.py",
    "test_corpus.py",
    "test_docs_commands.py",
    "test_fix.py",
    "test_otel.py",
    "test_otel_export.py",
    "test_pytest_plugin.py",
    "test_report.py",
    "test_report_html.py",
    "test_scan.py",
    "test_scan_ci.py",
    "test_tools_hostile.py",
)
TOOLS_NEED = (3, 8)

# Tests of what does not change with the platform or the interpreter's
# minor version in ways the rest of the suite would miss: third-party tools
# driven end to end (Chromium, pre-commit, pip building the release, pytest
# loading the plugin), the layering and the migration corpus.
EXTERNAL_MODULES = (
    "test_architecture.py",
    "test_corpus.py",
    "test_docs_commands.py",
    "test_pytest_plugin.py",
    "test_report_html.py",
    "test_scan_ci.py",
)

#: SHIM_TEST_SCOPE: which part of the suite a run takes (.ci/tox-all and
#: .ci/platforms choose it per interpreter and platform; default "all").
#: "portable" leaves out EXTERNAL_MODULES, "runtime" also the migration
#: tools' tests, keeping what depends on /bin/sh, libc and the interpreter.
SCOPES = {
    "all": (),
    "portable": EXTERNAL_MODULES,
    "runtime": tuple(sorted(set(EXTERNAL_MODULES) | set(TOOLS_MODULES) - {"test_otel.py", "test_otel_export.py"})),
}
SCOPE = os.environ.get("SHIM_TEST_SCOPE", "").strip() or "all"
if SCOPE not in SCOPES:
    raise SystemExit(f"SHIM_TEST_SCOPE={SCOPE!r}: expected one of {', '.join(SCOPES)}")

_too_old = set(TOOLS_MODULES) if sys.version_info < TOOLS_NEED else set()
collect_ignore = sorted(_too_old | set(SCOPES[SCOPE]))


def pytest_report_header(config: pytest.Config) -> List[str]:
    lines = []
    if _too_old:
        version = f"{sys.version_info[0]}.{sys.version_info[1]}"
        lines.append(f"not collected on Python {version}: {', '.join(sorted(_too_old))} "
                     "(the tools, the release build and OpenTelemetry's SDK need 3.8+)")
    left_out = sorted(set(SCOPES[SCOPE]) - _too_old)
    if left_out:
        lines.append(f"SHIM_TEST_SCOPE={SCOPE}: not collected here: {', '.join(left_out)}")
    return lines


# Modules whose tests hold on every platform; the rest exercise the POSIX
# behaviour of os.system (wait statuses, /bin/sh, signals, file descriptors).
PORTABLE_MODULES = {"test_windows", "test_config", "test_suggest", "test_scan", "test_report"}


def pytest_collection_modifyitems(config: pytest.Config, items: list) -> None:
    if sys.platform != "win32":
        return
    skip = pytest.mark.skip(reason="POSIX os.system behaviour; Windows (F9) is covered by test_windows.py")
    for item in items:
        if item.module.__name__ not in PORTABLE_MODULES:
            item.add_marker(skip)


def characters(*, exclude_categories: Sequence[str], exclude_characters: str) -> Any:
    """``hypothesis.strategies.characters`` with the argument names of every hypothesis the suite uses.

    The hypothesis for Python 3.6 (6.31) names them ``blacklist_*``; newer
    ones deprecate those names, and warnings are errors here.
    """
    from hypothesis import strategies as st

    try:
        return st.characters(exclude_categories=exclude_categories, exclude_characters=exclude_characters)
    except TypeError:
        return st.characters(blacklist_categories=exclude_categories, blacklist_characters=exclude_characters)
