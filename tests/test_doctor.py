"""``shim doctor``, and the checks ``shim run`` makes on the Python program it starts.

The interpreters asked are real virtual environments: one with the package
installed by pip from a wheel of this checkout, one without it.  Each
question goes through the command line in a fresh process, as a user asks
it.
"""

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional

import pytest
import shim
from shim._tools import doctor

from conftest import ROOT, child_env, shared_dir

pytestmark = [
    pytest.mark.skipif(os.name != "posix", reason="the venvs' layout and the #! lines are POSIX"),
]


def _setuptools_builds_wheels() -> bool:
    """Whether setuptools can build a wheel by itself (70.1+), or has the wheel package beside it.

    Asked of the metadata: importing setuptools here would replace the
    distutils other tests imported, with a warning (an error here).
    """
    from importlib import metadata

    try:
        major, minor = (int(part) for part in metadata.version("setuptools").split(".")[:2])
    except metadata.PackageNotFoundError:
        return False
    return (major, minor) >= (70, 1) or importlib.util.find_spec("wheel") is not None


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel of this checkout: the one tox installed (SHIM_TEST_WHEEL_DIR), SHIM_TEST_WHEEL's, or one built here."""
    given = os.environ.get("SHIM_TEST_WHEEL")
    if given:
        return Path(given)
    built = sorted(Path(os.environ.get("SHIM_TEST_WHEEL_DIR", "/nonexistent")).glob("os_system_shim-*.whl"))
    if len(built) == 1:
        return built[0]
    if sys.version_info < (3, 8):
        pytest.skip("setup.py needs setuptools 64+ (Python 3.8+) to build; .ci/legacy-pythons passes SHIM_TEST_WHEEL")
    with shared_dir(tmp_path_factory, "doctor-wheel") as where:
        if not (where / "dist").is_dir():
            source = where / "source"
            shutil.copytree(
                ROOT,
                source,
                ignore=shutil.ignore_patterns(".*", "build", "dist", "site", "*.egg-info", "__pycache__"),
            )
            pip = [sys.executable, "-m", "pip", "wheel"]
            if _setuptools_builds_wheels():
                pip.append("--no-build-isolation")
            subprocess.run(
                [*pip, "--quiet", "--no-deps", "--disable-pip-version-check", "--wheel-dir", str(where / "dist.tmp"), str(source)],
                check=True,
            )
            (where / "dist.tmp").rename(where / "dist")
        (found,) = (where / "dist").glob("os_system_shim-*.whl")
        return found


def _pip_installs_elsewhere() -> bool:
    """Whether this environment's pip can install into another interpreter (``--python``, pip 22.3+)."""
    try:
        from pip import __version__ as version
    except ImportError:
        return False
    return tuple(int(part) for part in version.split(".")[:2]) >= (22, 3)


def _venv(where: Path, with_pip: bool) -> Path:
    argv = [sys.executable, "-m", "venv", str(where)]
    if not with_pip:
        argv.append("--without-pip")
    subprocess.run(argv, check=True, env=user_env())
    return where / "bin" / "python"


