"""The tools against hostile input and faults (issue 9, items 3, 7, 11 and 12).

Every test here failed on the tools before they were hardened: a secret in
a source line printed in clear, a torn record that swallowed the next one,
a record that made the report read any file (or hang on a FIFO), a damaged
``.gz`` that stopped the whole report, ``Infinity`` in JSON output, control
characters and markup from records reaching a terminal or a Markdown page,
and ``shim scan`` hanging on a FIFO or dying on a file name that is not
UTF-8.  The fault tests run the tools in a child process with a time limit
(and a memory limit where the old behaviour was to exhaust it).
"""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
from typing import TYPE_CHECKING, Any, Dict, List, Optional

import pytest

from conftest import child_env
from test_report import make_record, write_records

if TYPE_CHECKING:
    from pathlib import Path

FORMATS = ("text", "markdown", "json", "html")


def shim(
    *args: str, cwd: Path, env: Optional[Dict[str, str]] = None, timeout: float = 60
) -> subprocess.CompletedProcess[bytes]:
    """Run ``python -m shim`` in a child with a time and memory limit; bytes out."""

    def limits() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

    return subprocess.run(
        [sys.executable, "-m", "shim", *args],
        cwd=cwd, env=env or child_env(), capture_output=True, check=False, timeout=timeout,
        preexec_fn=limits,
    )


def record(command: str, file: str, line: int, **fields: Any) -> Dict[str, Any]:
    made = make_record(command, site=(file, line, fields.pop("function", "<module>")), cwd=None)
    made.update(fields)
    return made


def compact(records: List[Dict[str, Any]]) -> bytes:
    """Records as the audit writer writes them: compact JSON, one per line."""
    return b"".join(json.dumps(r, separators=(",", ":")).encode() + b"\n" for r in records)


# -- item 3: source lines go through the same masking as commands ----------------------


SECRET_SOURCE = """\
import os

os.system("export DB_PASSWORD=hunter2 && make deploy")
os.system("pinpad --pin 8642 --user ops")
os.system(
    "curl -u admin:s3cr3t-pw https://example.org/api"
)
"""


