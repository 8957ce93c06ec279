"""The pytest plugin on every supported Python, 3.6 and 3.7 included.

pytest loads the plugin from the installed distribution's entry point in
every session of every project, so it must import, and ``--shim`` must
work, wherever the runtime does.  Its summary and ``--shim-baseline`` use
the migration tools' engine (Python 3.8+): before 3.8 the summary says so
in one line and the baseline option is a usage error.
"""

import json
import sys

import pytest

pytest_plugins = ["pytester"]

TOOLS = sys.version_info >= (3, 8)

SUITE = """\
import os


def test_calls():
    assert os.system("exit 3") == 3 << 8
"""


def test_shim_audits_and_ends_with_a_summary_or_says_why_not(pytester: pytest.Pytester) -> None:
    """--shim-audit: the call is recorded; the summary, or the one line saying what it needs."""
    pytester.makepyfile(test_app=SUITE)
    audit = pytester.path / "calls.jsonl"
    result = pytester.runpytest_subprocess("-p", "no:randomly", f"--shim-audit={audit}")
    result.assert_outcomes(passed=1)
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    assert [(r["command"], r["status"]) for r in records] == [("exit 3", 3 << 8)]
    if TOOLS:
        result.stdout.fnmatch_lines(["1 call sites, 1 calls (1 failed)*"])
    else:
        result.stdout.fnmatch_lines(["the summary needs Python 3.8 or later*" + audit.name + "*"])


def test_the_baseline_needs_the_tools(pytester: pytest.Pytester) -> None:
    """--shim-baseline compares with the baseline where the tools run, and is refused before 3.8."""
    pytester.makepyfile(test_app=SUITE)
    baseline = pytester.path / "baseline.json"
    baseline.write_text(json.dumps({"version": 1, "calls": []}))
    result = pytester.runpytest_subprocess("-p", "no:randomly", f"--shim-baseline={baseline}")
    if TOOLS:
        assert result.ret == pytest.ExitCode.TESTS_FAILED
        result.stdout.fnmatch_lines(["1 call site(s) not in the baseline*"])
    else:
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines(["*--shim-baseline: comparing with a baseline needs Python 3.8*"])
