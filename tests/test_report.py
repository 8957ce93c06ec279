"""``shim report``: call sites from audit files, checked against the records themselves.

Every expected number is computed in the test from the very records it
writes (``expected_sites``), not written down; the shell question for
records made in ``shell="always"`` mode is answered by the real shell
analysis.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shim._common import status as _status
from shim._common import syntax as _shell
from shim._tools import cli as _cli
from shim._tools.report import model as _model
from shim._tools.report import reader as _reader
from shim._tools.report import topk as _topk

from assumptions import needs_non_root
from conftest import child_env

TS = "2026-11-26T23:59:{:02d}.000000+00:00"


def make_record(
    command: str = "true",
    *,
    site: Optional[Tuple[str, int, str]] = ("app.py", 10, "main"),
    status: int = 0,
    mode: str = "always",
    shell: Optional[bool] = None,
    reason: Optional[str] = None,
    duration_ms: float = 1.5,
    second: int = 0,
    cwd: Optional[str] = "/srv/app",
    suggestion: Optional[str] = None,
) -> Dict[str, Any]:
    """A schema v1 audit record, as the audit writer makes them.

    In ``auto`` mode ``shell`` and ``reason`` come from the real shell
    analysis unless given; in ``always`` mode the shell ran and nothing was
    analysed.
    """
    if shell is None:
        if mode == "always":
            shell = True
        else:
            analysis = _shell.analyze(command.encode())
            shell = analysis.argv is None
            if reason is None:
                reason = analysis.reason
    argv = None if shell else command.split()
    return {
        "v": 1,
        "ts": TS.format(second),
        "pid": 4242,
        "command": command,
        "argv": argv,
        "shell": shell,
        "shell_reason": reason,
        "mode": mode,
        "cwd": cwd,
        "site": None if site is None else {"file": site[0], "line": site[1], "function": site[2]},
        "status": status,
        "exit_code": _status.exit_code(status),
        "signal": _status.term_signal(status),
        "core_dumped": _status.core_dumped(status),
        "duration_ms": duration_ms,
        "capture": "off",
        "stdout_bytes": None,
        "stderr_bytes": None,
        "stdout_tail": None,
        "stderr_tail": None,
        "merged": False,
        "suggestion": suggestion if suggestion is not None else f"subprocess.run({command!r}, shell=True)",
    }


def write_records(path: Path, records: List[Dict[str, Any]], extra_lines: Tuple[str, ...] = ()) -> Path:
    lines = [json.dumps(r) for r in records] + list(extra_lines)
    path.write_text("".join(line + "\n" for line in lines))
    return path


def report_json(*args: str, status: int = 0) -> Dict[str, Any]:
    """Run ``shim report --format json`` in-process and return the document."""
    out_dir = Path(args[0]).parent
    out = out_dir / "report-out.json"
    assert _cli.main(["report", "--format", "json", "-o", str(out), *args]) == status
    document: Dict[str, Any] = json.loads(out.read_text())
    return document


def needs_shell(record: Dict[str, Any]) -> bool:
    """The test's own answer: did/would this call need ``/bin/sh``?"""
    if not record["shell"]:
        return False
    if record["shell_reason"] is not None:
        return True
    return _shell.analyze(record["command"].encode()).argv is None


def expected_sites(records: List[Dict[str, Any]]) -> Dict[Any, Dict[str, Any]]:
    sites: Dict[Any, Dict[str, Any]] = {}
    for r in records:
        key = (r["site"]["file"], r["site"]["line"]) if r["site"] else (None, None)
        s = sites.setdefault(
            key,
            {"calls": 0, "failures": 0, "statuses": Counter(), "commands": Counter(),
             "free": 0, "total_ms": 0.0, "max_ms": 0.0, "suggestions": Counter()},
        )
        s["calls"] += 1
        s["failures"] += r["status"] != 0
        s["statuses"][r["status"]] += 1
        s["commands"][r["command"]] += 1
        s["free"] += not needs_shell(r)
        s["total_ms"] += r["duration_ms"]
        s["max_ms"] = max(s["max_ms"], r["duration_ms"])
        s["suggestions"][r["suggestion"]] += 1
    return sites