@pytest.fixture(scope="session")
def with_package(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Path:
    """The python of a venv where pip installed the package, and wrapt as its metadata says.

    Made once for the run, whichever worker comes first.  This
    environment's pip installs into it where it can (seconds), else the
    venv's own pip does (ensurepip costs tens of seconds).
    """
    with shared_dir(tmp_path_factory, "doctor-with-package") as shared:
        python = shared / "venv" / "bin" / "python"
        if (shared / "done").exists():
            return python
        elsewhere = _pip_installs_elsewhere()
        _venv(shared / "venv", with_pip=not elsewhere)
        pip = [sys.executable, "-m", "pip", "--python", str(python)] if elsewhere else [str(python), "-m", "pip"]
        subprocess.run(
            [*pip, "install", "--quiet", "--disable-pip-version-check", str(wheel)],
            check=True,
            env=user_env(),
            # Not from the checkout: `-m pip` puts the current directory on
            # sys.path, where a build's os_system_shim.egg-info would make
            # pip think the package is installed already.
            cwd=str(shared),
        )
        (shared / "done").touch()
        return python


@pytest.fixture(scope="session")
def without_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The python of a venv without the package."""
    with shared_dir(tmp_path_factory, "doctor-without-package") as shared:
        python = shared / "venv" / "bin" / "python"
        if not (shared / "done").exists():
            _venv(shared / "venv", with_pip=False)
            (shared / "done").touch()
        return python


def shim_cli(*argv: str, env: Optional[Dict[str, str]] = None, cwd: Optional[Path] = None) -> "subprocess.CompletedProcess[str]":
    """``python -m shim ARGV`` in a fresh process, this checkout's shim."""
    return subprocess.run(
        [sys.executable, "-m", "shim", *argv],
        env=env if env is not None else user_env(),
        cwd=str(cwd or ROOT),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        universal_newlines=True,
        check=False,
        timeout=120,
    )


def lines_of(output: str) -> Dict[str, str]:
    """The doctor's lines by label (the first of each label)."""
    found: Dict[str, str] = {}
    for line in output.splitlines():
        if line.startswith("verdict: "):
            found["verdict"] = line[len("verdict: "):]
            continue
        label, _, text = line.partition("  ")
        found.setdefault(label.strip(), text.strip())
    return found


def one_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


# -- shim doctor --------------------------------------------------------------------------


def test_active_in_a_venv_with_the_package(with_package: Path) -> None:
    """With the package installed and SHIM_ENABLE=1: the version, the hook, start-up armed; exit 0."""
    result = shim_cli("doctor", "--python", str(with_package), env=user_env(SHIM_ENABLE="1", SHIM_AUDIT="calls.jsonl"))
    assert result.returncode == 0, result.stdout + result.stderr
    found = lines_of(result.stdout)
    site_packages = next((with_package.parent.parent / "lib").glob("python*/site-packages"))
    assert found["package"] == f"os-system-shim {shim.__version__}, {site_packages / 'shim'}"
    hook = "shim.start" if sys.version_info >= (3, 15) else "shim.pth"
    assert found["start-up"] == f"{site_packages / hook}: site processes it"
    assert found["SHIM_ENABLE"] == "'1': switches the shim on at start-up"
    assert found["SHIM_AUDIT"] == "'calls.jsonl': valid"
    assert found["start-up ran"] == "the shim is armed: the first os.system call activates it"
    assert found["/bin/sh"] == os.path.realpath("/bin/sh")
    assert found["verdict"] == f"active: os.system goes through the shim in {with_package}"


def test_the_venvs_own_shim_doctor_asks_its_own_python(with_package: Path) -> None:
    """The console script installed in the venv asks the venv's interpreter by default."""
    result = subprocess.run(
        [str(with_package.parent / "shim"), "doctor"],
        env=user_env(SHIM_ENABLE="1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        universal_newlines=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert lines_of(result.stdout)["verdict"].startswith(f"active: os.system goes through the shim in {with_package.parent}")


def test_not_active_without_shim_enable(with_package: Path) -> None:
    """The package is there but SHIM_ENABLE is not set: exit 1, and the fix says what to set."""
    result = shim_cli("doctor", "--python", str(with_package))
    assert result.returncode == 1
    found = lines_of(result.stdout)
    assert found["SHIM_ENABLE"] == "not set: start-up leaves os.system alone"
    assert found["verdict"] == (
        f"not active in {with_package}: SHIM_ENABLE is not set; "
        "fix: set SHIM_ENABLE=1 in the program's environment, or start it with 'shim run'"
    )


def test_not_active_in_a_venv_without_the_package(without_package: Path) -> None:
    """A venv without the package: not importable, and the fix installs it into that interpreter."""
    result = shim_cli("doctor", "--python", str(without_package), env=user_env(SHIM_ENABLE="1", SHIM_SHELL="auto"))
    assert result.returncode == 1
    found = lines_of(result.stdout)
    assert found["package"] == "not importable: os-system-shim is not installed there"
    assert found["SHIM_SHELL"] == "'auto': not checked (the package is not importable there)"
    assert found["verdict"] == (
        f"not active in {without_package}: os-system-shim is not installed for this interpreter; "
        f"fix: {without_package} -m pip install os-system-shim"
    )


def test_a_checkout_on_pythonpath_is_not_a_site_directory(without_package: Path) -> None:
    """shim importable through PYTHONPATH: its shim.pth is not read by site, so start-up never runs."""
    env = user_env(SHIM_ENABLE="1", PYTHONPATH=str(ROOT))
    result = shim_cli("doctor", "--python", str(without_package), env=env)
    assert result.returncode == 1
    found = lines_of(result.stdout)
    assert found["package"].endswith(str(ROOT / "shim"))
    assert found["start-up"] == f"{ROOT / ('shim.start' if sys.version_info >= (3, 15) else 'shim.pth')}: not processed by site"
    assert f"{ROOT} is not a site directory (on PYTHONPATH?)" in found["verdict"]


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("SHIM_CAPTURE", "sometimes", "SHIM_CAPTURE='sometimes' is not valid; accepted values: off|tee"),
        ("SHIM_CAPTURE_LIMIT", "-1", "SHIM_CAPTURE_LIMIT='-1' is not valid; accepted values: a whole number of bytes, 0 or more"),
        ("SHIM_REDACT", "(unclosed", "SHIM_REDACT / redact: '(unclosed' is not a valid regular expression"),
    ],
)
def test_bad_settings_are_named(with_package: Path, variable: str, value: str, message: str) -> None:
    """A value start-up or the first call would refuse: exit 1, the variable's line and the verdict name it."""
    result = shim_cli("doctor", "--python", str(with_package), env=user_env(SHIM_ENABLE="1", **{variable: value}))
    assert result.returncode == 1, result.stdout
    found = lines_of(result.stdout)
    assert found[variable].startswith(f"{value!r}: not valid: {message}")
    assert found["verdict"].startswith(f"not active in {with_package}: {message}")
    assert found["verdict"].endswith(f"; fix: correct or unset {variable}")


def test_start_up_is_observed_not_imitated(with_package: Path) -> None:
    """What start-up said in the probe's own process is reported with its verdict."""
    result = shim_cli("doctor", "--python", str(with_package), env=user_env(SHIM_ENABLE="1", SHIM_SHELL="sometimes"))
    assert result.returncode == 1
    ran = lines_of(result.stdout)["start-up ran"]
    assert ran.startswith("yes, and left the shim off: shim: SHIM_SHELL='sometimes' is not valid")


def test_an_unknown_variable_is_listed_but_harmless(with_package: Path) -> None:
    """A misspelt SHIM_* name is shown as ignored; the shim is still active."""
    result = shim_cli("doctor", "--python", str(with_package), env=user_env(SHIM_ENABLE="1", SHIM_AUDTI="x.jsonl"))
    assert result.returncode == 0, result.stdout
    assert lines_of(result.stdout)["SHIM_AUDTI"] == "'x.jsonl': not a setting of this version: ignored"


def test_an_interpreter_that_cannot_be_asked() -> None:
    """No such interpreter, or one that does not answer: one line, exit 2."""
    missing = shim_cli("doctor", "--python", "/nonexistent/python3")
    assert missing.returncode == 2
    assert one_line(missing.stderr) == "shim: doctor: --python /nonexistent/python3: no such interpreter"
    silent = shim_cli("doctor", "--python", "/bin/true")
    assert silent.returncode == 2
    assert one_line(silent.stderr).startswith("shim: /bin/true did not answer the probe")


# -- shim run --------------------------------------------------------------------------


@pytest.fixture
def app(tmp_path: Path) -> Path:
    """A program that calls os.system and leaves a file to show it ran."""
    script = tmp_path / "app.py"
    script.write_text("import os\nos.system('echo ran > ran.txt')\n")
    return script


def test_run_refuses_a_python_without_the_package(without_package: Path, app: Path, tmp_path: Path) -> None:
    """The silent no-op: `shim run --audit x -- python app.py` with a python lacking the package."""
    audit = tmp_path / "calls.jsonl"
    result = shim_cli("run", "--audit", str(audit), "--", str(without_package), str(app), cwd=tmp_path, env=user_env())
    assert result.returncode == 2
    assert one_line(result.stderr) == (
        f"shim: run: the shim would not be active in {without_package}: os-system-shim is not installed for "
        f"this interpreter; fix: {without_package} -m pip install os-system-shim "
        f"(details: shim doctor --python {without_package}; --no-check starts it anyway)"
    )
    assert not (tmp_path / "ran.txt").exists()
    assert not audit.exists()


def test_run_checks_a_script_by_its_shebang(without_package: Path, app: Path, tmp_path: Path) -> None:
    """A script whose #! line names a Python is checked as that Python, directly or through env."""
    direct = tmp_path / "direct"
    direct.write_text(f"#!{without_package}\n" + app.read_text())
    through_env = tmp_path / "through-env"
    through_env.write_text("#!/usr/bin/env python3\n" + app.read_text())
    for script in (direct, through_env):
        script.chmod(0o755)
    env = user_env()
    env["PATH"] = f"{without_package.parent}{os.pathsep}{env['PATH']}"
    for script in (direct, through_env):
        result = shim_cli("run", "--", str(script), cwd=tmp_path, env=env)
        assert result.returncode == 2, result.stderr
        assert "os-system-shim is not installed for this interpreter" in one_line(result.stderr)
    assert not (tmp_path / "ran.txt").exists()


def test_run_refuses_site_disabled(with_package: Path, app: Path, tmp_path: Path) -> None:
    """`python -S` would skip the start-up hook: refused, naming -S."""
    result = shim_cli("run", "--", str(with_package), "-S", str(app), cwd=tmp_path, env=user_env())
    assert result.returncode == 2
    assert "site is disabled (-S)" in one_line(result.stderr)
    assert not (tmp_path / "ran.txt").exists()


def test_run_starts_a_python_with_the_package(with_package: Path, app: Path, tmp_path: Path) -> None:
    """Where the shim would be active, the program runs shimmed and writes its audit records."""
    audit = tmp_path / "calls.jsonl"
    result = shim_cli("run", "--audit", str(audit), "--", str(with_package), str(app), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "ran.txt").read_text() == "ran\n"
    assert audit.read_text().count("\n") == 1


def test_run_no_check_starts_it_anyway(without_package: Path, app: Path, tmp_path: Path) -> None:
    """--no-check: the program starts, unshimmed, as before the check existed."""
    result = shim_cli("run", "--no-check", "--", str(without_package), str(app), cwd=tmp_path, env=user_env())
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "ran.txt").exists()


