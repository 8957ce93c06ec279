"""capture="tee": the command's output still reaches fds 1 and 2 as with plain os.system.

Every behaviour runs twice in fresh interpreters, once with plain
``os.system`` and once with the shim in tee mode, and what the outside world
sees (bytes on the descriptors, the statuses, timings, files) is compared.
What the shim kept (``shim._runtime.capture.result``) is read in the child through a
wrapper around ``stdio_for`` and written to a JSON file at exit.

The tee modes: ``tee`` copies in the calling thread (it is given the
child's pid and uses a pidfd), ``tee-thread`` has the copy thread forced, so
both ways of copying are covered whatever the runner passes to the hooks.
"""

import errno
import fcntl
import json
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import textwrap
import time
from typing import Any, Dict, List, Optional, Tuple

import pytest

from assumptions import status_of_a_command_killed_by
from conftest import child_env

pytestmark = pytest.mark.skipif(os.name != "posix", reason="tee capture is POSIX only")

TEE_MODES: Dict[str, Dict[str, Any]] = {
    "tee": {"capture": "tee"},
    "tee-thread": {"capture": "tee", "thread": True},
}

PRELUDE = textwrap.dedent(
    """
    import atexit, json, os, sys
    _path = os.environ.pop("TEE_RESULT")
    _mode = json.loads(os.environ.pop("TEE_MODE"))
    _data = {"status": [], "captured": [], "notes": {}}
    _tees = []
    if _mode is not None:
        import shim, shim._runtime.capture as _cap
        if _mode.pop("thread", False):
            _cap._HAS_PIDFD = False
        else:
            # A runner that does not give spawned() the child's pid would
            # leave the copy thread in charge: hand it the pid here, so that
            # copying in the calling thread is what these runs exercise.
            import subprocess, threading, types, shim._runtime.runner as _runner
            _local = threading.local()
            class _Popen(subprocess.Popen):
                def __init__(self, *args, **kwargs):
                    super().__init__(*args, **kwargs)
                    _local.pid = self.pid
            _runner.subprocess = types.SimpleNamespace(Popen=_Popen)
            _spawned = _cap.Tee.spawned
            def _with_pid(self, pid=None):
                _spawned(self, pid if pid is not None else getattr(_local, "pid", None))
            _cap.Tee.spawned = _with_pid
        _stdio_for = _cap.stdio_for
        def _record(settings):
            stdio = _stdio_for(settings)
            _tees.append(stdio)
            return stdio
        _cap.stdio_for = _record
        shim.install(**_mode)

    def call(command):
        status = os.system(command)
        _data["status"].append(status)
        return status

    def note(key, value):
        _data["notes"][key] = value

    def _dump():
        for stdio in _tees:
            kept = _cap.result(stdio)
            row = None
            if kept is not None:
                row = {}
                for name in kept.__slots__:
                    value = getattr(kept, name)
                    row[name] = value.decode("latin-1") if isinstance(value, bytes) else value
            _data["captured"].append(row)
        with open(_path, "w") as f:
            json.dump(_data, f)

    atexit.register(_dump)
    """
)


class Child:
    """A child interpreter running ``PRELUDE`` + code, plain or shimmed."""

    def __init__(self, code: str, mode: Optional[Dict[str, Any]], **popen: Any) -> None:
        fd, self.result_path = tempfile.mkstemp(prefix="tee-", suffix=".json")
        os.close(fd)
        env = child_env(TEE_RESULT=self.result_path, TEE_MODE=json.dumps(mode))
        # Block-buffered sys.stdout on a pipe, as a program normally has it.
        env.pop("PYTHONUNBUFFERED", None)
        env.update(popen.pop("env", {}))
        self.proc = subprocess.Popen(
            [sys.executable, "-c", PRELUDE + textwrap.dedent(code)],
            env=env,
            **popen,
        )

    def result(self) -> Dict[str, Any]:
        with open(self.result_path) as f:
            text = f.read()
        os.unlink(self.result_path)
        data: Dict[str, Any] = json.loads(text) if text else {}
        return data