MIXED_COMMANDS = [
    "true",
    "ls -l /tmp",
    "echo hello",
    "ls | wc -l",
    "rm -rf build/*",
    "cp 'a b' c",
    "exit 3",
    "make -C src all",
]


def mixed_records(count: int, seed: int = 5) -> List[Dict[str, Any]]:
    rng = random.Random(seed)
    records = []
    for _ in range(count):
        line = rng.choice([10, 20, 30, 40])
        command = rng.choice(MIXED_COMMANDS)
        status = rng.choice([0, 0, 0, 256, 512, 9, 15 | 0x80]) if line != 30 else 0
        records.append(
            make_record(
                command,
                site=(f"app{line // 20}.py", line, f"f{line}"),
                status=status,
                mode=rng.choice(["always", "auto"]),
                duration_ms=round(rng.uniform(0.1, 50), 3),
                second=rng.randrange(60),
            )
        )
    return records


def test_one_entry_per_site_busiest_first_with_the_records_numbers(tmp_path: Path) -> None:
    """Calls, failures, statuses, commands, shell-free calls and durations match the records."""
    records = mixed_records(400)
    audit = write_records(tmp_path / "audit.jsonl", records)
    document = report_json(str(audit))
    expected = expected_sites(records)

    sites = document["sites"]
    assert [s["calls"] for s in sites] == sorted((e["calls"] for e in expected.values()), reverse=True)
    assert len(sites) == len(expected)
    for site in sites:
        want = expected[site["file"], site["line"]]
        assert site["calls"] == want["calls"]
        assert site["failures"] == want["failures"]
        assert {s["status"]: s["count"] for s in site["statuses"]} == dict(want["statuses"])
        assert {c["command"]: c["count"] for c in site["commands"]} == dict(want["commands"])
        assert [c["count"] for c in site["commands"]] == sorted(want["commands"].values(), reverse=True)
        assert site["commands_complete"] is True
        assert site["other_command_calls"] == 0
        assert site["shell_free_calls"] == want["free"]
        assert sum(site["shell_reasons"].values()) == want["calls"] - want["free"]
        assert site["total_duration_ms"] == pytest.approx(want["total_ms"])
        assert site["mean_duration_ms"] == pytest.approx(want["total_ms"] / want["calls"])
        assert site["max_duration_ms"] == want["max_ms"]
        # The records' own suggestions are runtime commands turned into code: never shown.
        assert site["suggestion"] is None
        assert site["source_unavailable"].startswith("the file is outside the source roots")
        assert site["distinct_commands"] == len(want["commands"])

    summary = document["summary"]
    assert summary["calls"] == len(records)
    assert summary["sites"] == len(expected)
    assert summary["failures"] == sum(r["status"] != 0 for r in records)
    assert summary["shell_free_calls"] == sum(not needs_shell(r) for r in records)
    assert summary["shell_free_sites"] == sum(e["free"] == e["calls"] for e in expected.values())
    assert summary["skipped_lines"] == 0
    assert summary["first_ts"] == min(r["ts"] for r in records)
    assert summary["last_ts"] == max(r["ts"] for r in records)


def test_shell_reasons_and_statuses_are_explained(tmp_path: Path) -> None:
    """Reasons come from the record, or from the analysis for ``always`` records; statuses say what they mean."""
    records = [
        make_record("ls | wc -l", mode="auto", status=256),
        make_record("ls | wc -l", mode="always", status=256),
        make_record("echo hi", mode="always", status=9),
        make_record("ls -l", mode="always", status=0),
        make_record("ls -l", mode="auto", status=0),
    ]
    site = report_json(str(write_records(tmp_path / "a.jsonl", records)))["sites"][0]
    pipe = _shell.analyze(b"ls | wc -l").reason
    echo = _shell.analyze(b"echo hi").reason
    assert pipe is not None
    assert echo is not None
    assert site["shell_reasons"] == dict(Counter([pipe, pipe, echo]))
    assert site["shell_free_calls"] == 2
    meanings = {s["status"]: s["meaning"] for s in site["statuses"]}
    assert meanings == {256: "exit 1", 9: "killed by SIGKILL", 0: "exit 0"}


