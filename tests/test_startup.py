"""Activation: the .pth start-up hook, SHIM_ENABLE, import shim.auto, and the start-up budget's design."""

import importlib
import pkgutil
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Tuple

import pytest
import wrapt

from conftest import ROOT, child_env


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Tuple[Path, Path]:
    """A fresh virtual environment where shim is installed the way pip installs it.

    Its site-packages holds the project's real ``shim.pth`` and a path entry
    for this checkout (and for wrapt), so start-up runs the shipped hook.
    """
    home = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(home)], check=True)
    python = home / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=True,
    ).stdout.strip()
    site = Path(purelib)
    wrapt_parent = Path(wrapt.__file__).resolve().parent.parent
    # Sorted before shim.pth, as pip's own files are: paths first, then the hook.
    (site / "_shim_paths.pth").write_text(f"{ROOT}\n{wrapt_parent}\n")
    shutil.copy(ROOT / "shim.pth", site / "shim.pth")
    return python, site


def run_in(python: Path, code: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in child_env().items() if k != "PYTHONPATH"}
    environ.update(env)
    return subprocess.run([str(python), "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, env=environ, check=False)


PROBE = (
    "import os, sys, posix\n"
    "print('shim' in sys.modules, 'wrapt' in sys.modules, os.system is posix.system)\n"
)


def test_unset_imports_nothing(venv: Tuple[Path, Path]) -> None:
    """Without SHIM_ENABLE the hook imports nothing and leaves os.system alone."""
    result = run_in(venv[0], PROBE)
    assert result.stdout.split() == ["False", "False", "True"], result.stderr
    assert result.stderr == ""


@pytest.mark.parametrize("value", ["0", "no", "off", "false", "", "2"])
def test_falsy_values_do_nothing(venv: Tuple[Path, Path], value: str) -> None:
    """SHIM_ENABLE values other than 1/true/yes/on leave the interpreter untouched."""
    result = run_in(venv[0], PROBE, SHIM_ENABLE=value)
    assert result.stdout.split() == ["False", "False", "True"], result.stderr


@pytest.mark.parametrize("value", ["1", "true", "yes", "on", "TRUE", " On "])
def test_enabled_arms_without_importing_wrapt(venv: Tuple[Path, Path], value: str) -> None:
    """With SHIM_ENABLE truthy, os.system is replaced at start-up but wrapt and subprocess are not imported yet."""
    code = PROBE + "print('subprocess' in sys.modules)\nimport shim; print(shim.is_installed())\n"
    result = run_in(venv[0], code, SHIM_ENABLE=value)
    assert result.stdout.split() == ["True", "False", "False", "False", "True"], result.stderr
    assert result.stderr == ""


def test_first_call_installs_and_matches_plain(venv: Tuple[Path, Path]) -> None:
    """The first call installs the wrapt proxy and returns what plain os.system returns."""
    code = (
        "import os, posix, sys, wrapt\n"
        "from os import system as early\n"
        "print(os.system('echo one; exit 3'), posix.system('echo one; exit 3'))\n"
        "print(isinstance(os.system, wrapt.FunctionWrapper), early is os.system)\n"
        "print(early('exit 4'))\n"
    )
    result = run_in(venv[0], code, SHIM_ENABLE="1")
    assert result.stdout.split() == ["one", "one", "768", "768", "True", "True", "1024"], result.stderr


def test_enabled_then_uninstall(venv: Tuple[Path, Path]) -> None:
    """uninstall() before the first call restores the C function."""
    code = "import os, posix, shim\nshim.uninstall()\nprint(os.system is posix.system, shim.is_installed())\n"
    result = run_in(venv[0], code, SHIM_ENABLE="1")
    assert result.stdout.split() == ["True", "False"], result.stderr


@pytest.mark.parametrize(
    ("variable", "value", "accepted"),
    [
        ("SHIM_SHELL", "sometimes", "always|auto|never"),
        ("SHIM_CAPTURE", "all", "off|tee"),
        ("SHIM_CAPTURE_LIMIT", "-5", "whole number"),
        ("SHIM_LOG", "LOUD", "DEBUG|INFO|WARNING|ERROR|CRITICAL"),
        ("SHIM_OTEL", "maybe", "1|true|yes|on|0|false|no|off"),
        ("SHIM_OTEL_PROPAGATE", "2", "1|true|yes|on|0|false|no|off"),
    ],
)
def test_bad_value_prints_one_line_and_runs_unshimmed(
    venv: Tuple[Path, Path], variable: str, value: str, accepted: str
) -> None:
    """A bad SHIM_* value: one line naming the variable and the accepted values; the program runs unshimmed."""
    code = PROBE + "print(os.system('exit 2'))\n"
    result = run_in(venv[0], code, SHIM_ENABLE="1", **{variable: value})
    assert result.stdout.split() == ["True", "False", "True", "512"]
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert variable in lines[0] and accepted in lines[0] and repr(value) in lines[0]


def test_hook_processed_twice_acts_once(venv: Tuple[Path, Path]) -> None:
    """A site directory processed twice (as venvs can) runs the hook once: one warning line, not two."""
    code = f"import site\nsite.addsitedir({str(venv[1])!r})\nimport os, posix\nprint(os.system is posix.system)\n"
    result = run_in(venv[0], code, SHIM_ENABLE="1", SHIM_SHELL="bad")
    assert result.stdout.split() == ["True"]
    assert len(result.stderr.splitlines()) == 1, result.stderr


def test_hook_never_raises() -> None:
    """If the start-up hook's own work fails, start-up goes on: one line on stderr, os.system untouched."""
    code = (
        "from shim._runtime import startup\nfrom shim._common import settings\n"
        "settings.from_env = None  # any failure inside the hook\n"
        "startup.main()\n"
        "import os, posix\nprint(os.system is posix.system)\n"
    )
    # -S: where shim is installed (under tox), its real hook would otherwise
    # have run at start-up already, before this one is made to fail.
    result = subprocess.run([sys.executable, "-S", "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                            env=child_env(SHIM_ENABLE="1"), check=False)
    assert result.returncode == 0
    assert result.stdout.split() == ["True"]
    assert len(result.stderr.splitlines()) == 1 and "running without the shim" in result.stderr


def test_import_shim_auto_installs_from_environment() -> None:
    """`import shim.auto` installs with the SHIM_* settings, without SHIM_ENABLE."""
    code = (
        "import shim.auto, os, shim\nfrom shim._runtime import lifecycle\n"
        "print(shim.is_installed(), os.system('exit 1'))\n"
        "print(lifecycle.settings().shell)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                            env=child_env(SHIM_SHELL="auto"), check=False)
    assert result.stdout.split() == ["True", "256", "auto"], result.stderr


def test_import_shim_auto_with_bad_value() -> None:
    """`import shim.auto` with a bad variable prints one line and leaves os.system alone."""
    code = "import shim.auto, os, posix\nprint(os.system is posix.system)\n"
    result = subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                            env=child_env(SHIM_CAPTURE="everything"), check=False)
    assert result.stdout.split() == ["True"]
    assert len(result.stderr.splitlines()) == 1 and "SHIM_CAPTURE" in result.stderr


def test_start_file_names_the_entry_point() -> None:
    """shim.start (PEP 829, Python 3.15+) names a callable that resolves and is the same hook."""
    from shim._runtime import startup

    entry = (ROOT / "shim.start").read_text().strip()
    # pkgutil.resolve_name (3.9+) is what site.py uses for .start entries.
    module_name, _, attribute = entry.partition(":")
    assert getattr(importlib.import_module(module_name), attribute) is startup.main
    if hasattr(pkgutil, "resolve_name"):
        assert pkgutil.resolve_name(entry) is startup.main


def test_installed_package_ships_the_hooks() -> None:
    """Where shim is installed (as under tox), shim.pth and shim.start sit in site-packages beside it."""
    import shim

    site = Path(shim.__file__).resolve().parent.parent
    if site == ROOT:
        pytest.skip("running from the source tree; the installed layout is checked under tox")
    assert (site / "shim.pth").read_text() == (ROOT / "shim.pth").read_text()
    assert (site / "shim.start").read_text() == (ROOT / "shim.start").read_text()