def run_both(
    code: str,
    mode: Dict[str, Any],
    *,
    timeout: float = 60,
    stdin: bytes = b"",
    parallel: bool = False,
    **popen: Any,
) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """Run ``code`` plain and then shimmed (or both at once); give both outcomes.

    Each outcome has ``stdout``/``stderr`` bytes (``None`` when not a pipe),
    ``exit``, and what the child recorded (``status``, ``captured``, ``notes``).
    With ``cwd``, each run gets a fresh directory of its own under it.
    """
    popen.setdefault("stdout", subprocess.PIPE)
    popen.setdefault("stderr", subprocess.PIPE)
    popen.setdefault("stdin", subprocess.PIPE)
    base = popen.pop("cwd", None)
    key = (code, repr(sorted(popen.items())), stdin)
    outcomes: List[Dict[str, Any]] = []
    started: List[Child] = []

    def finish(child: Child) -> None:
        out, err = child.proc.communicate(stdin if popen["stdin"] == subprocess.PIPE else None, timeout=timeout)
        outcome = child.result()
        outcome.update(stdout=out, stderr=err, exit=child.proc.returncode)
        outcomes.append(outcome)

    runs: List[Tuple[str, Optional[Dict[str, Any]]]] = [("plain", None), ("shim", dict(mode))]
    if not parallel and key in _plain_runs:
        outcomes.append(_plain_runs[key])
        runs = runs[1:]
    for name, child_mode in runs:
        options = dict(popen)
        if base is not None:
            options["cwd"] = os.path.join(str(base), name)
            os.mkdir(options["cwd"])
        started.append(Child(code, child_mode, **options))
        if not parallel:
            finish(started[-1])
    if parallel:
        for child in started:
            finish(child)
    else:
        _plain_runs[key] = outcomes[0]
    return outcomes[0], outcomes[1]


# The plain run of a situation does not depend on the mode: made once per session.
_plain_runs: Dict[Any, Dict[str, Any]] = {}


def assert_same(plain: Dict[str, Any], shimmed: Dict[str, Any], *keys: str) -> None:
    for key in keys or ("stdout", "stderr", "status", "exit", "notes"):
        assert shimmed[key] == plain[key], f"{key}: plain={plain[key]!r} shim={shimmed[key]!r}"


def captured(outcome: Dict[str, Any], index: int = -1) -> Dict[str, Any]:
    row: Dict[str, Any] = outcome["captured"][index]
    return row


@pytest.fixture(params=list(TEE_MODES), ids=list(TEE_MODES))
def mode(request: pytest.FixtureRequest) -> Dict[str, Any]:
    """Both ways of copying: for behaviours that depend on how the output is copied."""
    return TEE_MODES[request.param]


@pytest.fixture
def tee() -> Dict[str, Any]:
    """Tee as installed: for behaviours decided before any copying (what is captured at all)."""
    return TEE_MODES["tee"]


# --- fds 1 and 2 on one file ---------------------------------------------------------------------

ALTERNATE = "call('i=0; while [ $i -lt 300 ]; do echo out$i; echo err$i >&2; i=$((i+1)); done; printf end')"


def test_merged_pipe_keeps_interleaving(mode: Dict[str, Any]) -> None:
    """With 2>&1 onto a pipe, a command alternating stdout and stderr writes comes out in the same order."""
    plain, shimmed = run_both(ALTERNATE, mode, stderr=subprocess.STDOUT)
    assert_same(plain, shimmed)
    assert plain["stdout"].startswith(b"out0\nerr0\nout1\nerr1\n")
    kept = captured(shimmed)
    assert kept["merged"] is True
    assert kept["stdout_bytes"] == len(plain["stdout"])
    assert kept["stderr_bytes"] is None


@pytest.mark.parametrize(
    "redirect",
    [
        "fd = os.open('out.txt', os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600); os.dup2(fd, 1); os.dup2(fd, 2)",
        (
            "a = os.open('out.txt', os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600); os.dup2(a, 1)\n"
            "b = os.open('out.txt', os.O_WRONLY | os.O_APPEND); os.dup2(b, 2)"
        ),
    ],
    ids=["one-description", "two-appending-descriptions"],
)
def test_merged_file_keeps_interleaving(tee: Dict[str, Any], redirect: str, tmp_path: Any) -> None:
    """fds 1 and 2 on one file (2>&1, or >>f 2>>f) receive exactly the bytes and order plain os.system gives."""
    code = f"{redirect}\n{ALTERNATE}\nnote('file', open('out.txt', 'rb').read().decode('latin-1'))"
    plain, shimmed = run_both(code, tee, cwd=str(tmp_path))
    assert_same(plain, shimmed)
    assert plain["notes"]["file"].startswith("out0\nerr0\nout1\n")
    assert captured(shimmed)["merged"] is True