def test_the_shell_each_call_saw_is_reported(tmp_path: Path) -> None:
    """Records name /bin/sh ("sh"): the report counts them per site, next to the reasons."""
    records = [
        make_record("ls | wc -l", mode="auto", status=0),
        make_record("ls -l", mode="auto", status=0),
        make_record("ls -l", mode="auto", status=0),
    ]
    for record, sh in zip(records, ["bash 5.2.37", "bash 5.2.37", "busybox 1.37.0"]):
        record["sh"] = sh
    path = write_records(tmp_path / "a.jsonl", records)
    site = report_json(str(path))["sites"][0]
    assert site["shells"] == {"bash 5.2.37": 2, "busybox 1.37.0": 1}
    out = tmp_path / "report.txt"
    assert _cli.main(["report", "-o", str(out), str(path)]) == 0
    assert "(/bin/sh: bash 5.2.37, busybox 1.37.0)" in out.read_text()


def test_the_source_is_the_call_in_the_file_now(tmp_path: Path) -> None:
    """The call as its file reads now (a relative name from the record's cwd), or why not."""
    (tmp_path / "app.py").write_text(
        "import os\n\nos.system('make all')  # build\nif os.system(\n    'make test'\n):\n    pass\n"
    )
    records = [
        make_record("make all", site=(str(tmp_path / "app.py"), 3, "<module>")),
        make_record("make test", site=("app.py", 4, "<module>"), cwd=str(tmp_path)),
        make_record("make all", site=("app.py", 1, "<module>"), cwd=str(tmp_path)),
        make_record("make all", site=(str(tmp_path / "gone.py"), 3, "<module>")),
        make_record("make all", site=("<string>", 1, "<module>")),
    ]
    audit = str(write_records(tmp_path / "a.jsonl", records))
    sites = report_json(audit, "--source-root", str(tmp_path))["sites"]
    found = {(Path(s["file"]).name, s["line"]): (s["source"], s["source_unavailable"]) for s in sites}
    assert found == {
        ("app.py", 3): ("os.system('make all')  # build", None),
        ("app.py", 4): ("if os.system(\n    'make test'\n):", None),
        ("app.py", 1): (None, ("no os.system or os.popen call on line 1 of the file now "
                               "(it changed since the calls were recorded?)")),
        ("gone.py", 3): (None, "the file is gone"),
        ("<string>", 1): (None, "the call was made from <string>, which has no file"),
    }
    by_line = {s["line"]: s for s in sites if s["file"].endswith("app.py")}
    assert by_line[3]["suggestion"] == (
        "subprocess.run(['make', 'all'], check=False).returncode  "
        "# os.system's status: rc << 8 if rc >= 0 else -rc"
    )
    assert by_line[3]["suggestion_changes"] == ["program-not-started", "signal-report", "environment"]
    assert by_line[4]["source_lines"] == {"start": 4, "end": 6}


def test_records_without_a_site_are_grouped_together(tmp_path: Path) -> None:
    """Calls whose site is unknown (``site: null``) form one entry."""
    records = [make_record("true", site=None), make_record("false", site=None), make_record("x")]
    sites = report_json(str(write_records(tmp_path / "a.jsonl", records)))["sites"]
    assert [(s["file"], s["line"], s["calls"]) for s in sites] == [(None, None, 2), ("app.py", 10, 1)]


CORRUPT = {
    "not json": "not valid JSON",
    '{"v": 1, "command": "true"': "not valid JSON",
    "[1, 2, 3]": "not a JSON object",
    '"just a string"': "not a JSON object",
    "{}": 'missing field "v"',
    "[" * 100_000: "not valid JSON",
}


