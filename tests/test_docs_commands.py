"""Every shell command on the getting-started and migration pages runs as shown.

Each page is played from the top in an empty directory: files the page shows
with a title (``app.py``) are written, the repository's ``examples/`` is
there for the pages that use it, and each command runs with bash in that
directory, in order, as a reader would type it. The pages install the
package from the index by its name (``pip install os-system-shim``); here pip
also finds a wheel built from this checkout, so the commands run unchanged
against the code under test.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from assumptions import needs_shell_free
from conftest import ROOT

DOCS = ROOT / "docs"

# Commands whose documented exit status is not 0, by their text without the
# trailing comment. A command listed here must be on a page.
EXIT_STATUS = {
    ".venv/bin/shim scan examples/legacy_app.py": 1,
    ".venv/bin/shim fix migrated/": 1,
    ".venv/bin/shim fix --unsafe-fixes migrated/": 1,
    ".venv/bin/shim scan migrated --baseline shim-baseline.json": 1,
}

# What the pages say a command shows: text that must be in its output.
SHOWS = {
    "SHIM_ENABLE=1 SHIM_LOG=INFO .venv/bin/python app.py": [
        "hello from the shell",
        "shim: INFO: os.system('echo hello from the shell') returned 0 (exit code 0)",
        "shim: INFO: os.system('ls /nonexistent') returned 512 (exit code 2)",
        "status: 512",
    ],
    "SHIM_ENABLE=1 .venv/bin/shim doctor": [
        "'1': switches the shim on at start-up",
        "verdict: active: os.system goes through the shim in",
    ],
    ".venv/bin/shim report calls.jsonl": [
        "shim report: 2 call sites, 2 calls (1 failed) from 1 file(s)",
        '   source:     status = os.system("ls /nonexistent")',
        'replace:    subprocess.run(["ls", "/nonexistent"], check=False).returncode',
    ],
    ".venv/bin/shim scan examples/legacy_app.py": [
        ("examples/legacy_app.py:18:5: os.system in prepare, non-literal command "
        'f"mkdir -p {WORKDIR}", no shell needed if its values are plain words'),
        ("8 calls in 1 of 1 file; 3 could run without a shell (3 if their values are plain "
        "words), 5 need one, 0 unknown"),
    ],
    "SHIM_ENABLE=1 SHIM_SHELL=auto SHIM_AUDIT=audit.jsonl .venv/bin/python examples/legacy_app.py": [
        "archive written",
    ],
    ".venv/bin/shim report audit.jsonl": [
        "shim report: 8 call sites, 8 calls (1 failed) from 1 file(s)",
        "  sites: 3 could drop the shell, 5 need a shell, 0 refused, 0 not run",
        '   source:     status = system(f"cd {WORKDIR} && tar -cf report.tar report.txt")',
        ('   replace:    subprocess.run(f"cd {WORKDIR} && tar -cf report.tar report.txt", '
        "shell=True, check=False).returncode"),
    ],
    ".venv/bin/shim fix --write migrated/": [
        "shim: rewrote 8 calls in 1 file (8 safe, 0 unsafe; 0 without a shell), left 0 alone",
        "shim: 3 more calls can drop the shell with --unsafe-fixes",
    ],
    ".venv/bin/shim fix --unsafe-fixes migrated/": [
        ("migrated/legacy_app.py:25:5: unsafe fix: changes program-not-started, signal-report, "
        "environment, word-splitting; assumes WORKDIR: each interpolated value"),
        '+    subprocess.run(["mkdir", "-p", f"{WORKDIR}"], check=False)',
    ],
    ".venv/bin/shim fix --unsafe-fixes --write migrated/": [
        "shim: rewrote 3 calls in 1 file (0 safe, 3 unsafe; 3 without a shell), left 0 alone",
    ],
    ".venv/bin/python migrated/legacy_app.py": [
        "archive written",
        "grep exit code: 0",
        "missing file status: 512 (exit code 2)",
    ],
    ".venv/bin/shim scan migrated --baseline shim-baseline.json": [
        "migrated/legacy_app.py:68:1: os.system in <module>, command 'make clean', no shell needed",
        "1 not in the baseline shim-baseline.json",
    ],
    ".venv/bin/python -m pytest test_legacy_app.py --shim": [
        "1 passed",
        "shim: os.system calls",
        "8 call sites, 8 calls (1 failed); could drop the shell: ",
    ],
    ".venv/bin/python -m pytest test_legacy_app.py --shim-baseline=examples-baseline.json": [
        "1 passed",
        "every call site is in the baseline examples-baseline.json",
    ],
}

FENCE = re.compile(r"^```(\w*)([^\n]*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
TITLE = re.compile(r'title="([^"]+)"')


def page_steps(page: Path) -> List[Tuple[str, str]]:
    """The page's steps in order: ("file", "name\\ncontent") for titled blocks, ("sh", command) for commands."""
    steps: List[Tuple[str, str]] = []
    for lang, attrs, body in FENCE.findall(page.read_text(encoding="utf-8")):
        title = TITLE.search(attrs)
        if title:
            steps.append(("file", f"{title.group(1)}\n{body}"))
        elif lang in ("sh", "bash", "shell", "console"):
            for line in body.splitlines():
                command = line.strip()
                if command and not command.startswith("#"):
                    steps.append(("sh", command))
    return steps