def test_separate_streams_are_kept_apart(mode: Dict[str, Any]) -> None:
    """Different files on fds 1 and 2 get their own bytes, and each tail holds its own stream."""
    plain, shimmed = run_both(ALTERNATE, mode)
    assert_same(plain, shimmed)
    kept = captured(shimmed)
    assert kept["merged"] is False
    assert kept["stdout_bytes"] == len(plain["stdout"])
    assert kept["stderr_bytes"] == len(plain["stderr"])


# --- terminals -----------------------------------------------------------------------------------

TTY_CODE = """
import time
call('test -t 0; echo in=$?; test -t 1; echo out=$?; test -t 2; echo err=$? >&2; stty size; tput cols 2>/dev/null || true')
"""


def _run_on_pty(code: str, mode: Optional[Dict[str, Any]], *, stderr_pipe: bool = False) -> Tuple[bytes, Dict[str, Any]]:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 77, 0, 0))
    child = Child(
        code,
        mode,
        stdin=slave,
        stdout=slave,
        stderr=subprocess.PIPE if stderr_pipe else slave,
        start_new_session=True,
        env={"TERM": "xterm"},
    )
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if not ready:
            if child.proc.poll() is not None:
                break
            continue
        try:
            data = os.read(master, 65536)
        except OSError as exc:  # EIO: every slave end is closed
            if exc.errno != errno.EIO:
                raise
            break
        if not data:
            break
        chunks.append(data)
    err = b""
    if child.proc.stderr is not None:
        err = child.proc.stderr.read()
        child.proc.stderr.close()
    child.proc.wait(timeout=30)
    os.close(master)
    outcome = child.result()
    outcome["stderr"] = err
    return b"".join(chunks), outcome


def test_terminal_is_handed_to_the_command(tee: Dict[str, Any]) -> None:
    """On a terminal the command still sees a terminal: test -t, stty size and tput give what they give plain."""
    plain_out, plain = _run_on_pty(TTY_CODE, None)
    shim_out, shimmed = _run_on_pty(TTY_CODE, tee)
    assert shim_out == plain_out
    assert b"out=0" in plain_out
    assert b"err=0" in plain_out
    assert b"33 77" in plain_out
    assert shimmed["status"] == plain["status"]
    kept = captured(shimmed)
    assert kept["stdout_note"] == "terminal"
    assert kept["stderr_note"] == "terminal"
    assert kept["stdout_bytes"] is None
    assert kept["stderr_bytes"] is None


def test_terminal_stdout_pipe_stderr(tee: Dict[str, Any]) -> None:
    """fd 1 on a terminal stays a terminal while fd 2, a pipe, is captured."""
    code = "call('test -t 1; echo out=$?; test -t 2; echo err=$? >&2')"
    plain_out, plain = _run_on_pty(code, None, stderr_pipe=True)
    shim_out, shimmed = _run_on_pty(code, tee, stderr_pipe=True)
    assert (shim_out, shimmed["stderr"]) == (plain_out, plain["stderr"])
    assert plain["stderr"] == b"err=1\n"
    kept = captured(shimmed)
    assert kept["stdout_note"] == "terminal"
    assert kept["stderr_tail"] == "err=1\n"


# --- background processes ------------------------------------------------------------------------


@pytest.mark.slow
def test_background_process_does_not_hold_up_the_call(mode: Dict[str, Any]) -> None:
    """`sleep & echo started` returns as fast as plain; the late output still arrives, in the same order."""
    code = """
    import time
    t0 = time.monotonic()
    call('(sleep 3; echo late) & echo started')
    note('seconds', time.monotonic() - t0)
    print('python after', flush=True)
    try:
        os.wait()
        note('children', 'found one')
    except ChildProcessError:
        note('children', 'none')
    """
    plain, shimmed = run_both(code, mode, parallel=True)
    assert shimmed["notes"]["seconds"] < plain["notes"]["seconds"] + 2
    assert shimmed["notes"]["children"] == plain["notes"]["children"] == "none"
    assert_same(plain, shimmed, "stdout", "stderr", "status", "exit")
    assert plain["stdout"] == b"started\npython after\nlate\n"
    kept = captured(shimmed)
    assert kept["stdout_tail"] == "started\n"
    assert "background" in kept["stdout_note"]


def test_background_process_writing_without_pause(mode: Dict[str, Any]) -> None:
    """A background process that never stops writing does not keep the call from returning."""
    code = """
    import time
    t0 = time.monotonic()
    call('yes | head -c 3000000 & echo started')
    note('fast', time.monotonic() - t0 < 2)
    """
    plain, shimmed = run_both(code, mode)
    # Whether `started` or the first `y` comes first is a race, in plain as well.
    assert sorted(shimmed["stdout"].splitlines()) == sorted(plain["stdout"].splitlines())
    assert_same(plain, shimmed, "stderr", "status", "exit", "notes")
    assert plain["notes"] == {"fast": True}
    assert len(plain["stdout"]) == len("started\n") + 3000000