@pytest.mark.parametrize("fmt", FORMATS)
def test_source_lines_and_suggestions_are_masked(tmp_path: Path, fmt: str) -> None:
    """A secret written in the call's source appears in no report format, nor in the suggestion."""
    app = tmp_path / "app.py"
    app.write_text(SECRET_SOURCE)
    audit = write_records(tmp_path / "audit.jsonl", [
        record("export DB_PASSWORD=*** && make deploy", str(app), 3),
        record("pinpad --pin *** --user ops", str(app), 4),
        record("curl -u admin:*** https://example.org/api", str(app), 5),
    ])
    env = child_env(SHIM_REDACT="--pin ([0-9]+)")
    result = shim("report", "--format", fmt, str(audit), cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode()
    for secret in ("hunter2", "8642", "s3cr3t-pw"):
        assert secret not in out, (fmt, secret)
    assert "DB_PASSWORD=***" in out
    assert "pinpad" in out  # the source is shown, masked, not dropped


def test_redact_option_masks_the_source_too(tmp_path: Path) -> None:
    """--redact adds a pattern for the source shown, as SHIM_REDACT does for records."""
    app = tmp_path / "app.py"
    app.write_text("import os\nos.system('deploy --vault-code 77aa')\n")
    audit = write_records(tmp_path / "audit.jsonl", [record("deploy --vault-code ***", str(app), 2)])
    plain = shim("report", str(audit), cwd=tmp_path)
    assert b"77aa" in plain.stdout
    masked = shim("report", "--redact=--vault-code (\\S+)", str(audit), cwd=tmp_path)
    assert masked.returncode == 0
    assert b"77aa" not in masked.stdout


# -- item 7: a torn record never costs the following good record ------------------------


def test_a_torn_record_does_not_swallow_the_next_one(tmp_path: Path) -> None:
    """A record cut short and the one appended after it share a line: the second is still counted."""
    first, second, third = (record(c, "app.py", n) for n, c in ((1, "true"), (2, "false"), (3, "ls")))
    torn = json.dumps(record("make", "app.py", 9), separators=(",", ":")).encode()[:37]
    audit = tmp_path / "audit.jsonl"
    audit.write_bytes(compact([first]) + torn + compact([second]) + compact([third]))
    result = shim("report", "--format", "json", str(audit), cwd=tmp_path)
    assert result.returncode == 1  # some input was corrupt, and the report says so
    summary = json.loads(result.stdout)["summary"]
    assert summary["calls"] == 3
    assert summary["skipped_reasons"] == {"torn record (the record after it was kept)": 1}
    assert summary["skipped_examples"] == [f"{audit}:2: torn record (the record after it was kept)"]


def test_a_torn_record_at_the_end_and_garbage_are_counted(tmp_path: Path) -> None:
    """A line that holds no whole record is counted as not JSON; nothing else is lost."""
    audit = tmp_path / "audit.jsonl"
    good = compact([record("true", "app.py", 1)])
    audit.write_bytes(good + b'garbage {"v":1,"command"\n' + good + good[:20])
    summary = json.loads(shim("report", "--format", "json", str(audit), cwd=tmp_path).stdout)["summary"]
    assert summary["calls"] == 2
    assert summary["skipped_reasons"] == {"not valid JSON": 2}


# -- item 11: what the report reads, and what it does with damaged input ----------------


def test_the_report_reads_no_file_outside_the_source_roots(tmp_path: Path) -> None:
    """A record naming a file outside the roots (or a link to one) gets no source line."""
    private = tmp_path / "private"
    private.mkdir()
    secret = private / "shadow"
    secret.write_text("root:PRIVATE-HASH:19000:0:99999:7:::\n")
    secret.chmod(0o600)
    project = tmp_path / "project"
    project.mkdir()
    (project / "link.py").symlink_to(secret)
    audit = write_records(project / "audit.jsonl", [
        record("true", str(secret), 1),
        record("true", "link.py", 1, cwd=str(project)),
        record("true", "../private/shadow", 1, cwd=str(project)),
    ])
    for fmt in FORMATS:
        result = shim("report", "--format", fmt, str(audit), cwd=project)
        assert result.returncode == 0, result.stderr
        assert b"PRIVATE-HASH" not in result.stdout, fmt
    document = json.loads(shim("report", "--format", "json", str(audit), cwd=project).stdout)
    reasons = {site["source_unavailable"] for site in document["sites"]}
    assert reasons == {"the file is outside the source roots (give its directory with --source-root)"}


def test_a_fifo_or_a_device_as_source_does_not_hang_the_report(tmp_path: Path) -> None:
    """A record naming a FIFO or a link to /dev/zero: the report ends at once and says why."""
    os.mkfifo(tmp_path / "pipe.py")
    (tmp_path / "zero.py").symlink_to("/dev/zero")
    audit = write_records(tmp_path / "audit.jsonl", [
        record("true", str(tmp_path / "pipe.py"), 1),
        record("true", str(tmp_path / "zero.py"), 1),
    ])
    result = shim("report", "--format", "json", str(audit), cwd=tmp_path, timeout=30)
    assert result.returncode == 0, result.stderr
    reasons = sorted(site["source_unavailable"] for site in json.loads(result.stdout)["sites"])
    assert reasons == [
        "the file cannot be read: a FIFO, not a regular file",
        # The link resolves to /dev/zero, which is outside the roots: not even opened.
        "the file is outside the source roots (give its directory with --source-root)",
    ]


def test_a_damaged_gz_is_counted_and_the_rest_reported(tmp_path: Path) -> None:
    """A .gz cut short: its records read until then and the other files count; exit status 1."""
    packed = tmp_path / "old.jsonl.gz"
    with gzip.open(packed, "wb") as file:
        file.write(compact([record("true", "a.py", n) for n in range(1, 2001)]))
    data = packed.read_bytes()
    packed.write_bytes(data[: len(data) // 2])
    plain = write_records(tmp_path / "new.jsonl", [record("false", "b.py", 1, status=256)])
    result = shim("report", "--format", "json", str(packed), str(plain), cwd=tmp_path)
    assert result.returncode == 1
    document = json.loads(result.stdout)
    (damaged,) = document["summary"]["damaged_files"]
    assert damaged["file"] == str(packed)
    assert damaged["reason"].startswith("damaged gzip file")
    files = {site["file"] for site in document["sites"]}
    assert files == {"a.py", "b.py"}
    assert b"some input could not be read" in result.stderr
    text = shim("report", str(packed), str(plain), cwd=tmp_path)
    assert text.returncode == 1
    assert f"damaged input: {packed}: damaged gzip file".encode() in text.stdout


def _strict(text: str) -> Any:
    def refuse(constant: str) -> None:
        raise ValueError(f"not JSON: {constant}")

    assert "\\ud8" not in text.lower() and "\\udc" not in text.lower()
    return json.loads(text, parse_constant=refuse)


def test_json_output_is_always_valid_json(tmp_path: Path) -> None:
    """Sums that overflow and undecodable file names: the document is still strict JSON."""
    records = [record("sleep 1", "app.py", 1, duration_ms=1.5e308) for _ in range(3)]
    records.append(record("ls \udcff", "caf\udce9.py", 2))
    audit = tmp_path / "audit.jsonl"
    audit.write_text("".join(json.dumps(r) + "\n" for r in records))
    result = shim("report", "--format", "json", str(audit), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    document = _strict(result.stdout.decode("utf-8"))
    assert document["summary"]["total_duration_ms"] is None
    assert {site["file"] for site in document["sites"]} == {"app.py", "caf\\xe9.py"}


def test_a_newer_schema_in_a_gz_is_refused_with_file_and_line(tmp_path: Path) -> None:
    """The refusal of a newer record names the file and line, also inside a compressed file."""
    newer = record("true", "a.py", 1, v=2)
    packed = tmp_path / "a.jsonl.gz"
    with gzip.open(packed, "wb") as file:
        file.write(compact([record("true", "a.py", 1), newer]))
    result = shim("report", str(packed), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.decode().startswith(f"shim: report: {packed}:2: record written by a newer shim")


# -- item 12: control characters, markup, odd files ---------------------------------------


def test_text_and_markdown_escape_everything_from_records(tmp_path: Path) -> None:
    """Site names, functions, shell reasons and skipped-line names: no raw control character or markup."""
    evil = "\x1b]0;owned\x07\x1b[2J"
    records = [
        record("true", f"app{evil}.py", 1, function=f"f{evil}"),
        record("ls | wc", "b.py", 2, shell=True, shell_reason="<img src=x onerror=alert(1)> [click](http://x)"),
        record("x", "c.py", 3, shell=True, shell_reason=f"pipe{evil}"),
    ]
    audit = write_records(tmp_path / f"audit{evil[:3]}.jsonl", records, ("not json",))
    for fmt in ("text", "markdown"):
        result = shim("report", "--format", fmt, str(audit), cwd=tmp_path)
        out = result.stdout.decode()
        assert not any(ch < " " and ch != "\n" for ch in out), fmt
        assert "\x7f" not in out
    markdown = shim("report", "--format", "markdown", str(audit), cwd=tmp_path).stdout.decode()
    assert not re.search(r"(?<!\\)<img", markdown)
    assert not re.search(r"(?<!\\)\[click\]", markdown)
    assert "\\<img src\\=x onerror\\=alert\\(1\\)\\>" in markdown


def test_scan_escapes_file_names_and_prints_any_name_on_a_strict_stdout(tmp_path: Path) -> None:
    """A file name with escape sequences or bytes that are not UTF-8 prints, escaped, on an ASCII stdout."""
    evil = tmp_path / "evil\x1b[2J.py"
    evil.write_text("import os\nos.system('ls')\n")
    raw = os.fsencode(tmp_path) + b"/caf\xe9.py"
    with open(raw, "w") as file:
        file.write("import os\nos.system('ls')\nos.system('ls'\n")
    env = child_env(PYTHONIOENCODING="ascii:strict", LC_ALL="C")
    result = shim("scan", str(tmp_path), cwd=tmp_path, env=env)
    assert result.returncode == 1, result.stderr
    out = result.stdout.decode("ascii")
    err = result.stderr.decode("ascii")
    assert "\x1b" not in out + err
    assert "evil\\x1b[2J.py:2:1: os.system" in out
    assert "caf\\xe9.py:3: cannot parse" in err
    for fmt in ("json", "sarif", "github"):
        other = shim("scan", "--format", fmt, str(tmp_path), cwd=tmp_path, env=env)
        assert other.returncode == 1, (fmt, other.stderr)
        assert b"\x1b" not in other.stdout
        other.stdout.decode("ascii")


def test_scan_reads_only_regular_files(tmp_path: Path) -> None:
    """A FIFO named *.py and a link to /dev/zero: skipped at once, counted, the rest scanned."""
    os.mkfifo(tmp_path / "a_pipe.py")
    (tmp_path / "b_zero.py").symlink_to("/dev/zero")
    (tmp_path / "c_app.py").write_text("import os\nos.system('ls')\n")
    result = shim("scan", str(tmp_path), cwd=tmp_path, timeout=30)
    assert result.returncode == 1
    err = result.stderr.decode()
    assert "a_pipe.py: cannot read: a FIFO, not a regular file" in err
    assert "b_zero.py: cannot read: a character device, not a regular file" in err
    assert b"c_app.py:2:1: os.system" in result.stdout
    assert b"2 files could not be read or parsed" in result.stdout


def test_scan_skips_a_file_over_the_size_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A source file larger than the cap is skipped with the reason, never read whole."""
    from shim._tools.scan import files as _files

    monkeypatch.setattr(_files, "MAX_SOURCE", 100)
    big = tmp_path / "big.py"
    big.write_text("import os\nos.system('ls')\n" + "#" * 200 + "\n")
    result = _files.scan_file(str(big))
    assert isinstance(result, _files.Skipped)
    assert result.message == "cannot read: larger than 100 bytes"
