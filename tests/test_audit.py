"""The audit trail: one JSON line per call, compared with what plain ``os.system`` did.

Every test runs real commands in fresh interpreters: once with plain
``os.system`` and once with the shim writing an audit file, and checks the
records against the plain run (statuses) and against what the child saw
(its pid, working directory, the line that made the call).
"""

import datetime as dt
import fcntl
import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytest
import shim
from shim._common import platform as _platform
from shim._common.settings import Settings
from shim._runtime import warn
from shim._runtime.session import Session
from shim.exceptions import ShimWarning

from conftest import child_env

SCHEMA_KEYS = {
    "v",
    "ts",
    "pid",
    "command",
    "argv",
    "shell",
    "shell_reason",
    "sh",
    "mode",
    "cwd",
    "site",
    "status",
    "exit_code",
    "signal",
    "core_dumped",
    "duration_ms",
    "capture",
    "stdout_bytes",
    "stderr_bytes",
    "stdout_tail",
    "stderr_tail",
    "stdout_note",
    "stderr_note",
    "merged",
    "suggestion",
    "outcome",
    "function",
    "popen_mode",
    "end",
}

# The child's prelude: install the shim when asked to, and report results
# on a last line of stdout.
PRELUDE = """\
import json, os, sys, time
_options = os.environ.pop("AUDIT_TEST_OPTIONS", None)
if _options is not None:
    import shim
    shim.install(**json.loads(_options))
results = []
def report(**extra):
    sys.stdout.flush()
    sys.stdout.write("\\nRESULT " + json.dumps(dict(results=results, pid=os.getpid(), **extra)) + "\\n")
"""


def write_script(directory: Path, body: str, *, prelude: bool = True) -> Path:
    script = directory / "prog.py"
    script.write_text((PRELUDE if prelude else "") + textwrap.dedent(body))
    return script


def line_of(script: Path, marker: str) -> int:
    """The line number of the line holding ``marker``."""
    for number, line in enumerate(script.read_text().splitlines(), 1):
        if marker in line:
            return number
    raise AssertionError(f"{marker!r} not in {script}")


def run_script(
    script: Path,
    *,
    options: Optional[Dict[str, Any]] = None,
    env: Optional[Dict[str, str]] = None,
    cwd: Optional[Path] = None,
    args: Tuple[str, ...] = (),
    timeout: float = 60,
) -> "subprocess.CompletedProcess[str]":
    extra = dict(env or {})
    if options is not None:
        extra["AUDIT_TEST_OPTIONS"] = json.dumps(options)
    workdir = str(cwd or script.parent)
    # What a shell starting the program would set; a stale PWD keeps
    # shell="auto" on the shell path (dash would have reset it).
    extra.setdefault("PWD", workdir)
    return subprocess.run(
        [sys.executable, *args, str(script)],
        env=child_env(**extra),
        cwd=workdir,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        universal_newlines=True,
        timeout=timeout,
        check=False,
    )


def result_of(proc: "subprocess.CompletedProcess[str]") -> Dict[str, Any]:
    assert proc.returncode == 0, proc.stderr
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("RESULT "):
            data: Dict[str, Any] = json.loads(line[len("RESULT ") :])
            return data
    raise AssertionError(f"no result in {proc.stdout!r} / {proc.stderr!r}")


def read_records(path: Path) -> List[Dict[str, Any]]:
    data = path.read_bytes()
    assert data.endswith(b"\n") or not data
    return [json.loads(line) for line in data.decode("utf-8").splitlines()]


def plain_and_shim(
    tmp_path: Path, body: str, options: Optional[Dict[str, Any]] = None, **kwargs: Any
) -> Tuple[Dict[str, Any], Dict[str, Any], List[Dict[str, Any]], Path]:
    """Run ``body`` plain and shimmed (each in its own directory); the records of the shimmed run."""
    results = []
    for name in ("plain", "shim"):
        workdir = tmp_path / name
        workdir.mkdir()
        script = write_script(workdir, body)
        opts = None
        if name == "shim":
            opts = {"audit": str(tmp_path / "audit.jsonl"), **(options or {})}
        results.append(result_of(run_script(script, options=opts, **kwargs)))
    audit = tmp_path / "audit.jsonl"
    return results[0], results[1], read_records(audit), tmp_path / "shim" / "prog.py"


def expected_outcome(status: int) -> Dict[str, Any]:
    """What the record must say about a wait status, by the os module's own macros."""
    if os.WIFEXITED(status):
        return {"exit_code": os.WEXITSTATUS(status), "signal": None, "core_dumped": False}
    if os.WIFSIGNALED(status):
        return {
            "exit_code": None,
            "signal": os.WTERMSIG(status),
            "core_dumped": os.WCOREDUMP(status),
        }
    return {"exit_code": None, "signal": None, "core_dumped": False}