# --- closed descriptors and readers that go away -------------------------------------------------


@pytest.mark.parametrize(
    "closing",
    ["os.close(1)", "os.close(2)", "os.close(1); os.close(2)", "os.close(0); os.close(1)"],
    ids=["fd1", "fd2", "fd1-fd2", "fd0-fd1"],
)
def test_closed_descriptor_stays_closed(tee: Dict[str, Any], closing: str, tmp_path: Any) -> None:
    """A closed fd 1 or 2 is closed for the command too: it meets the same error, the other stream arrives."""
    code = f"""
    log = os.open('log', os.O_WRONLY | os.O_CREAT, 0o600)
    os.dup2(log, 9)
    os.close(log)
    {closing}
    call('echo to-out; echo out=$? >&9; echo to-err >&2; echo err=$? >&9; ls /proc/self/fd | tr "\\n" " " >&9')
    note('log', open('log').read())
    """
    plain, shimmed = run_both(code, tee, cwd=str(tmp_path))
    assert_same(plain, shimmed)
    assert "out=" in plain["notes"]["log"]


def _through_head(code: str, mode: Optional[Dict[str, Any]]) -> Tuple[bytes, bytes, Dict[str, Any]]:
    """Run ``python -c code | head -1``; give head's output, the program's stderr and its record."""
    fd, result = tempfile.mkstemp()
    os.close(fd)
    env = child_env(
        TEE_RESULT=result, TEE_MODE=json.dumps(mode), CODE=PRELUDE + textwrap.dedent(code), PY=sys.executable
    )
    proc = subprocess.run(
        ["/bin/sh", "-c", '"$PY" -c "$CODE" | head -1'], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=60, check=False
    )
    with open(result) as f:
        data: Dict[str, Any] = json.load(f)
    os.unlink(result)
    return proc.stdout, proc.stderr, data


@pytest.mark.parametrize(
    "sigpipe",
    [
        "",
        "import signal; signal.signal(signal.SIGPIPE, signal.SIG_DFL)",
        "import signal; signal.signal(signal.SIGPIPE, lambda *a: note('handler ran', True))",
    ],
    ids=["ignored", "default", "handler"],
)
def test_reader_goes_away(mode: Dict[str, Any], sigpipe: str) -> None:
    """`python prog.py | head -1` where prog runs `yes`: yes meets EPIPE (or SIGPIPE), the program lives on."""
    code = f"{sigpipe}\ncall('yes')\nnote('alive', True)"
    plain_out, plain_err, plain = _through_head(code, None)
    shim_out, shim_err, shimmed = _through_head(code, mode)
    assert (shim_out, shim_err, shimmed["status"], shimmed["notes"]) == (
        plain_out,
        plain_err,
        plain["status"],
        plain["notes"],
    )
    assert plain_out == b"y\n"
    assert plain["notes"] == {"alive": True}
    if not sigpipe:
        assert b"Broken pipe" in plain_err
        assert plain["status"] == [1 << 8]
    else:
        # yes dies of SIGPIPE: dash reports 128 + 13, bash and ash exec yes
        # and the status is the signal's own.
        assert plain["status"] == [status_of_a_command_killed_by(signal.SIGPIPE)]


def test_reader_gone_before_the_call(tee: Dict[str, Any]) -> None:
    """A pipe whose reader has already gone gives the command EPIPE on its first write, as with plain."""
    code = """
    import select, time
    print('first', flush=True)
    poller = select.poll(); poller.register(1, select.POLLOUT)
    while not any(ev & select.POLLERR for _, ev in poller.poll(0)):
        time.sleep(0.01)
    call('echo a; echo status=$? >&2; echo b')
    """
    plain_out, plain_err, plain = _through_head(code, None)
    shim_out, shim_err, shimmed = _through_head(code, tee)
    assert (shim_out, shim_err, shimmed["status"]) == (plain_out, plain_err, plain["status"])
    assert b"status=" in plain_err
    assert b"status=0" not in plain_err
    assert shimmed["captured"][-1]["stdout_note"] == "reader gone"


# --- what goes through -----------------------------------------------------------------------------


