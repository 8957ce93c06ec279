"""The pytest plugin (``pytest11`` entry point ``shim``): off unless asked, then audit, summary, baseline.

Each test runs a small test suite with ``pytester`` in a child process, the
way a project would run its own: the plugin comes from the installed
distribution's entry point, never from a ``-p`` option.
"""

import json
import sys
import textwrap
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

SUITE = """\
import os


def deploy():
    os.system("mkdir -p build")
    return os.system("exit 3")


def test_deploy():
    assert deploy() == 3 << 8


def test_listing():
    assert os.system("ls / > /dev/null") == 0
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(test_app=SUITE)
    pytester.makeini("[pytest]\naddopts = -p no:randomly\n")
    return pytester


def test_the_plugin_is_registered_and_off_by_default(suite: pytest.Pytester) -> None:
    """Without an option nothing is installed, audited or printed; the options are listed."""
    suite.makeconftest(
        "import os, shim\n"
        "def pytest_sessionfinish(session):\n"
        "    print('INSTALLED', shim.is_installed(), os.system.__module__)\n"
    )
    result = suite.runpytest_subprocess("-s")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*INSTALLED False posix*"])
    result.stdout.no_fnmatch_line("*shim: os.system calls*")
    assert not list(suite.path.rglob("audit.jsonl"))
    helped = suite.runpytest_subprocess("--help")
    helped.stdout.fnmatch_lines(["*--shim=*SETTINGS*", "*--shim-audit=FILE*", "*--shim-baseline=FILE*"])


def test_a_session_started_with_the_shim_imported_keeps_warnings_as_errors(
    suite: pytest.Pytester,
) -> None:
    """``SHIM_ENABLE=1 pytest`` imports ``shim`` before pytest loads the plugin: no warning then.

    pytest rewrites the asserts of a plugin's distribution and warns about a
    package already imported (as the start-up hook, or ``shim.start`` on
    Python 3.15, imports it); a project with ``filterwarnings = error``
    would then fail to start its tests.
    """
    suite.makeini("[pytest]\naddopts = -p no:randomly\nfilterwarnings = error\n")
    result = suite.run(
        sys.executable, "-c", "import sys, shim, pytest; sys.exit(pytest.main(['-p', 'no:cacheprovider']))"
    )
    assert "PytestAssertRewriteWarning" not in str(result.stdout) + str(result.stderr)
    result.assert_outcomes(passed=2)


def test_shim_installs_audits_and_summarises(suite: pytest.Pytester) -> None:
    """--shim: the calls go through the shim into the audit file; the session ends with the summary."""
    audit = suite.path / "calls.jsonl"
    result = suite.runpytest_subprocess(f"--shim-audit={audit}", "--shim=shell=auto")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines([
        "*shim: os.system calls*",
        # Whether mkdir may drop the shell also depends on the process (its signal
        # mask under xdist, for one): the summary says what the runtime decided.
        "3 call sites, 3 calls (1 failed); could drop the shell: ? of 3 sites, ? of 3 calls",
        "*test_app.py:6: 1 call(s), 1 failed; needs a shell",
        f"audit: {audit} (shim report {audit} shows it all)",
    ])
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    assert sorted(r["command"] for r in records) == ["exit 3", "ls / > /dev/null", "mkdir -p build"]
    assert {r["mode"] for r in records} == {"auto"}
    redirect = next(r for r in records if r["command"] == "ls / > /dev/null")
    assert redirect["shell_reason"] == "redirection"  # analysed: shell=auto took effect


def test_default_audit_lands_in_the_cache_and_is_fresh_each_session(suite: pytest.Pytester) -> None:
    """Plain --shim writes .pytest_cache/d/shim/audit.jsonl, started anew by every session."""
    for _ in range(2):
        result = suite.runpytest_subprocess("--shim")
        result.assert_outcomes(passed=2)
    audit = suite.path / ".pytest_cache" / "d" / "shim" / "audit.jsonl"
    assert len(audit.read_text().splitlines()) == 3


def test_a_path_after_shim_is_not_taken_for_settings(suite: pytest.Pytester) -> None:
    """`pytest --shim tests/` would swallow the path: it is refused with the fix, not run silently."""
    result = suite.runpytest_subprocess("--shim", "test_app.py")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--shim: 'test_app.py' is not a setting (key=value)*"])


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("--shim=colour=blue", "*unknown setting 'colour'*"),
        ("--shim=shell=sometimes", "*shell*sometimes*"),
        ("--shim=capture_limit=lots", "*capture_limit must be a number*"),
    ],
)
def test_bad_settings_are_usage_errors(suite: pytest.Pytester, option: str, message: str) -> None:
    """A bad setting stops the session before any test, naming it."""
    result = suite.runpytest_subprocess(option)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_the_baseline_fails_the_session_on_a_new_call_site(suite: pytest.Pytester) -> None:
    """--shim-baseline: the call sites the tests ran must be in the shim scan baseline."""
    from shim._tools import cli as _cli

    baseline = suite.path / "shim-baseline.json"
    assert _cli.main(["scan", str(suite.path / "test_app.py"), "--baseline", str(baseline),
                      "--write-baseline"]) == 0
    known = suite.runpytest_subprocess(f"--shim-baseline={baseline}")
    known.assert_outcomes(passed=2)
    assert known.ret == pytest.ExitCode.OK
    known.stdout.fnmatch_lines([f"every call site is in the baseline {baseline}"])

    suite.makepyfile(test_more=(
        "import os\n\n\ndef test_new():\n    os.system('echo new > /dev/null')\n"
        "\n\ndef test_ignored():\n    os.system('true')  # shim: ignore\n"
    ))
    new = suite.runpytest_subprocess(f"--shim-baseline={baseline}")
    new.assert_outcomes(passed=4)
    assert new.ret == pytest.ExitCode.TESTS_FAILED
    new.stdout.fnmatch_lines([
        f"1 call site(s) not in the baseline {baseline}:",
        "*test_more.py:5: subprocess.run(*echo new > /dev/null*",
    ])


def test_the_baseline_is_checked_under_xdist(suite: pytest.Pytester) -> None:
    """With pytest-xdist the workers write one audit file, the controller checks it."""
    pytest.importorskip("xdist")
    suite.makepyfile(test_more="import os\n\n\ndef test_new():\n    os.system('true')\n")
    baseline = suite.path / "shim-baseline.json"
    baseline.write_text(json.dumps({"version": 1, "calls": []}))
    result = suite.runpytest_subprocess("-n", "2", f"--shim-baseline={baseline}")
    result.assert_outcomes(passed=3)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["4 call sites, 4 calls (1 failed)*", "4 call site(s) not in the baseline*"])


def test_shim_calls_records_the_calls_of_a_test(pytester: pytest.Pytester) -> None:
    """The fixture gives each test its own calls, with command, status and site, without --shim."""
    pytester.makepyfile(test_calls=textwrap.dedent(
        """\
        import os


        def test_records(shim_calls):
            os.system("true")
            os.system("exit 2")
            assert shim_calls.commands == ["true", "exit 2"]
            assert shim_calls.statuses == [0, 2 << 8]
            assert shim_calls[1]["site"]["line"] == 6
            assert shim_calls[1]["site"]["file"].endswith("test_calls.py")


        def test_its_own(shim_calls):
            assert len(shim_calls) == 0
            os.system("true")
            assert len(shim_calls) == 1


        def test_after_it_shim_is_gone():
            import shim
            assert not shim.is_installed()
        """
    ))
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=3)


def test_with_pytest_subprocess_the_shimmed_call_is_faked(pytester: pytest.Pytester) -> None:
    """pytest-subprocess fakes what Popen runs; through the shim that is os.system's command too."""
    pytest.importorskip("pytest_subprocess")
    pytester.makepyfile(test_fake=textwrap.dedent(
        """\
        import os


        def test_fake(fp, shim_calls):
            fp.register([b"sh", fp.any()], stdout=b"faked")
            os.system("deploy --to production")
            (call,) = fp.calls
            assert call[-1] == b"deploy --to production"
            assert shim_calls.commands == ["deploy --to production"]
            assert shim_calls[0]["site"]["line"] == 6
        """
    ))
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=1)