CALLS_BODY = """
commands = json.loads(sys.argv[1]) if len(sys.argv) > 1 else COMMANDS
times = []
for command in commands:
    before = time.time()
    results.append(os.system(command))  # CALL
    times.append([before, time.time()])
report(times=times, cwd=os.getcwd())
"""

STATUS_COMMANDS = [
    "true",
    "exit 3",
    "kill -TERM $$",
    "no-such-command-for-the-audit-test 2>/dev/null",
    "sleep 0.05",
]


def test_records_match_plain_os_system(tmp_path: Path) -> None:
    """Each call gives one record whose status, exit code and signal are what plain os.system returned."""
    body = f"COMMANDS = {STATUS_COMMANDS!r}\n" + CALLS_BODY
    plain, shimmed, records, script = plain_and_shim(tmp_path, body)
    assert shimmed["results"] == plain["results"]
    assert len(records) == len(STATUS_COMMANDS)
    for command, status, record, (before, after) in zip(
        STATUS_COMMANDS, plain["results"], records, shimmed["times"]
    ):
        assert set(record) == SCHEMA_KEYS
        assert record["v"] == 1
        assert record["sh"] == _platform.shell().text
        assert record["command"] == command
        assert record["status"] == status
        for key, value in expected_outcome(status).items():
            assert record[key] == value, (command, key)
        assert record["pid"] == shimmed["pid"]
        assert record["cwd"] == shimmed["cwd"]
        assert record["site"] == {
            "file": str(script),
            "line": line_of(script, "# CALL"),
            "function": "<module>",
        }
        # "+00:00": strptime's %z takes the colon from Python 3.7 on.
        started = dt.datetime.strptime(record["ts"][:-3] + record["ts"][-2:], "%Y-%m-%dT%H:%M:%S.%f%z")
        assert started.utcoffset() == dt.timedelta(0)
        assert before - 0.001 <= started.timestamp() <= after
        assert 0 <= record["duration_ms"] <= (after - before) * 1000 + 1
        assert record["argv"] is None
        assert record["shell"] is True
        assert record["shell_reason"] is None
        assert record["mode"] == "always"
        assert record["capture"] == "off"
        for key in ("stdout_bytes", "stderr_bytes", "stdout_tail", "stderr_tail", "stdout_note", "stderr_note"):
            assert record[key] is None
        assert record["merged"] is False
        assert record["suggestion"].startswith("subprocess.run(")
        assert record["outcome"] == "ran"
    assert records[-1]["duration_ms"] >= 50


def test_core_dump_is_recorded(tmp_path: Path) -> None:
    """A shell killed by SIGSEGV with core dumps on: status, signal and core bit as plain os.system gives."""
    body = "COMMANDS = ['ulimit -c unlimited; kill -SEGV $$']\n" + CALLS_BODY
    plain, shimmed, records, _ = plain_and_shim(tmp_path, body)
    assert shimmed["results"] == plain["results"]
    (status,) = plain["results"]
    assert os.WIFSIGNALED(status)
    assert os.WTERMSIG(status) == 11
    assert records[0]["status"] == status
    assert records[0]["signal"] == 11
    assert records[0]["core_dumped"] == os.WCOREDUMP(status)
    if not os.WCOREDUMP(status):
        pytest.skip("this system does not dump cores here (the record said so correctly)")
    assert records[0]["core_dumped"] is True


def test_status_when_sigchld_is_ignored(tmp_path: Path) -> None:
    """With SIGCHLD ignored the status cannot be collected: -1 as plain os.system, no exit code or signal."""
    body = """
    import signal
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    results.append(os.system("exit 4"))
    report()
    """
    plain, shimmed, records, _ = plain_and_shim(tmp_path, body)
    assert shimmed["results"] == plain["results"]
    assert records[0]["status"] == plain["results"][0]
    assert records[0]["exit_code"] is None
    assert records[0]["signal"] is None


# --- the call site ----------------------------------------------------------

SITE_SPELLINGS = {
    "os.system": ("import os\n", "os.system('true')  # CALL\n"),
    "imported before install": ("from os import system as run\n", "run('true')  # CALL\n"),
    "imported after install": ("", "from os import system as run\nrun('true')  # CALL\n"),
    "getattr": ("", "getattr(os, 'system')('true')  # CALL\n"),
    "in a function": (
        "def helper():\n    os.system('true')  # CALL\n",
        "helper()\n",
    ),
}


@pytest.mark.parametrize("extension", ["wrapt C extension", "wrapt pure Python"])
@pytest.mark.parametrize("spelling", sorted(SITE_SPELLINGS))
def test_site_is_the_line_that_called_os_system(
    tmp_path: Path, spelling: str, extension: str
) -> None:
    """The site is the caller's file, line and function, whatever name the call used."""
    before, call = SITE_SPELLINGS[spelling]
    audit = tmp_path / "audit.jsonl"
    body = (
        "import os, wrapt\n"
        + before
        + f"import shim\nshim.install(audit={str(audit)!r})\n"
        + call
        + "import sys\nsys.stdout.write('C' if 'wrapt._wrappers' in sys.modules else 'Python')\n"
    )
    script = write_script(tmp_path, body, prelude=False)
    env = {"WRAPT_DISABLE_EXTENSIONS": "1"} if extension == "wrapt pure Python" else {}
    proc = run_script(script, env=env)
    assert proc.returncode == 0, proc.stderr
    # The wrapper really is the one this case is about.
    assert proc.stdout == ("Python" if env else "C")
    (record,) = read_records(audit)
    assert record["site"] == {
        "file": str(script),
        "line": line_of(script, "# CALL"),
        "function": "helper" if spelling == "in a function" else "<module>",
    }