def test_binary_and_carriage_returns(mode: Dict[str, Any], tmp_path: Any) -> None:
    """Binary bytes, \\r progress lines and output without a final newline come out byte for byte."""
    code = r"""
    call("printf '\\000\\001\\002\\377\\376 binary\\r10%%\\r50%%\\r100%%\\ndone, no newline'")
    call("printf 'err \\377\\r1\\r2' >&2")
    with open('blob', 'wb') as f:
        f.write(bytes(range(256)) * 700 + b'\xff\x00')
    call('cat blob; cat blob >&2')
    """
    plain, shimmed = run_both(code, mode, cwd=str(tmp_path))
    assert_same(plain, shimmed)
    assert plain["stdout"].startswith(b"\0\1\2\xff\xfe binary\r10%\r50%\r100%\ndone, no newline\0\1\2")
    first = captured(shimmed, 0)
    assert first["stdout_tail"].encode("latin-1") == plain["stdout"][: first["stdout_bytes"]]
    assert captured(shimmed, 1)["stderr_tail"] == "err \xff\r1\r2"
    blob = captured(shimmed, 2)
    assert blob["stdout_bytes"] == blob["stderr_bytes"] == 256 * 700 + 2
    assert blob["stdout_tail"] == blob["stderr_tail"] == (bytes(range(256)) * 700 + b"\xff\0")[-65536:].decode("latin-1")


def test_prompt_shows_before_the_command_waits(mode: Dict[str, Any]) -> None:
    """A prompt without newline reaches the reader before the command waits for the answer."""
    code = "call(\"printf 'name? '; read answer; echo \\\"hello $answer\\\"\")"
    outputs = []
    for child_mode in (None, mode):
        child = Child(code, child_mode, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert child.proc.stdout is not None
        assert child.proc.stdin is not None
        seen = b""
        deadline = time.monotonic() + 20
        while not seen.endswith(b"name? ") and time.monotonic() < deadline:
            ready, _, _ = select.select([child.proc.stdout], [], [], 0.2)
            if ready:
                data = os.read(child.proc.stdout.fileno(), 100)
                if not data:
                    break
                seen += data
        assert seen == b"name? ", "the prompt did not show before the answer was given"
        child.proc.stdin.write(b"bob\n")
        child.proc.stdin.close()
        rest = child.proc.stdout.read()
        child.proc.wait(timeout=20)
        child.proc.stdout.close()
        assert child.proc.stderr is not None
        child.proc.stderr.close()
        outputs.append((seen + rest, child.result()["status"]))
    assert outputs[1] == outputs[0] == (b"name? hello bob\n", [0])


def test_python_output_order(tee: Dict[str, Any]) -> None:
    """What Python printed and flushed comes before the command's output, the rest after (F7)."""
    code = """
    sys.stdout.write('flushed\\n'); sys.stdout.flush()
    sys.stdout.write('buffered\\n')
    call('echo command; echo command-err >&2')
    os.write(1, b'raw after\\n')
    """
    plain, shimmed = run_both(code, tee, stderr=subprocess.STDOUT)
    assert_same(plain, shimmed)
    assert plain["stdout"] == b"flushed\ncommand\ncommand-err\nraw after\nbuffered\n"


# --- what is kept ----------------------------------------------------------------------------------


def test_tail_and_counts(mode: Dict[str, Any]) -> None:
    """The last capture_limit bytes of each stream are kept, with the total counts; 0 keeps none."""
    code = """
    call("printf 0123456789abcdef; printf ERR-0123456789 >&2")
    call("head -c 300000 /dev/zero | tr '\\\\0' x; printf END")
    call("printf short")
    """
    plain, shimmed = run_both(code, {**mode, "capture_limit": 10})
    assert_same(plain, shimmed)
    first, big, short = shimmed["captured"]
    assert (first["stdout_bytes"], first["stdout_tail"]) == (16, "6789abcdef")
    assert (first["stderr_bytes"], first["stderr_tail"]) == (14, "0123456789")
    assert (big["stdout_bytes"], big["stdout_tail"]) == (300003, "xxxxxxxEND")
    assert (short["stdout_bytes"], short["stdout_tail"]) == (5, "short")
    _, none = run_both(code, {**mode, "capture_limit": 0})
    assert [c["stdout_bytes"] for c in none["captured"]] == [16, 300003, 5]
    assert [c["stdout_tail"] for c in none["captured"]] == ["", "", ""]


def test_default_limit_is_64_kib(tee: Dict[str, Any]) -> None:
    """Without capture_limit, the last 65536 bytes of each stream are kept."""
    code = "call('seq 100000')"
    plain, shimmed = run_both(code, tee)
    assert_same(plain, shimmed)
    kept = captured(shimmed)
    assert kept["stdout_bytes"] == len(plain["stdout"])
    assert kept["stdout_tail"].encode() == plain["stdout"][-65536:]


def test_capture_off_keeps_nothing() -> None:
    """With capture off there is no capture result and the descriptors are passed through."""
    plain, shimmed = run_both("call('echo hi')", {"capture": "off"})
    assert_same(plain, shimmed)
    assert shimmed["captured"] == [None]


def test_concurrent_calls_run_in_parallel(mode: Dict[str, Any]) -> None:
    """Calls from several threads run side by side, each command's output intact (F8)."""
    code = """
    import threading, time
    t0 = time.monotonic()
    threads = [threading.Thread(target=call, args=('sleep 0.5; echo thread%d; echo err%d >&2' % (i, i),)) for i in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    note('parallel', time.monotonic() - t0 < 1.5)
    """
    plain, shimmed = run_both(code, mode)
    for key in ("stdout", "stderr"):
        assert sorted(shimmed[key].splitlines()) == sorted(plain[key].splitlines())
    assert_same(plain, shimmed, "status", "exit", "notes")
    assert plain["notes"] == {"parallel": True}
    assert sorted(c["stdout_tail"] for c in shimmed["captured"]) == [f"thread{i}\n" for i in range(4)]


def test_no_descriptor_or_thread_left_behind(mode: Dict[str, Any]) -> None:
    """After the call the process has the same descriptors and threads as with plain os.system."""
    code = """
    import threading
    call('echo hi; echo there >&2')
    note('fds', sorted(os.listdir('/proc/self/fd')) if os.path.isdir('/proc/self/fd') else None)
    note('threads', threading.active_count())
    note('next fd', os.open(os.devnull, os.O_RDONLY))
    """
    plain, shimmed = run_both(code, mode)
    assert_same(plain, shimmed)


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs /proc/PID/task")
@pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="pidfds need Python 3.9+ on Linux")
def test_no_thread_while_the_command_runs() -> None:
    """Copying in the calling thread: while the command runs, the program has as many threads as plain."""
    plain, shimmed = run_both("call('ls /proc/$PPID/task | wc -l')", TEE_MODES["tee"])
    assert_same(plain, shimmed)
    assert plain["stdout"].strip() == b"1"
    # The copy thread starts once Popen has returned: give it a moment so
    # the count does not race its start.
    _, threaded = run_both("call('sleep 0.3; ls /proc/$PPID/task | wc -l')", TEE_MODES["tee-thread"])
    assert threaded["stdout"].strip() == b"2"


