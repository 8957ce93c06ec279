"""Shared fixtures: every test leaves os.system, signal handlers and the environment as it found them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Iterator, List

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


def shim_process(*argv: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Run ``python -m shim`` in a fresh interpreter."""
    return subprocess.run(
        [sys.executable, "-m", "shim", *argv],
        cwd=cwd,
        env=child_env(),
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def popen_events() -> Iterator[List[Any]]:
    """The arguments of the subprocess.Popen audit events raised while the test runs.

    Plain os.system raises none, so they show the calls the shim made, and
    their first item is the executable: /bin/sh, or the program itself.
    """
    events: List[Any] = []
    active = [True]

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