@pytest.mark.parametrize("extension", ["wrapt C extension", "wrapt pure Python"])
def test_site_through_the_start_up_placeholder(tmp_path: Path, extension: str) -> None:
    """Enabled from the environment, the first call (through the placeholder) and later ones name the caller."""
    audit = tmp_path / "audit.jsonl"
    body = "import shim.auto\nimport os\nos.system('true')  # FIRST\nos.system('true')  # SECOND\n"
    script = write_script(tmp_path, body, prelude=False)
    env = {"SHIM_AUDIT": str(audit)}
    if extension == "wrapt pure Python":
        env["WRAPT_DISABLE_EXTENSIONS"] = "1"
    proc = run_script(script, env=env)
    assert proc.returncode == 0, proc.stderr
    lines = [record["site"]["line"] for record in read_records(audit)]
    assert lines == [line_of(script, "# FIRST"), line_of(script, "# SECOND")]


# --- the file ---------------------------------------------------------------


def test_one_write_per_record(tmp_path: Path) -> None:
    """Each record is a single write(2) on a descriptor opened O_APPEND|O_CREAT|O_CLOEXEC, mode 0600."""
    strace = "/usr/bin/strace"
    if not os.path.exists(strace):
        pytest.skip("strace is not installed")
    audit = tmp_path / "audit.jsonl"
    body = """
    os.system(": " + "x" * 20000)
    os.system("true")
    os.system("exit 2")
    report()
    """
    script = write_script(tmp_path, body)
    trace = tmp_path / "trace.txt"
    proc = subprocess.run(
        [
            strace,
            "-qq",
            "-f",
            "-e",
            "trace=openat,open,write,fcntl",
            "-e",
            "signal=none",
            "-o",
            str(trace),
            sys.executable,
            str(script),
        ],
        env=child_env(AUDIT_TEST_OPTIONS=json.dumps({"audit": str(audit)})),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        universal_newlines=True,
        timeout=60,
        check=False,
    )
    if proc.returncode != 0 and "ptrace" in proc.stderr:
        pytest.skip(f"strace cannot trace here: {proc.stderr.strip()}")
    assert proc.returncode == 0, proc.stderr
    text = trace.read_text()
    opens = [line for line in text.splitlines() if str(audit) in line]
    assert len(opens) == 1, opens
    for flag in ("O_WRONLY", "O_APPEND", "O_CREAT", "O_CLOEXEC", "0600"):
        assert flag in opens[0]
    opened = opens[0].rsplit("=", 1)[1].strip()
    # The descriptor is moved to a high number at once, the low one freed.
    (moved,) = [line for line in text.splitlines() if f"fcntl({opened}, F_DUPFD_CLOEXEC" in line]
    fd = moved.rsplit("=", 1)[1].strip()
    assert int(fd) >= 64
    writes = [line for line in text.splitlines() if f"write({fd}, " in line]
    sizes = [len(line) for line in audit.read_bytes().splitlines(keepends=True)]
    assert len(writes) == 3
    assert [int(w.rsplit("=", 1)[1]) for w in writes] == sizes
    assert sizes[0] > 4096  # larger than PIPE_BUF, still one write


def test_file_mode_and_existing_file(tmp_path: Path) -> None:
    """A new audit file is created mode 0600; an existing one keeps its mode and its content."""
    new, old = tmp_path / "new.jsonl", tmp_path / "old.jsonl"
    old.write_text('{"v": 1, "earlier": true}\n')
    old.chmod(0o640)
    body = f"""
    os.umask(0o022)
    import shim
    shim.install(audit={str(new)!r})
    os.system("true")
    shim.install(audit={str(old)!r})
    os.system("true")
    report()
    """
    result_of(run_script(write_script(tmp_path, body)))
    assert stat.S_IMODE(new.stat().st_mode) == 0o600
    assert stat.S_IMODE(old.stat().st_mode) == 0o640
    assert len(read_records(new)) == 1
    assert [r.get("earlier") for r in read_records(old)] == [True, None]