def test_setup_failure_runs_without_capture(tee: Dict[str, Any]) -> None:
    """When no pipe can be had (EMFILE), the command still runs and its output arrives, uncaptured."""
    code = """
    import resource
    fds = [int(n) for n in os.listdir('/proc/self/fd')]
    # Room for Popen's own pipe and little more: capture cannot get its pipes.
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(fds) + 3, max(fds) + 3))
    call('echo still runs; echo err >&2')
    """
    plain, shimmed = run_both(code, tee)
    assert_same(plain, shimmed)
    assert plain["stdout"] == b"still runs\n"
    kept = captured(shimmed)
    assert kept["stdout_bytes"] is None
    assert kept["stdout_note"].startswith("unavailable")


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs /proc/self/status")
def test_large_output_memory_stays_bounded(mode: Dict[str, Any]) -> None:
    """256 MiB through tee: every byte arrives, the count is exact, memory stays bounded."""
    size = 256 << 20
    # VmHWM, not ru_maxrss: a process started by vfork inherits its parent's
    # high-water mark in ru_maxrss, and the parent here is the test runner.
    code = f"""
    import resource
    call('head -c {size} /dev/zero')
    with open('/proc/self/status') as f:
        note('maxrss_kib', int([l.split()[1] for l in f if l.startswith('VmHWM:')][0]))
    """
    received = []
    outcomes = []
    for child_mode in (None, mode):
        child = Child(code, child_mode, stdout=subprocess.PIPE)
        assert child.proc.stdout is not None
        total = 0
        while True:
            data = child.proc.stdout.read1(1 << 20)  # type: ignore[attr-defined]
            if not data:
                break
            total += len(data)
        child.proc.stdout.close()
        child.proc.wait(timeout=120)
        received.append(total)
        outcomes.append(child.result())
    plain, shimmed = outcomes
    assert received == [size, size]
    assert shimmed["status"] == plain["status"] == [0]
    assert captured(shimmed)["stdout_bytes"] == size
    assert captured(shimmed)["stdout_tail"] == "\0" * 65536
    assert shimmed["notes"]["maxrss_kib"] < 100 * 1024
    assert shimmed["notes"]["maxrss_kib"] < plain["notes"]["maxrss_kib"] + 30 * 1024