@pytest.mark.parametrize(
    ("variable", "value"),
    [("SHIM_REDACT", "(unclosed"), ("SHIM_REDACT", "ok;[z-a]"), ("SHIM_SHELL", "sometimes"), ("SHIM_LOG", "LOUD")],
)
def test_run_validates_inherited_settings(variable: str, value: str, tmp_path: Path) -> None:
    """An inherited bad setting stops shim run (exit 2, one line naming it), for any program."""
    env = user_env()
    env[variable] = value
    result = shim_cli("run", "--audit", str(tmp_path / "calls.jsonl"), "--", "touch", str(tmp_path / "ran"), env=env)
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert line.startswith(f"shim: run: {variable}") and line.endswith("(from the environment)")
    assert not (tmp_path / "ran").exists()


def test_run_starts_other_programs_unchecked(tmp_path: Path) -> None:
    """A program that is not Python is started as it is: which Pythons it starts is its own business."""
    result = shim_cli("run", "--", "sh", "-c", "echo $SHIM_ENABLE > enabled", cwd=tmp_path, env=user_env())
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "enabled").read_text() == "1\n"


def user_env(**extra: str) -> Dict[str, str]:
    """The environment of a user's shell: no SHIM_* settings, no PYTHONPATH.

    The test run's interpreter has the package installed, so ``python -m
    shim`` needs no PYTHONPATH; one would reach the interpreters asked.
    """
    env = child_env()
    env.pop("PYTHONPATH", None)
    env.update(extra)
    return env