def test_concurrent_processes_and_threads(tmp_path: Path) -> None:
    """4 processes x 8 threads x 50 calls into one file give exactly 1600 valid JSON lines, none mixed."""
    audit = tmp_path / "audit.jsonl"
    body = """
    import threading
    tag = sys.argv[1]
    # Every seventh record is larger than PIPE_BUF.
    def work(thread):
        for i in range(50):
            pad = " " + "x" * 6000 if i % 7 == 0 else ""
            os.system(f": {tag}-{thread}-{i}{pad}")
    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    report()
    """
    script = write_script(tmp_path, body)
    env = child_env(AUDIT_TEST_OPTIONS=json.dumps({"audit": str(audit)}))
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), f"p{n}"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for n in range(4)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    lines = audit.read_bytes().split(b"\n")
    assert lines[-1] == b""
    records = [json.loads(line) for line in lines[:-1]]
    assert len(records) == 1600
    seen = {record["command"].split()[1] for record in records}
    assert seen == {f"p{n}-{t}-{i}" for n in range(4) for t in range(8) for i in range(50)}
    assert len({record["pid"] for record in records}) == 4
    assert all(record["status"] == 0 for record in records)


def test_forked_child_writes_its_own_records(tmp_path: Path) -> None:
    """After os.fork the child opens the file anew and both processes' records arrive whole."""
    audit = tmp_path / "audit.jsonl"
    body = f"""
    import shim
    from shim._runtime import lifecycle
    shim.install(audit={str(audit)!r})
    os.system(": parent-before")
    sink = lifecycle._LIFECYCLE.handler.session.audit
    parent_fd = sink.fd
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            # The inherited descriptor was closed at the fork (Python 3.6 has
            # no at-fork hook: there the child drops it at its first record).
            if hasattr(os, "register_at_fork") and sink.fd != -1:
                code = 3
            os.system(": child")
            if sink.pid != os.getpid():
                code = 4
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    os.system(": parent-after")
    results.append(status)
    results.append(sink.fd == parent_fd)
    report()
    """
    result = result_of(run_script(write_script(tmp_path, body)))
    assert result["results"] == [0, True]
    records = read_records(audit)
    assert [r["command"] for r in records] == [": parent-before", ": child", ": parent-after"]
    assert records[1]["pid"] != records[0]["pid"] == records[2]["pid"]


def test_rotated_file_is_followed(tmp_path: Path) -> None:
    """When the file is moved away (log rotation), the next record goes to a new file at the path."""
    audit = tmp_path / "audit.jsonl"
    body = f"""
    os.system(": one")
    os.rename({str(audit)!r}, {str(audit) + ".1"!r})
    os.system(": two")
    os.unlink({str(audit)!r})
    os.system(": three")
    report()
    """
    result_of(run_script(write_script(tmp_path, body), options={"audit": str(audit)}))
    assert [r["command"] for r in read_records(Path(str(audit) + ".1"))] == [": one"]
    assert [r["command"] for r in read_records(audit)] == [": three"]


def test_descriptor_closed_by_the_program(tmp_path: Path) -> None:
    """A program that closes the audit descriptor (a daemon closing every fd) still gets its records."""
    audit = tmp_path / "audit.jsonl"
    other = tmp_path / "other.txt"
    body = f"""
    from shim._runtime import lifecycle
    os.system(": one")
    fd = lifecycle._LIFECYCLE.handler.session.audit.fd
    os.close(fd)
    again = os.open({str(other)!r}, os.O_WRONLY | os.O_CREAT, 0o644)
    results.append(again == fd)
    os.system(": two")
    os.close(again)
    report()
    """
    result = result_of(run_script(write_script(tmp_path, body), options={"audit": str(audit)}))
    # The program's next number is its own, not the shim's.
    assert result["results"] == [False]
    assert other.read_bytes() == b""
    assert [r["command"] for r in read_records(audit)] == [": one", ": two"]


def test_path_change_and_audit_off(tmp_path: Path) -> None:
    """A new audit path takes effect at once; switching auditing off closes the file."""
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    body = f"""
    import shim
    from shim._runtime import lifecycle
    shim.install(audit={str(first)!r})
    os.system(": a")
    sink_a = lifecycle._LIFECYCLE.handler.session.audit
    shim.install(audit={str(second)!r})
    results.append(sink_a.fd == -1)
    os.system(": b")
    sink_b = lifecycle._LIFECYCLE.handler.session.audit
    shim.install()
    os.system(": none")
    results.append(sink_b.fd == -1 and lifecycle._LIFECYCLE.handler.session.audit is None)
    report()
    """
    result = result_of(run_script(write_script(tmp_path, body)))
    assert result["results"] == [True, True]
    assert [r["command"] for r in read_records(first)] == [": a"]
    assert [r["command"] for r in read_records(second)] == [": b"]


# --- what goes into a record ---------------------------------------------------