# --- the hooks, driven by hand -----------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="pidfds need Python 3.9+ on Linux")
def test_copying_in_the_caller_with_a_pid(tmp_path: Any) -> None:
    """Given the child's pid, spawned() copies in the calling thread and returns once the child has exited."""
    code = """
    import json, os, subprocess, threading, time
    from shim._runtime import capture as _capture
    from shim._common.settings import Settings
    rows = []
    def run(command):
        tee = _capture.stdio_for(Settings(capture="tee", capture_limit=8))
        out, err = tee.child_fds()
        proc = subprocess.Popen(["/bin/sh", "-c", command], stdout=out, stderr=err, close_fds=False)
        tee.spawned(proc.pid)
        threads = threading.active_count()
        _, status = os.waitpid(proc.pid, 0)
        proc.returncode = status
        t0 = time.monotonic()
        tee.exited()
        kept = _capture.result(tee)
        rows.append([status, kept.stdout_bytes, kept.stdout_tail.decode(), kept.stderr_tail.decode(),
                     time.monotonic() - t0 < 0.5, threads])
    run("printf 'name? '; echo err >&2; sleep 0.2; printf 'more output'")
    run("(sleep 1; echo late) & echo started")
    with open("rows.json", "w") as f:
        json.dump(rows, f)
    """
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=child_env(),
        timeout=60,
        check=True,
        cwd=str(tmp_path),
    )
    rows = json.loads((tmp_path / "rows.json").read_text())
    assert rows == [[0, 17, "e output", "err\n", True, 1], [0, 8, "started\n", "", True, 1]]
    assert proc.stdout == b"name? more outputstarted\nlate\n"
    assert proc.stderr == b"err\n"


@pytest.mark.slow
def test_pytest_capfd_sees_the_output(tmp_path: Any) -> None:
    """pytest's capfd captures a shimmed os.system's output in every mode, as it does for plain os.system."""
    test_file = tmp_path / "test_capfd_client.py"
    test_file.write_text(
        textwrap.dedent(
            """
            import os
            import pytest
            import shim

            MODES = [None, {}, {"capture": "off"}, {"capture": "tee"}, {"capture": "tee", "capture_limit": 3},
                     {"shell": "auto"}, {"shell": "auto", "capture": "tee"}]

            @pytest.mark.parametrize("mode", MODES)
            def test_capfd(capfd, mode):
                if mode is not None:
                    shim.install(**mode)
                try:
                    status = os.system("echo out; echo err >&2; printf tail")
                    direct = os.system("/bin/echo direct")  # no shell needed: direct in auto mode
                finally:
                    shim.uninstall()
                out, err = capfd.readouterr()
                assert status == direct == 0
                assert out == "out\\ntaildirect\\n"
                assert err == "err\\n"
            """
        )
    )
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test_file)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=child_env(PWD=str(tmp_path)),
        cwd=str(tmp_path),
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()
    assert b"7 passed" in proc.stdout


def test_result_is_none_for_pass_through() -> None:
    """result() of the pass-through hooks (capture off) is None."""
    from shim._common.settings import Settings
    from shim._runtime import capture as _capture

    assert _capture.result(_capture.stdio_for(Settings())) is None
    assert isinstance(_capture.stdio_for(Settings(capture="tee")), _capture.Tee)


def test_signals_during_a_captured_call(mode: Dict[str, Any]) -> None:
    """SIGINT to the process group kills the command, not the caller, with capture on (F5)."""
    code = """
    import signal, threading, time
    fired = []
    signal.signal(signal.SIGALRM, lambda *a: fired.append('alarm'))
    signal.setitimer(signal.ITIMER_REAL, 0.2)
    call('echo start; sleep 0.5; echo end')
    note('alarm after call', fired)
    threading.Timer(0.3, lambda: os.killpg(0, signal.SIGINT)).start()
    call('echo before; sleep 3; echo not-reached')
    note('survived', True)
    """
    plain, shimmed = run_both(code, mode, start_new_session=True)
    assert_same(plain, shimmed)
    assert plain["status"] == [0, signal.SIGINT]
    assert plain["stdout"] == b"start\nend\nbefore\n"