def without_comment(command: str) -> str:
    """The command without a trailing ``# comment`` (the pages' commands quote no '#')."""
    return command.split(" # ", 1)[0].split("  #", 1)[0].rstrip()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel of this checkout, built by pip.

    It is built from a copy: setuptools builds in the source tree, and a
    ``build/`` left there by an earlier build would add its files to the wheel.
    With pip and setuptools at hand (the ``test`` dependency group has them)
    the build skips the isolated environment, which costs seconds.
    """
    where = tmp_path_factory.mktemp("wheel")
    source = where / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".*", "build", "dist", "site", "*.egg-info", "__pycache__", "legacy_workdir"))
    if importlib.util.find_spec("pip") and _setuptools_builds_wheels():
        pip = [sys.executable, "-m", "pip", "wheel", "--no-build-isolation"]
    else:
        subprocess.run([sys.executable, "-m", "venv", str(where / "venv")], check=True)
        pip = [str(where / "venv" / "bin" / "python"), "-m", "pip", "wheel"]
    subprocess.run(
        [*pip, "--quiet", "--no-deps", "--disable-pip-version-check",
         "--wheel-dir", str(where / "dist"), str(source)],
        check=True,
    )
    (found,) = (where / "dist").glob("os_system_shim-*.whl")
    return found


def _setuptools_builds_wheels() -> bool:
    """Whether this environment's setuptools can build a wheel by itself.

    setuptools 70.1 took over ``bdist_wheel``; before, the ``wheel`` package
    had to be installed beside it.
    """
    if importlib.util.find_spec("setuptools") is None:
        return False
    if importlib.util.find_spec("wheel") is not None:
        return True
    # Read from the metadata: importing setuptools here would import
    # distutils, whose deprecation warning is an error in this test run.
    from importlib.metadata import version

    major, minor = (int(part) for part in version("setuptools").split(".")[:2])
    return (major, minor) >= (70, 1)


@pytest.fixture
def reader_env(wheel: Path) -> Dict[str, str]:
    """The environment of a reader's shell: no SHIM_* settings, no path to this checkout.

    pip also looks for packages beside the wheel of this checkout, which is
    the only ``os-system-shim`` it can find unless the index has one too;
    :func:`assert_installed_from_checkout` catches that case.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHIM_", "PYTHON", "VIRTUAL_ENV"))}
    env["PIP_FIND_LINKS"] = " ".join(filter(None, (env.get("PIP_FIND_LINKS"), str(wheel.parent))))
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    # The venv the page makes must be built from the interpreter under test.
    env["PATH"] = os.pathsep.join((str(Path(sys.executable).parent), env.get("PATH", "")))
    return env


def assert_installed_from_checkout(venv: Path, env: Dict[str, str]) -> None:
    """The venv's ``shim`` is this checkout's, file for file, not a release from the index."""
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import shim; print(shim.__file__)"],
        capture_output=True, text=True, check=True, env=env, cwd=venv.parent,
    ).stdout.strip()
    installed = Path(where).parent
    assert str(installed).startswith(str(venv) + os.sep), installed
    ours = sorted(p.relative_to(ROOT / "shim") for p in (ROOT / "shim").rglob("*.py"))
    theirs = sorted(p.relative_to(installed) for p in installed.rglob("*.py"))
    assert theirs == ours
    for name in ours:
        assert (installed / name).read_bytes() == (ROOT / "shim" / name).read_bytes(), name