def test_secrets_are_masked_in_the_record_not_in_the_command(tmp_path: Path) -> None:
    """The command runs with its secrets; the record, its suggestion and the file never contain them."""
    body = """
    results.append(os.system("DB_PASSWORD=hunter2 sh -c 'echo $DB_PASSWORD > seen.txt'; exit 7"))
    results.append(os.system("echo --token=tk-81723 https://bob:pw-9981@example.com/ > args.txt"))
    report()
    """
    plain, shimmed, records, script = plain_and_shim(tmp_path, body)
    assert shimmed["results"] == plain["results"] == [7 << 8, 0]
    workdir = script.parent
    assert (workdir / "seen.txt").read_text() == "hunter2\n"
    assert (
        workdir / "args.txt"
    ).read_text() == "--token=tk-81723 https://bob:pw-9981@example.com/\n"
    raw = (tmp_path / "audit.jsonl").read_text()
    for secret in ("hunter2", "tk-81723", "pw-9981"):
        assert secret not in raw
    assert records[0]["command"] == "DB_PASSWORD=*** sh -c 'echo $DB_PASSWORD > seen.txt'; exit 7"
    assert records[1]["command"] == "echo --token=*** https://bob:***@example.com/ > args.txt"
    assert "DB_PASSWORD=***" in records[0]["suggestion"]


def test_extra_patterns_from_the_environment(tmp_path: Path) -> None:
    """SHIM_REDACT patterns (';'-separated) mask their match, or only their groups."""
    body = """
    os.system(": internal-id-4411 --pin 9876 ok")
    report()
    """
    _, _, records, _ = plain_and_shim(
        tmp_path, body, env={"SHIM_REDACT": r"internal-id-\d+;--pin (\d+)"}
    )
    assert records[0]["command"] == ": *** --pin *** ok"


def test_shell_free_run_records_argv(tmp_path: Path) -> None:
    """With shell="auto" a command run without /bin/sh records its (masked) argv; others say why a shell ran.

    Where the platform runs nothing without /bin/sh (it is not dash), both
    records say so, with the platform module's reason.
    """
    body = """
    results.append(os.system("env API_TOKEN=abc123 true"))
    results.append(os.system("exit 3"))
    report()
    """
    plain, shimmed, records, _ = plain_and_shim(tmp_path, body, {"shell": "auto"})
    assert shimmed["results"] == plain["results"]
    direct, shelled = records
    assert direct["mode"] == shelled["mode"] == "auto"
    assert "abc123" not in direct["suggestion"]
    unavailable = _platform.shell_free_reason()
    if unavailable is None:
        assert direct["shell"] is False
        assert direct["argv"] == ["env", "API_TOKEN=***", "true"]
        assert direct["shell_reason"] is None
        assert "['env', 'API_TOKEN=***', 'true']" in direct["suggestion"]
    else:
        # The platform keeps the shell for every command, and says why.
        assert direct["shell"] is True
        assert direct["argv"] is None
        assert direct["shell_reason"] == unavailable
    assert shelled["shell"] is True
    assert shelled["argv"] is None
    assert isinstance(shelled["shell_reason"], str)
    assert shelled["shell_reason"]
    assert "shell=True" in shelled["suggestion"]


def test_bytes_that_are_not_utf8(tmp_path: Path) -> None:
    """A command with bytes that are not UTF-8 gives a valid UTF-8 line showing them as \\xNN."""
    body = """
    results.append(os.system(b"echo \\xff\\xfe caf\\xc3\\xa9 > /dev/null"))
    report()
    """
    plain, shimmed, records, _ = plain_and_shim(tmp_path, body)
    assert shimmed["results"] == plain["results"] == [0]
    (tmp_path / "audit.jsonl").read_bytes().decode("utf-8")  # strict
    assert records[0]["command"] == "echo \\xff\\xfe café > /dev/null"


def test_working_directory_that_was_removed(tmp_path: Path) -> None:
    """A call made from a deleted working directory records cwd as null and still runs."""
    body = """
    os.mkdir("gone")
    os.chdir("gone")
    os.rmdir(os.getcwd())
    results.append(os.system("exit 5"))
    report()
    """
    plain, shimmed, records, _ = plain_and_shim(tmp_path, body)
    assert shimmed["results"] == plain["results"] == [5 << 8]
    assert records[0]["cwd"] is None


def test_capture_fields_in_tee_mode(tmp_path: Path) -> None:
    """In tee mode the record says capture "tee" and its byte counts match what the command wrote."""
    body = """
    results.append(os.system("printf 'hello token=s3cr3t'; printf 'err' >&2"))
    report()
    """
    # Output on pipes (not a terminal), separate ones for stdout and stderr.
    plain, shimmed, records, _ = plain_and_shim(tmp_path, body, {"capture": "tee"})
    assert shimmed["results"] == plain["results"] == [0]
    record = records[0]
    assert record["capture"] == "tee"
    assert record["stdout_bytes"] == len("hello token=s3cr3t")
    assert record["stderr_bytes"] == 3
    assert record["stdout_tail"] == "hello token=***"
    assert record["stderr_tail"] == "err"
    assert record["stdout_note"] is None
    assert record["merged"] is False