def test_corrupt_lines_are_counted_and_skipped(tmp_path: Path) -> None:
    """Lines that are not records are counted by reason; the good records still count."""
    good = [make_record("true"), make_record("false", status=256)]
    missing = make_record("true")
    del missing["status"]
    wrong_type = make_record("true")
    wrong_type["status"] = "0"
    bad_site = make_record("true")
    bad_site["site"] = {"file": "a.py"}
    old = make_record("true")
    old["v"] = 0
    extra = [
        *CORRUPT,
        json.dumps(missing),
        json.dumps(wrong_type),
        json.dumps(bad_site),
        json.dumps(old),
        "",
        "   ",
    ]
    audit = tmp_path / "a.jsonl"
    write_records(audit, good[:1], tuple(extra))
    with audit.open("ab") as f:
        f.write(b"\xff\xfe not utf-8\n")
        f.write((json.dumps(good[1]) + "\n").encode())
        f.write(b'{"v": 1, "comm')  # a last line cut short by a crash
    summary = report_json(str(audit), status=1)["summary"]
    assert summary["calls"] == 2
    expected = Counter(CORRUPT.values())
    expected.update(
        ['missing field "status"', 'invalid field "status"', 'invalid field "site"',
         "unknown schema version 0", "not valid JSON", "not valid JSON"]
    )
    assert summary["skipped_lines"] == sum(expected.values())
    assert summary["skipped_reasons"] == dict(expected)
    assert len(summary["skipped_examples"]) == _model.SHOW_SKIPPED
    assert summary["skipped_examples"][0] == f"{audit}:2: not valid JSON"


def test_unknown_fields_are_accepted(tmp_path: Path) -> None:
    """Readers accept fields a later writer of the same schema version adds."""
    record = make_record("true")
    record["new_field"] = {"anything": [1, 2]}
    document = report_json(str(write_records(tmp_path / "a.jsonl", [record])))
    assert document["summary"]["calls"] == 1


def test_a_line_over_the_limit_is_skipped_without_being_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A line longer than MAX_LINE counts as one skipped line; reading goes on after it."""
    monkeypatch.setattr(_reader, "MAX_LINE", 1000)
    long_record = make_record("echo " + "x" * 5000)
    audit = write_records(tmp_path / "a.jsonl", [make_record("true"), long_record, make_record("false")])
    summary = report_json(str(audit), status=1)["summary"]
    assert summary["calls"] == 2
    assert summary["skipped_reasons"] == {"line too long": 1}
    assert summary["skipped_examples"] == [f"{audit}:2: line too long"]


def test_a_newer_schema_is_refused_naming_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A record with ``"v": 2``: exit 2 and one line naming the file, the line and the fix."""
    newer = make_record("true")
    newer["v"] = 2
    audit = write_records(tmp_path / "a.jsonl", [make_record("true"), newer])
    assert _cli.main(["report", str(audit)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"shim: report: {audit}:2: ")
    assert "newer shim" in lines[0]
    assert "upgrade" in lines[0]


@pytest.mark.parametrize(
    "problem", ["missing", "directory", pytest.param("unreadable", marks=needs_non_root), "bad output directory"]
)
def test_bad_inputs_are_one_line_and_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], problem: str
) -> None:
    """A missing file, a directory, an unreadable file, an impossible -o: one line naming it, exit 2."""
    good = write_records(tmp_path / "good.jsonl", [make_record("true")])
    argv = ["report", str(good)]
    named = tmp_path / "x.jsonl"
    if problem == "missing":
        argv.append(str(named))
    elif problem == "directory":
        named = tmp_path
        argv.append(str(named))
    elif problem == "unreadable":
        write_records(named, [make_record("true")])
        named.chmod(0)
        if os.access(named, os.R_OK):
            pytest.skip("running as a user who can read any file")
        argv.append(str(named))
    else:
        named = tmp_path / "no" / "out.html"
        argv += ["-o", str(named)]
    assert _cli.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("shim: report: ")
    assert str(named) in lines[0]