def play(page: str, workdir: Path, env: Dict[str, str]) -> List[str]:
    """Run the page's steps in ``workdir``; return the commands that ran."""
    ran = []
    for kind, step in page_steps(DOCS / page):
        if kind == "file":
            name, content = step.split("\n", 1)
            (workdir / name).write_text(content, encoding="utf-8")
            continue
        key = without_comment(step)
        result = subprocess.run(
            ["bash", "-c", step], cwd=workdir, env=env, capture_output=True, text=True, check=False
        )
        output = result.stdout + result.stderr
        expected = EXIT_STATUS.get(key, 0)
        assert result.returncode == expected, (
            f"{page}: `{step}` exited {result.returncode}, the page says {expected}\n{output}"
        )
        for text in SHOWS.get(key, []):
            assert text in output, f"{page}: `{step}` does not show {text!r}\n{output}"
        ran.append(key)
    return ran


# Both pages in one xdist worker, so that the wheel is built once.
@pytest.mark.slow
@pytest.mark.xdist_group("docs_commands")
def test_getting_started(tmp_path: Path, reader_env: Dict[str, str]) -> None:
    """The getting-started page installs the package, and its example shows the shim at work."""
    ran = play("getting-started.md", tmp_path, reader_env)
    assert ".venv/bin/pip install os-system-shim" in ran
    assert_installed_from_checkout(tmp_path / ".venv", reader_env)


@pytest.mark.slow
@pytest.mark.xdist_group("docs_commands")
@needs_shell_free  # the report shown on the page counts the sites that could drop the shell
def test_migration(tmp_path: Path, reader_env: Dict[str, str]) -> None:
    """The migration page runs end to end on the example program: collect, look, fix, keep it fixed."""
    shutil.copytree(ROOT / "examples", tmp_path / "examples", ignore=shutil.ignore_patterns("__pycache__"))
    ran = play("migration.md", tmp_path, reader_env)
    assert_installed_from_checkout(tmp_path / ".venv", reader_env)
    assert (tmp_path / "report.html").stat().st_size > 0
    migrated = (tmp_path / "migrated" / "legacy_app.py").read_text()
    assert "import subprocess" in migrated
    assert migrated.count("os.system(") == 1  # the one the page adds to show the baseline check
    assert not (tmp_path / "examples" / "legacy_workdir").exists()
    assert not (tmp_path / "migrated" / "legacy_workdir").exists()
    missing = [c for c in EXIT_STATUS if c not in ran]
    assert not missing, f"commands with a documented exit status that no page shows: {missing}"


def test_pages_have_commands() -> None:
    """The parser finds the commands and files of both pages (a broken fence would skip them silently)."""
    kinds = [kind for kind, _ in page_steps(DOCS / "getting-started.md")]
    assert kinds.count("file") == 1
    assert kinds.count("sh") >= 4
    steps = page_steps(DOCS / "migration.md")
    assert [kind for kind, _ in steps].count("file") == 1
    commands = [without_comment(c) for kind, c in steps if kind == "sh"]
    assert commands[:2] == ["python3 -m venv .venv", ".venv/bin/pip install os-system-shim"]
    # The walk-through the migration page promises, in this order.
    order = [
        ".venv/bin/shim scan examples/legacy_app.py",
        ".venv/bin/shim report audit.jsonl",
        ".venv/bin/shim fix --write migrated/",
        ".venv/bin/shim fix --unsafe-fixes --write migrated/",
        ".venv/bin/shim scan migrated --baseline shim-baseline.json",
        ".venv/bin/python -m pytest test_legacy_app.py --shim",
    ]
    assert [commands.index(command) for command in order] == sorted(
        commands.index(command) for command in order
    )
    assert set(SHOWS) <= {
        without_comment(c)
        for page in ("getting-started.md", "migration.md")
        for kind, c in page_steps(DOCS / page)
        if kind == "sh"
    }