def test_capture_notes_in_the_record(tmp_path: Path) -> None:
    """Why a stream was not captured, or how, is in the record: a file is read back, /dev/null is not."""
    body = """
    saved = os.dup(1)
    fd = os.open("out.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(fd, 1)
    results.append(os.system("printf 'to the file DB_PASSWORD=hunter2'"))
    fd = os.open(os.devnull, os.O_WRONLY)
    os.dup2(fd, 1)
    results.append(os.system("echo gone"))
    os.dup2(saved, 1)
    report()
    """
    plain, shimmed, records, _ = plain_and_shim(tmp_path, body, {"capture": "tee"})
    assert shimmed["results"] == plain["results"] == [0, 0]
    into_file, into_null = records
    assert into_file["stdout_note"] == "read back from the file"
    assert into_file["stdout_bytes"] == len("to the file DB_PASSWORD=hunter2")
    assert into_file["stdout_tail"] == "to the file DB_PASSWORD=***"
    assert into_null["stdout_note"] == "seekable, not a regular file: not read back"
    assert into_null["stdout_bytes"] is None
    assert into_null["stdout_tail"] is None


# --- failures -------------------------------------------------------------------

FAILING_BODY = """
for command in ["exit 5", "true", "kill -TERM $$"]:
    results.append(os.system(command))
report()
"""


def unwritable(tmp_path: Path, kind: str) -> Tuple[str, List[str]]:
    """An audit path that cannot be written, and a prefix for the child's command line."""
    if kind == "missing directory":
        return str(tmp_path / "no" / "such" / "dir" / "audit.jsonl"), []
    if kind == "a directory":
        return str(tmp_path), []
    if kind == "full disk":
        if not os.path.exists("/dev/full"):
            pytest.skip("no /dev/full here")
        return "/dev/full", []
    if kind == "a FIFO without reader":
        fifo = tmp_path / "fifo"
        os.mkfifo(fifo)
        return str(fifo), []
    assert kind == "permission denied"
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    if os.geteuid() != 0:
        return str(locked / "audit.jsonl"), []
    # root writes anywhere, unless the child runs without the capabilities
    # that let it override file permissions.
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root and setpriv is not installed")
    return str(locked / "audit.jsonl"), [setpriv, "--bounding-set=-dac_override,-dac_read_search"]


@pytest.mark.parametrize(
    "kind",
    ["missing directory", "a directory", "full disk", "a FIFO without reader", "permission denied"],
)
@pytest.mark.parametrize("warnings_mode", ["default", "error"])
def test_unwritable_audit_file(tmp_path: Path, kind: str, warnings_mode: str) -> None:
    """An audit file that cannot be written: one warning on stderr, and every call runs and returns its status."""
    path, prefix = unwritable(tmp_path, kind)
    workdir = tmp_path / "work"
    workdir.mkdir()
    script = write_script(workdir, FAILING_BODY)
    outcomes = []
    for options in (None, {"audit": path}):
        env = {"AUDIT_TEST_OPTIONS": json.dumps(options)} if options else {}
        proc = subprocess.run(
            [*prefix, sys.executable, str(script)],
            env=child_env(PYTHONWARNINGS=warnings_mode, **env),
            cwd=str(workdir),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            universal_newlines=True,
            timeout=30,
            check=False,
        )
        outcomes.append((result_of(proc)["results"], proc.stderr))
    (plain, plain_err), (shimmed, shim_err) = outcomes
    assert shimmed == plain
    assert plain_err == ""
    assert shim_err.count("cannot write the audit file") == 1, shim_err
    assert len(shim_err.strip().splitlines()) <= 2, shim_err  # the warning and its source line
    if warnings_mode == "error":
        assert shim_err.startswith("shim: warning: ")
    else:
        assert "ShimWarning" in shim_err
        assert f"{script}:" in shim_err  # attributed to the caller's line
    if kind == "permission denied":
        assert "Permission denied" in shim_err


# --- in-process checks of the writer --------------------------------------------


@pytest.fixture
def fresh_warnings() -> Any:
    """Forget which warnings this process already gave, and restore that afterwards."""
    saved = set(warn._ONCE.keys)
    warn._ONCE.keys.clear()
    yield
    warn._ONCE.keys.clear()
    warn._ONCE.keys.update(saved)
    shim.uninstall()


def test_warning_is_a_shim_warning_in_process(tmp_path: Path, fresh_warnings: Any) -> None:
    """In the calling process the failure is a ShimWarning, given once, and os.system still returns."""
    shim.install(audit=str(tmp_path / "missing" / "audit.jsonl"))
    with pytest.warns(ShimWarning, match="cannot write the audit file") as caught:
        statuses = [os.system("exit 3"), os.system("exit 4")]
    shim.uninstall()
    assert statuses == [3 << 8, 4 << 8]
    assert len(caught) == 1
    assert caught[0].filename == __file__