def test_several_files_gzip_and_stdin_add_up(tmp_path: Path) -> None:
    """Records from several files, gzip-compressed ones and standard input are added together."""
    first = mixed_records(50, seed=1)
    second = mixed_records(60, seed=2)
    third = mixed_records(70, seed=3)
    plain = write_records(tmp_path / "a.jsonl", first)
    packed = tmp_path / "b.jsonl.gz"
    with gzip.open(packed, "wt") as f:
        f.writelines(json.dumps(r) + "\n" for r in second)
    piped = "".join(json.dumps(r) + "\n" for r in third)
    result = subprocess.run(
        [sys.executable, "-m", "shim", "report", "--format", "json", str(plain), str(packed), "-"],
        input=piped, capture_output=True, text=True, env=child_env(), check=False, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    expected = expected_sites(first + second + third)
    assert document["summary"]["files"] == [str(plain), str(packed), "-"]
    assert {(s["file"], s["line"]): s["calls"] for s in document["sites"]} == {
        key: e["calls"] for key, e in expected.items()
    }


def test_output_format_follows_the_output_suffix(tmp_path: Path) -> None:
    """Without --format, ``-o x.html``/``.md``/``.json`` choose the format; otherwise text."""
    audit = write_records(tmp_path / "a.jsonl", [make_record("true")])
    for name, start in [("r.html", "<!DOCTYPE html>"), ("r.md", "# shim report"),
                        ("r.json", "{"), ("r.txt", "shim report:"), ("r", "shim report:")]:
        assert _cli.main(["report", str(audit), "-o", str(tmp_path / name)]) == 0
        assert (tmp_path / name).read_text().startswith(start), name


@pytest.mark.parametrize("name", ["r.pdf", "report.sarif", "out.yaml"])
def test_an_unknown_output_suffix_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    """-o r.pdf used to write text silently: now one line naming the formats, exit 2, nothing written."""
    audit = write_records(tmp_path / "a.jsonl", [make_record("true")])
    assert _cli.main(["report", str(audit), "-o", str(tmp_path / name)]) == 2
    assert "cannot tell the format" in capsys.readouterr().err
    assert not (tmp_path / name).exists()
    assert _cli.main(["report", str(audit), "--format", "text", "-o", str(tmp_path / name)]) == 0


NASTY = [
    "echo '\x1b[31mred\x1b[0m'",
    "printf 'a\\nb' | cat\nsecond line",
    "echo `date` | grep '|' && echo ``",
    'echo <script>alert(1)</script> & echo "&amp;"',
]


def test_text_and_markdown_show_commands_safely(tmp_path: Path) -> None:
    """No control character reaches the terminal; Markdown code spans hold backticks and pipes."""
    records = [make_record(c, site=("app.py", 10 + i, "f")) for i, c in enumerate(NASTY)]
    audit = write_records(tmp_path / "a.jsonl", records)
    for fmt in ("text", "markdown"):
        out = tmp_path / f"out.{fmt}"
        assert _cli.main(["report", "--format", fmt, "-o", str(out), str(audit)]) == 0
        text = out.read_text()
        assert not any(ch < " " and ch != "\n" for ch in text), fmt
        assert "\\x1b[31mred" in text
        assert "printf 'a\\\\nb' | cat\\nsecond line" in text
    markdown = (tmp_path / "out.markdown").read_text()
    assert "``` echo `date` | grep '|' && echo `` ```" in markdown


def test_every_format_renders_the_same_sites(tmp_path: Path) -> None:
    """Text and Markdown list the sites in JSON's busiest-first order; HTML groups them by file.

    In HTML the busiest file comes first and, within it, the busiest site.
    """
    records = mixed_records(300, seed=9)
    audit = write_records(tmp_path / "a.jsonl", records)
    sites = report_json(str(audit))["sites"]
    names = [f"{s['file']}:{s['line']}" for s in sites]
    totals = Counter()
    for site in sites:
        totals[site["file"]] += site["calls"]
    grouped = [
        f"{s['file']}:{s['line']}"
        for s in sorted(sites, key=lambda s: (-totals[s["file"]], s["file"], -s["calls"], s["line"]))
    ]
    for fmt, order in (("text", names), ("markdown", names), ("html", grouped)):
        out = tmp_path / f"out.{fmt}"
        assert _cli.main(["report", "--format", fmt, "-o", str(out), str(audit)]) == 0
        text = out.read_text()
        positions = [text.index(f'"{name}"' if fmt == "html" else name) for name in order]
        assert positions == sorted(positions), fmt


# -- bounded memory ----------------------------------------------------------------

# The peak resident size of this process image.  (``ru_maxrss`` would not
# do: it keeps the high-water mark of the forked parent across exec.)
MEASURE = (
    "import sys\n"
    "from shim._tools.cli import main\n"
    "status = main(sys.argv[1:])\n"
    "with open('/proc/self/status') as f:\n"
    "    print([line.split()[1] for line in f if line.startswith('VmHWM:')][0])\n"
    "sys.exit(status)\n"
)


def generate(path: Path, count: int) -> None:
    """``count`` records over three sites; one of them runs a different command every time."""
    templates = [
        json.dumps(make_record("rsync -a /data/NNN /backup/", site=("/srv/jobs.py", 10, "sync"),
                               suggestion="subprocess.run(['rsync', '-a', '/data/NNN', '/backup/'])"),
                   separators=(",", ":")).replace("%", "%%").replace("NNN", "%d"),
        json.dumps(make_record("ls | wc -l", site=("/srv/jobs.py", 20, "count"), mode="auto",
                               status=256), separators=(",", ":")).replace("%", "%%"),
        json.dumps(make_record("true", site=("/srv/jobs.py", 30, "ping"), mode="auto"),
                   separators=(",", ":")).replace("%", "%%"),
    ]
    fixed = templates[1] + "\n" + templates[2] + "\n"
    varying = templates[0] + "\n"
    with path.open("w") as f:
        for i in range(count // 4):
            f.write(varying % (i, i) + fixed + varying % (i % 5, i % 5))


def peak_kib(audit: Path, out: Path) -> int:
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, "report", "--format", "json", "-o", str(out), str(audit)],
        capture_output=True, text=True, env=child_env(), check=False, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return int(result.stdout.split()[-1])


RECORDS = 250_000


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="reads the peak memory from /proc (Linux)")
def test_memory_stays_bounded_over_many_records(tmp_path: Path) -> None:
    """The peak memory for 250,000 records is that of 1,000, within a few MB.

    One site runs a different command on every other call, so the per-site
    command counter must stay bounded too: tracking every distinct command
    would cost over 10 MB more here.  (tracemalloc would make the run
    several times slower; the peak resident size of a separate process
    measures the same thing at full speed.)
    """
    small, large = tmp_path / "small.jsonl", tmp_path / "large.jsonl"
    generate(small, 1_000)
    generate(large, RECORDS)
    base = peak_kib(small, tmp_path / "small.json")
    peak = peak_kib(large, tmp_path / "large.json")
    large.unlink()
    document = json.loads((tmp_path / "large.json").read_text())
    assert document["summary"]["calls"] == RECORDS
    busiest = document["sites"][0]
    assert busiest["line"] == 10
    assert busiest["commands_complete"] is False
    top = {c["command"]: c["count"] for c in busiest["commands"]}
    blocks = RECORDS // 4
    for k in range(5):
        # Once as ``i`` itself, and once per block as ``i % 5``.
        assert top[f"rsync -a /data/{k} /backup/"] == 1 + sum(1 for i in range(blocks) if i % 5 == k)
    assert peak - base < 4 * 1024, (base, peak)


# -- the bounded counter -------------------------------------------------------------


def test_topk_is_exact_while_it_has_room() -> None:
    """With no more distinct items than its capacity, counts are exact and ordered."""
    counter = _topk.TopK(4)
    items = ["a"] * 5 + ["b"] * 3 + ["c"] * 3 + ["d"]
    random.Random(1).shuffle(items)
    for item in items:
        counter.add(item)
    assert counter.most_common() == [("a", 5, 0), ("b", 3, 0), ("c", 3, 0), ("d", 1, 0)]
    assert not counter.evicted


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=30), max_size=300), st.integers(1, 8))
def test_topk_bounds_hold(values: List[int], capacity: int) -> None:
    """Every count is an overestimate by at most its error; frequent items are never lost."""
    counter = _topk.TopK(capacity)
    for value in values:
        counter.add(str(value))
    truth = Counter(str(v) for v in values)
    tracked = {item: (count, error) for item, count, error in counter.most_common()}
    assert len(tracked) <= capacity
    for item, (count, error) in tracked.items():
        assert count - error <= truth[item] <= count
    for item, real in truth.items():
        if real > len(values) / capacity:
            assert item in tracked
