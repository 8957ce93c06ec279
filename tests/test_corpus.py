"""scan and fix on the corpus in the style of five real packages and a legacy script.

``tests/data/corpus`` reproduces the idioms of the packages that call
``os.system`` the most (see its README).  The numbers below are what the
tiers do to it; ``docs/cli/fix.md`` quotes them, so a change to the
rewrites that moves them is seen here first.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from typing import TYPE_CHECKING, Any, Dict, Tuple

import pytest
from shim._tools import cli as _cli

from conftest import ROOT, child_env

if TYPE_CHECKING:
    from pathlib import Path

CORPUS = ROOT / "tests" / "data" / "corpus"

#: package -> (calls, safe tier rewrites, unsafe tier: safe rewrites, unsafe rewrites,
#: shell-free after --unsafe-fixes, left alone)
TIERS: Dict[str, Tuple[int, int, int, int, int, int]] = {
    "cadtool": (15, 15, 6, 9, 9, 0),
    "chemkit": (17, 17, 4, 13, 13, 0),
    "backup": (16, 15, 2, 13, 13, 1),
    "pipeline": (14, 13, 6, 7, 7, 1),
    "phylo": (17, 16, 7, 9, 9, 1),
    "legacy_script.py": (15, 15, 5, 10, 9, 0),
}


def fix_json(target: Path, *options: str) -> Dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "shim", "fix", "--format", "json", *options, str(target)],
        env=child_env(), capture_output=True, text=True, check=False, timeout=120,
    )
    assert result.returncode in (0, 1), result.stderr
    document: Dict[str, Any] = json.loads(result.stdout)
    return document


@pytest.mark.parametrize("package", sorted(TIERS))
def test_tiers_on_each_package(package: str) -> None:
    """How many calls each tier rewrites, and how many run without a shell after --unsafe-fixes."""
    calls, safe_only, safe, unsafe, shell_free, left = TIERS[package]
    default = fix_json(CORPUS / package)["summary"]
    assert (default["calls"], default["rewritten"], default["safe"], default["unsafe"]) == (
        calls, safe_only, safe_only, 0,
    )
    assert default["shell_free"] == 0
    everything = fix_json(CORPUS / package, "--unsafe-fixes")["summary"]
    assert (everything["safe"], everything["unsafe"], everything["shell_free"], everything["left"]) == (
        safe, unsafe, shell_free, left,
    )
    assert everything["rewritten"] == safe_only


def test_corpus_totals(capsys: pytest.CaptureFixture[str]) -> None:
    """The whole corpus: 94 calls; the safe tier rewrites 91, --unsafe-fixes turns 60 into argument lists."""
    default = fix_json(CORPUS)["summary"]
    everything = fix_json(CORPUS, "--unsafe-fixes")["summary"]
    assert default["calls"] == sum(t[0] for t in TIERS.values()) == 94
    assert default["rewritten"] == 91
    assert default["unsafe_available"] == 60
    assert (everything["safe"], everything["unsafe"], everything["shell_free"]) == (30, 61, 60)
    assert _cli.main(["scan", str(CORPUS)]) == 1
    captured = capsys.readouterr()
    assert "skipped" in captured.err and "legacy_cli.py:8: cannot parse" in captured.err
    assert captured.out.splitlines()[-1].endswith(
        "; 1 suppressed by '# shim: ignore'; 1 file could not be read or parsed "
        "(their calls are not counted)"
    )


@pytest.mark.parametrize("unsafe", [False, True], ids=["safe", "unsafe"])
def test_fixed_corpus_compiles_and_only_the_left_calls_remain(tmp_path: Path, unsafe: bool) -> None:
    """Every rewritten file compiles; a scan of the result finds exactly the calls left alone; fix again is a no-op."""
    copy = tmp_path / "corpus"
    shutil.copytree(CORPUS, copy)
    options = ["--unsafe-fixes"] if unsafe else []
    result = subprocess.run(
        [sys.executable, "-m", "shim", "fix", "--write", *options, str(copy)],
        env=child_env(), capture_output=True, text=True, check=False, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    for path in copy.rglob("*.py"):
        if path.name != "legacy_cli.py":
            compile(path.read_bytes(), str(path), "exec", dont_inherit=True)
    scan = json.loads(subprocess.run(
        [sys.executable, "-m", "shim", "scan", "--format", "json", str(copy)],
        env=child_env(), capture_output=True, text=True, check=False,
    ).stdout)
    assert len(scan["calls"]) == 2  # the kept file objects of os.popen
    assert len(scan["suppressed"]) == 1
    again = fix_json(copy, *options)["summary"]
    assert again["rewritten"] == 0
    assert again["files_changed"] == 0


@pytest.mark.parametrize("unsafe", [False, True], ids=["safe", "unsafe"])
def test_the_legacy_script_prints_the_same_after_the_fix(tmp_path: Path, unsafe: bool) -> None:
    """The legacy script, rewritten in either tier, prints the same bytes and exits the same."""
    fixed = tmp_path / "fixed.py"
    shutil.copy2(CORPUS / "legacy_script.py", fixed)
    options = ["--unsafe-fixes"] if unsafe else []
    subprocess.run(
        [sys.executable, "-m", "shim", "fix", "--write", *options, str(fixed)],
        env=child_env(), capture_output=True, check=True,
    )
    assert "os.system(" not in fixed.read_text()

    def run(script: Path, work: Path) -> subprocess.CompletedProcess[bytes]:
        work.mkdir()
        return subprocess.run(
            [sys.executable, str(script), str(work)],
            env=child_env(), capture_output=True, check=False, timeout=60,
        )

    before = run(CORPUS / "legacy_script.py", tmp_path / "before")
    after = run(fixed, tmp_path / "after")
    assert before.returncode == 4
    assert b"[report] files: a.txt, b.txt, c.txt" in before.stdout
    assert (after.stdout, after.stderr, after.returncode) == (
        before.stdout, before.stderr, before.returncode,
    )


def test_safe_first_then_unsafe_reaches_the_same_lists(tmp_path: Path) -> None:
    """The safe tier written (and committed) first, --unsafe-fixes later: the same 60 argument lists."""
    copy = tmp_path / "corpus"
    shutil.copytree(CORPUS, copy)
    subprocess.run(
        [sys.executable, "-m", "shim", "fix", "--write", str(copy)],
        env=child_env(), capture_output=True, check=True,
    )
    later = fix_json(copy, "--unsafe-fixes")["summary"]
    assert (later["unsafe"], later["shell_free"]) == (60, 60)
    assert fix_json(copy)["summary"]["unsafe_available"] == 60