def test_record_that_cannot_be_serialised_is_contained(tmp_path: Path, fresh_warnings: Any) -> None:
    """A failure while building the record is one warning; the status is unchanged."""
    from shim._runtime.call import Call

    call = Call(b"true")
    call.status = 0
    call.duration = float("nan")  # JSON refuses NaN
    session = Session(Settings(audit=str(tmp_path / "audit.jsonl")))
    with pytest.warns(ShimWarning, match="could not record"):
        session.publish(call)
    assert not (tmp_path / "audit.jsonl").exists() or (tmp_path / "audit.jsonl").read_bytes() == b""


def test_relative_path_is_fixed_at_installation(tmp_path: Path) -> None:
    """A relative audit path names the file in the directory the shim was installed from."""
    body = """
    import shim
    shim.install(audit="audit.jsonl")
    os.mkdir("sub")
    os.chdir("sub")
    os.system(": from sub")
    report()
    """
    result_of(run_script(write_script(tmp_path, body)))
    assert [r["command"] for r in read_records(tmp_path / "audit.jsonl")] == [": from sub"]
    assert not (tmp_path / "sub" / "audit.jsonl").exists()


# --- a hostile path, a program that reuses descriptors, a writer that cannot keep up ------------

ONE_CALL_BODY = """
results.append(os.system("exit 3"))
results.append(os.system("true"))
report()
"""


def plain_and_refused(tmp_path: Path, path: Path) -> str:
    """Run two calls plain and with ``audit=path``: same statuses, and the shim's stderr."""
    workdir = tmp_path / "work"
    workdir.mkdir(exist_ok=True)
    script = write_script(workdir, ONE_CALL_BODY)
    plain = run_script(script)
    shimmed = run_script(script, options={"audit": str(path)})
    assert result_of(shimmed)["results"] == result_of(plain)["results"] == [3 << 8, 0]
    assert plain.stderr == ""
    assert shimmed.stderr.count("cannot write the audit file") == 1, shimmed.stderr
    return shimmed.stderr


def test_symlink_at_the_path_is_not_followed(tmp_path: Path) -> None:
    """A symlink planted at the audit path is refused (O_NOFOLLOW): one warning, the target untouched."""
    target = tmp_path / "target"
    target.write_bytes(b"")
    target.chmod(0o600)
    link = tmp_path / "audit.jsonl"
    link.symlink_to(target)
    err = plain_and_refused(tmp_path, link)
    assert "symbolic link" in err
    assert target.read_bytes() == b""


def test_dangling_symlink_creates_nothing(tmp_path: Path) -> None:
    """A symlink to a file that does not exist yet does not create it."""
    link = tmp_path / "audit.jsonl"
    link.symlink_to(tmp_path / "created-through-the-link")
    plain_and_refused(tmp_path, link)
    assert not (tmp_path / "created-through-the-link").exists()


@pytest.mark.parametrize("mode", [0o666, 0o620, 0o602])
def test_file_writable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    """An existing file that group or others can write is refused, and left as it was."""
    path = tmp_path / "audit.jsonl"
    path.write_bytes(b"")
    path.chmod(mode)
    err = plain_and_refused(tmp_path, path)
    assert "writable by" in err
    assert path.read_bytes() == b""


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a file to another user")
@pytest.mark.parametrize("kind", ["file", "FIFO"])
def test_file_of_another_user_is_refused(tmp_path: Path, kind: str) -> None:
    """A file (or FIFO) pre-created by another user, even 0600, never receives the records."""
    path = tmp_path / "audit.jsonl"
    if kind == "FIFO":
        os.mkfifo(path)
        reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    else:
        path.write_bytes(b"")
    os.chown(path, 65534, 65534)
    path.chmod(0o600)
    try:
        err = plain_and_refused(tmp_path, path)
        if kind == "FIFO":
            try:
                data = os.read(reader, 100)
            except BlockingIOError:  # a writer still has it open
                data = b""
            assert data == b""
    finally:
        if kind == "FIFO":
            os.close(reader)
    assert "owned by uid 65534" in err
    if kind == "file":
        assert path.read_bytes() == b""


def test_file_with_other_hard_links_is_refused(tmp_path: Path) -> None:
    """A file that has another name too (a hard link someone made) is refused."""
    path = tmp_path / "audit.jsonl"
    path.write_bytes(b"")
    path.chmod(0o600)
    os.link(path, tmp_path / "elsewhere")
    err = plain_and_refused(tmp_path, path)
    assert "hard link" in err
    assert path.read_bytes() == b""


def test_descriptor_is_high_and_close_on_exec(tmp_path: Path) -> None:
    """The audit descriptor sits far above the program's own numbers and is not inherited."""
    audit = tmp_path / "audit.jsonl"
    body = f"""
    import fcntl
    os.system("true")
    fds = [int(fd) for fd in os.listdir("/proc/self/fd")
           if os.path.realpath("/proc/self/fd/" + fd) == {str(audit)!r}]
    results.append(fds)
    results.append([fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC for fd in fds])
    report()
    """
    result = result_of(run_script(write_script(tmp_path, body), options={"audit": str(audit)}))
    (fd,), flags = result["results"]
    assert fd >= 64
    assert flags == [fcntl.FD_CLOEXEC]