# --- regular files and other seekable outputs -----------------------------------------------------

TO_FILE = "fd = os.open('out.txt', os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600); os.write(fd, b'before\\n'); os.dup2(fd, 1)\n"


def test_regular_file_is_handed_over_and_read_back(tee: Dict[str, Any], tmp_path: Any) -> None:
    """A file as fd 1 is the command's own fd 1; what the command appended is read back as the tail."""
    code = TO_FILE + (
        "call('printf \"hello token=s3cr3t\"; test -p /dev/stdout && echo pipe >&2 || echo file >&2')\n"
        "note('file', open('out.txt').read())"
    )
    plain, shimmed = run_both(code, tee, cwd=str(tmp_path))
    assert_same(plain, shimmed)
    assert plain["stderr"] == b"file\n"
    kept = captured(shimmed)
    assert kept["stdout_note"] == "read back from the file"
    assert kept["stdout_bytes"] == len("hello token=s3cr3t")
    assert kept["stdout_tail"] == "hello token=s3cr3t"
    assert kept["stdout_context"] == ""
    assert kept["stderr_tail"] == "file\n"


def test_read_back_is_bounded(tee: Dict[str, Any], tmp_path: Any) -> None:
    """However much the command appended, the tail and its context are all that is read back."""
    code = TO_FILE + "call('head -c 300000 /dev/zero | tr \"\\\\0\" y; printf END')"
    _, shimmed = run_both(code, {**tee, "capture_limit": 1000}, cwd=str(tmp_path))
    kept = captured(shimmed)
    assert kept["stdout_bytes"] == 300003
    assert len(kept["stdout_tail"]) == 1000
    assert kept["stdout_tail"].endswith("yyyEND")
    assert len(kept["stdout_context"]) == 4096


def test_file_for_both_streams_is_read_back_once(tee: Dict[str, Any], tmp_path: Any) -> None:
    """fds 1 and 2 on one appended file: read back once, in the order written, as stdout."""
    code = (
        "fd = os.open('log', os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600); os.dup2(fd, 1); os.dup2(fd, 2)\n"
        "call('echo out; echo err >&2; echo out2')"
    )
    plain, shimmed = run_both(code, tee, cwd=str(tmp_path))
    assert_same(plain, shimmed)
    kept = captured(shimmed)
    assert kept["merged"] is True
    assert kept["stdout_tail"] == "out\nerr\nout2\n"
    assert kept["stderr_bytes"] is None
    assert kept["stderr_note"] == "merged into stdout"


def test_file_truncated_during_the_call(tee: Dict[str, Any], tmp_path: Any) -> None:
    """A command that truncates its appended output file: nothing is read back, and the note says why."""
    code = (
        "fd = os.open('log', os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600); os.write(fd, b'x' * 100); os.dup2(fd, 1)\n"
        "call('echo new > /dev/stdout')\nnote('file', open('log').read())"
    )
    plain, shimmed = run_both(code, tee, cwd=str(tmp_path))
    assert_same(plain, shimmed)
    kept = captured(shimmed)
    assert kept["stdout_bytes"] is None
    assert "truncated" in kept["stdout_note"]


def test_dev_null_is_handed_over(tee: Dict[str, Any]) -> None:
    """/dev/null (seekable, not a regular file) is the command's fd 1, not captured, with a note."""
    code = (
        "fd = os.open(os.devnull, os.O_WRONLY); os.dup2(fd, 1)\n"
        "call('if test -c /dev/stdout; then echo char-device >&2; fi; echo gone')"
    )
    plain, shimmed = run_both(code, tee)
    assert_same(plain, shimmed)
    assert plain["stderr"] == b"char-device\n"
    kept = captured(shimmed)
    assert kept["stdout_bytes"] is None
    assert kept["stdout_note"] == "seekable, not a regular file: not read back"


def test_file_when_the_shell_cannot_start(tee: Dict[str, Any], tmp_path: Any) -> None:
    """A command too long for sh -c: plain's 127 << 8, and the file's count is 0, not missing."""
    code = TO_FILE + "call('echo ' + 'x' * 200000)"
    plain, shimmed = run_both(code, tee, cwd=str(tmp_path))
    assert_same(plain, shimmed)
    assert shimmed["status"] == [127 << 8]
    kept = captured(shimmed)
    assert (kept["stdout_bytes"], kept["stdout_tail"]) == (0, "")