# -- recognising a Python program ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "options"),
    [
        (["python3", "app.py"], []),
        (["python3", "-S", "app.py"], ["-S"]),
        (["python3", "-W", "ignore", "-Is", "-c", "pass"], ["-Is"]),
        (["python3", "-Xdev", "-E", "-m", "pip"], ["-E"]),
        (["python3", "app.py", "-S"], []),
    ],
)
def test_python_of_an_interpreter(argv: List[str], options: List[str]) -> None:
    """An interpreter named on the command line, with the start-up options before its script."""
    found = doctor.python_of(argv, os.environ)
    assert found is not None
    assert os.path.basename(found[0]).startswith("python3")
    assert found[1] == options


@pytest.mark.parametrize(
    ("shebang", "options"),
    [("#!{python}\n", []), ("#!{python} -s\n", ["-s"]), ("#!/usr/bin/env python3\n", []), ("#!/usr/bin/env -S python3 -I\n", ["-I"])],
)
def test_python_of_a_script(tmp_path: Path, shebang: str, options: List[str]) -> None:
    """A script whose #! line names a Python, directly or through env (-S splitting included)."""
    script = tmp_path / "tool"
    script.write_text(shebang.format(python=sys.executable) + "print(1)\n")
    script.chmod(0o755)
    found = doctor.python_of([str(script)], os.environ)
    assert found is not None
    assert os.path.basename(found[0]).startswith("python")
    assert found[1] == options


@pytest.mark.parametrize("program", [["sh", "-c", "true"], ["true"], ["/nonexistent/python3"]])
def test_not_python(program: List[str], tmp_path: Path) -> None:
    """Programs that are not Python, and programs not found, are not checked."""
    assert doctor.python_of(program, os.environ) is None
    script = tmp_path / "script.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o755)
    assert doctor.python_of([str(script)], os.environ) is None