NUMBERING_BODY = """
if sys.argv[1] == "stdin closed":
    os.close(0)
os.system("true")
results.append(os.open(os.devnull, os.O_RDONLY))
os.system("true")
results.append(os.open(os.devnull, os.O_RDONLY))
report()
"""


@pytest.mark.parametrize("situation", ["stdin closed", "stdin open"])
def test_program_descriptor_numbers_are_unchanged(tmp_path: Path, situation: str) -> None:
    """The program's next open() gets the number it gets without the shim (fd 0 when stdin is closed)."""
    outcomes = []
    script = write_script(tmp_path, NUMBERING_BODY)
    for options in (None, {"audit": str(tmp_path / "audit.jsonl")}):
        proc = subprocess.run(
            [sys.executable, str(script), situation],
            env=child_env(**({"AUDIT_TEST_OPTIONS": json.dumps(options)} if options else {})),
            cwd=str(tmp_path),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            universal_newlines=True,
            timeout=60,
            check=False,
        )
        outcomes.append(result_of(proc)["results"])
    assert outcomes[0] == outcomes[1]
    assert len(read_records(tmp_path / "audit.jsonl")) == 2


@pytest.mark.parametrize("how", ["its own file, r+", "the audit file itself, r+", "read-only"])
def test_descriptor_taken_over_by_the_program(tmp_path: Path, how: str) -> None:
    """The program puts a file of its own at the shim's number: never written, and records still arrive."""
    audit = tmp_path / "audit.jsonl"
    other = tmp_path / "other.txt"
    other.write_bytes(b"the program's own data\n")
    body = f"""
    from shim._runtime import lifecycle
    os.system(": one")
    fd = lifecycle._LIFECYCLE.handler.session.audit.fd
    how = {how!r}
    if how == "read-only":
        mine = os.open({str(other)!r}, os.O_RDONLY)
    elif how == "its own file, r+":
        mine = os.open({str(other)!r}, os.O_RDWR)
    else:
        mine = os.open({str(audit)!r}, os.O_RDWR)
    os.dup2(mine, fd)
    os.close(mine)
    os.system(": two")
    results.append(os.lseek(fd, 0, os.SEEK_CUR))
    report()
    """
    result = result_of(run_script(write_script(tmp_path, body), options={"audit": str(audit)}))
    assert result["results"] == [0]
    assert other.read_bytes() == b"the program's own data\n"
    assert [r["command"] for r in read_records(audit)] == [": one", ": two"]


def test_stalled_fifo_reader_never_blocks_a_call(tmp_path: Path) -> None:
    """A FIFO whose reader stopped reading: every call returns at once, records are dropped, one warning."""
    fifo = tmp_path / "audit.fifo"
    os.mkfifo(fifo, 0o600)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        body = """
        import time
        started = time.monotonic()
        for i in range(60):
            # Records of ~6 KB: the pipe (64 KiB) is full after ten of them.
            results.append(os.system(": " + str(i) + " " + "x" * 6000))
        report(seconds=time.monotonic() - started)
        """
        script = write_script(tmp_path, body)
        proc = run_script(script, options={"audit": str(fifo)}, timeout=60)
        result = result_of(proc)
        assert result["results"] == [0] * 60
        assert proc.stderr.count("cannot write the audit file") == 1, proc.stderr
        data = b""
        while True:
            try:
                chunk = os.read(reader, 1 << 20)
            except BlockingIOError:
                break
            if not chunk:
                break
            data += chunk
    finally:
        os.close(reader)
    lines = data.split(b"\n")
    whole = [json.loads(line) for line in lines if line.startswith(b"{") and line.endswith(b"}")]
    assert whole, "the first records fit in the pipe"
    # A record cut by the full pipe never has the next record glued to it.
    assert all(line.count(b'{"v":') <= 1 for line in lines)


def test_torn_record_does_not_swallow_the_next(tmp_path: Path) -> None:
    """A record cut short (file size limit: EFBIG mid-write) is terminated; the next good record is whole."""
    audit = tmp_path / "audit.jsonl"
    body = f"""
    import resource
    os.system(": first")
    size = os.path.getsize({str(audit)!r})
    old = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size + 100, old[1]))
    os.system(": torn " + "x" * 1000)
    resource.setrlimit(resource.RLIMIT_FSIZE, old)
    os.system(": second")
    report()
    """
    proc = run_script(write_script(tmp_path, body), options={"audit": str(audit)})
    result_of(proc)
    assert proc.stderr.count("cannot write the audit file") == 1, proc.stderr
    lines = audit.read_bytes().split(b"\n")
    assert lines[-1] == b""
    assert json.loads(lines[0])["command"] == ": first"
    assert json.loads(lines[-2])["command"] == ": second"
    assert len(lines) == 4  # first, the torn one on a line of its own, second