def test_with_pytest_subprocess_the_fake_status_is_returned(pytester: pytest.Pytester) -> None:
    """The status os.system returns for a faked command is the fake's return code, as a wait status."""
    pytest.importorskip("pytest_subprocess")
    pytester.makepyfile(test_fake=textwrap.dedent(
        """\
        import os


        def test_fake(fp, shim_calls):
            fp.register([b"sh", fp.any()], returncode=3)
            assert os.system("deploy --to production") == 3 << 8
        """
    ))
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=1)


def test_loading_the_plugin_costs_no_shim_import(pytester: pytest.Pytester, tmp_path: Path) -> None:
    """A session that does not ask for the shim imports none of its runtime or tools."""
    pytester.makeconftest(
        "import sys\n"
        "def pytest_sessionfinish(session):\n"
        "    loaded = sorted(m for m in sys.modules if m.startswith('shim.'))\n"
        "    print('LOADED', loaded)\n"
    )
    pytester.makepyfile(test_nothing="def test_nothing():\n    pass\n")
    result = pytester.runpytest_subprocess("-s")
    result.assert_outcomes(passed=1)
    line = next(line for line in result.stdout.lines if "LOADED" in line)
    assert "shim._tools" not in line
    assert "shim._runtime.runner" not in line
    del tmp_path
