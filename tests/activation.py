"""Switching the shim on in a child interpreter, each of the ways users do.

* ``env``: ``SHIM_ENABLE=1`` and ``SHIM_*`` variables; the start-up hook
  (``shim.pth``, processed by ``site``) arms the shim.  This is the path
  production users take, so the test interpreter must have the package
  really installed (``pip install -e .`` or, under tox, the wheel).
* ``auto``: ``import shim.auto`` at the top of the program, settings from
  ``SHIM_*`` variables.
* ``run``: ``python -m shim run [options] -- python -c CODE``.
* ``install``: ``shim.install(**settings)`` at the top of the program.

The child environment has no ``PYTHONPATH``: ``shim`` comes from where it
is installed, as for a user.
"""

import os
import sys
import sysconfig
from pathlib import Path
from typing import Any, Dict, List, Tuple

PATHS = ("env", "auto", "run", "install")

#: keyword argument of install() -> (environment variable, option of `shim run`)
_NAMES = {
    "capture": ("SHIM_CAPTURE", "--capture"),
    "capture_limit": ("SHIM_CAPTURE_LIMIT", "--capture-limit"),
    "shell": ("SHIM_SHELL", "--shell"),
    "audit": ("SHIM_AUDIT", "--audit"),
    "log": ("SHIM_LOG", "--log"),
}


def hook_installed() -> bool:
    """Whether this interpreter's site-packages has the start-up hook."""
    return any(
        (Path(path) / "shim.pth").is_file()
        for path in {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    )


def require_installed() -> None:
    """Fail, with the fix, when the start-up paths cannot be tested here."""
    if not hook_installed():
        raise AssertionError(
            f"{sys.executable} has no shim.pth in its site-packages: the start-up paths "
            "(SHIM_ENABLE=1, shim run) would run unshimmed and compare nothing. "
            "Install the package into the test environment: pip install -e ."
        )


def clean_env() -> Dict[str, str]:
    """This process's environment without SHIM_* variables, PYTHONPATH and pytest's own variables.

    ``PYTEST_CURRENT_TEST`` names the test running, which differs between a
    plain run cached by one test and the shimmed run of another.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHIM_", "PYTEST_"))}
    for name in ("PYTHONPATH", "PYTHONWARNINGS", "PYTHONUNBUFFERED", "PYTHONSTARTUP"):
        env.pop(name, None)
    return env


def command(path: str, settings: Dict[str, Any], code: str) -> Tuple[List[str], Dict[str, str]]:
    """argv, and variables to add to the environment, that run ``code`` with the shim on.

    ``path`` is one of :data:`PATHS`, or ``"plain"`` for no shim at all.
    """
    python = sys.executable
    if path == "plain":
        return [python, "-c", code], {}
    if path == "install":
        return [python, "-c", _prepend(f"import shim; shim.install(**{settings!r});", code)], {}
    if path == "run":
        options: List[str] = []
        for key, value in settings.items():
            options += [_NAMES[key][1], str(value)]
        return [python, "-m", "shim", "run", *options, "--", python, "-c", code], {}
    variables = {_NAMES[key][0]: str(value) for key, value in settings.items()}
    if path == "env":
        variables["SHIM_ENABLE"] = "1"
        return [python, "-c", code], variables
    if path == "auto":
        return [python, "-c", _prepend("import shim.auto;", code)], variables
    raise ValueError(f"unknown activation path {path!r}")


def _prepend(statement: str, code: str) -> str:
    """``statement`` before ``code``, on its empty first line if it has one.

    Line numbers in tracebacks and call sites then stay those of ``code``,
    so runs switched on in different ways can be compared byte for byte.
    """
    if code.startswith("\n"):
        return statement + code
    return f"{statement}\n{code}"
