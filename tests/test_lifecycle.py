"""The lifecycle under threads, signals, fork, uninstall and shutdown, on the paths users take.

Every program here is a fresh interpreter whose *first* ``os.system`` calls
are the ones under test, switched on with ``SHIM_ENABLE=1`` (the start-up
hook of the installed package), ``import shim.auto`` or ``shim run``, and
compared with the same program under plain ``os.system``.
"""

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

import activation

#: Python 3.8 and later raise audit events: the Popen count below needs them.
AUDIT_HOOKS = hasattr(sys, "addaudithook")

#: Activation paths that go through the start-up placeholder.
FIRST_CALL_PATHS = ("env", "auto", "run")

MODES: Dict[str, Dict[str, Any]] = {
    "default": {},
    "tee": {"capture": "tee"},
    "audit": {"audit": "AUDIT"},
}

#: Counts the subprocess.Popen audit events of the child: plain os.system
#: raises none, the shim raises one per command it runs itself.
PRELUDE = textwrap.dedent(
    """
    import json, os, sys, threading
    _popens = []
    # The hook is defined in a namespace of its own: Python 3.8 and 3.9 keep
    # audit hooks, and so their functions' globals, until after modules are
    # torn down, so a hook defined here would keep every global of the
    # program alive at shutdown (no __del__ would run).
    _hook_globals = {"_popens": _popens}
    exec('''
    def _count(name, args):
        # A command the shim runs (it passes bytes), not the program's own
        # Popen, nor capture's helper that takes over a pipe still held by
        # another process (see capture.py).
        if name != "subprocess.Popen" or not isinstance(args[1], list) or not args[1]:
            return
        last = args[1][-1]
        if isinstance(last, bytes) and b"command -p cat" not in last:
            _popens.append(1)
    ''', _hook_globals)
    if hasattr(sys, "addaudithook"):
        sys.addaudithook(_hook_globals["_count"])
    def report(**data):
        data["popens"] = len(_popens)
        with open(os.environ["RESULT"], "w") as f:
            json.dump(data, f)
    """
)


def run_program(
    path: str,
    settings: Dict[str, Any],
    body: str,
    tmp_path: Path,
    *,
    timeout: float = 60,
    extra_env: Optional[Dict[str, str]] = None,
) -> Dict[str, Any]:
    """Run ``PRELUDE + body`` switched on by ``path``; return its report, stdout, stderr and status."""
    if path in ("env", "run"):
        activation.require_installed()
    result = tmp_path / f"result-{path}.json"
    if result.exists():
        result.unlink()
    resolved = {k: (str(tmp_path / f"audit-{path}.jsonl") if v == "AUDIT" else v) for k, v in settings.items()}
    argv, variables = activation.command(path, resolved, PRELUDE + textwrap.dedent(body))
    env = activation.clean_env()
    env.update(variables)
    env["RESULT"] = str(result)
    env.update(extra_env or {})
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=tmp_path, timeout=timeout, check=False)
    data: Dict[str, Any] = json.loads(result.read_text()) if result.exists() else {}
    data["stdout"] = proc.stdout.decode("utf-8", "replace")
    data["stderr"] = proc.stderr.decode("utf-8", "replace")
    data["exit"] = proc.returncode
    data["audit"] = resolved.get("audit")
    return data


def audit_records(data: Dict[str, Any]) -> List[Dict[str, Any]]:
    path = data["audit"]
    if path is None or not Path(path).exists():
        return []
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


# --- first calls from many threads ---------------------------------------------------------

THREADS_BODY = """
N = {n}
barrier = threading.Barrier(N)
statuses = [None] * N
def worker(i):
    barrier.wait()
    statuses[i] = os.system("exit %d" % (i % 7))
threads = [threading.Thread(target=worker, args=(i,)) for i in range(N)]
[t.start() for t in threads]
[t.join() for t in threads]
report(statuses=statuses)
"""


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("path", FIRST_CALL_PATHS)
@pytest.mark.parametrize("n", [8, 32, 64])
def test_first_calls_from_many_threads(n: int, path: str, mode: str, tmp_path: Path) -> None:
    """N threads make the process's first os.system calls at once: every one goes through the shim.

    Statuses equal plain os.system's, nothing is printed, each call runs its
    command through the shim (one Popen each) and, with an audit file, leaves
    exactly one record.
    """
    body = THREADS_BODY.format(n=n)
    plain = run_program("plain", {}, body, tmp_path)
    shimmed = run_program(path, MODES[mode], body, tmp_path)
    assert shimmed["stderr"] == plain["stderr"] == ""
    assert shimmed["exit"] == plain["exit"] == 0
    assert shimmed["statuses"] == plain["statuses"] == [(i % 7) << 8 for i in range(n)]
    if AUDIT_HOOKS:
        assert shimmed["popens"] == n
    if mode == "audit":
        records = audit_records(shimmed)
        assert len(records) == n
        assert sorted(r["command"] for r in records) == sorted(f"exit {i % 7}" for i in range(n))


# --- signals whose handlers call os.system --------------------------------------------------

#: Another process sends SIGUSR1 and SIGHUP to the program without pause,
#: each as soon as the handler of the one before has run (so that the
#: handlers, which call os.system, never fall behind and nest without end,
#: with the shim or without).  A signal from another process lands at any
#: moment, also in the few microseconds where a call swaps handlers; a
#: thread of the program could not send one then, it would wait for the GIL.
#: No-op handlers on every real-time signal make that swap last longer, as
#: in a program that handles many signals.
STORM_SENDER = """
import os, select, signal, sys
target, ack, ready = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
os.write(ready, b"r")
while True:
    for sig in (signal.SIGUSR1, signal.SIGHUP):
        try:
            os.kill(target, sig)
        except ProcessLookupError:
            sys.exit(0)
        if not select.select([ack], [], [], 20)[0] or not os.read(ack, 1):
            sys.exit(0)
"""

STORM_BODY = """
import signal, subprocess, time
handled = {"USR1": [], "HUP": []}
ack_r, ack_w = os.pipe()
done = []
def on_usr1(signum, frame):
    handled["USR1"].append(os.system("exit 4"))
    if not done:
        os.write(ack_w, b"u")
def on_hup(signum, frame):
    handled["HUP"].append(os.system(": hup"))
    if not done:
        os.write(ack_w, b"h")
for sig in range(signal.SIGRTMIN, signal.SIGRTMAX + 1):
    signal.signal(sig, lambda *args: None)
signal.signal(signal.SIGUSR1, on_usr1)
signal.signal(signal.SIGHUP, on_hup)
first = [os.system("true")] if AFTER_FIRST_CALL else []
ready_r, ready_w = os.pipe()
sender = subprocess.Popen([sys.executable, "-c", os.environ["SENDER"], str(os.getpid()), str(ack_r),
                           str(ready_w)], pass_fds=[ack_r, ready_w])
os.read(ready_r, 1)  # the storm starts with the first call
statuses = first + [os.system("exit %d" % (i % 3)) for i in range(CALLS)]
# On a loaded machine the storm can be thin: go on until both handlers have
# run ten times (their calls are counted, not compared one by one).
extra = 0
deadline = time.monotonic() + 60
while min(len(v) for v in handled.values()) < 10 and time.monotonic() < deadline:
    os.system("exit 0")
    extra += 1
done.append(True)
sender.kill(); sender.wait()
report(statuses=statuses, extra=extra, handled={k: sorted(set(v)) for k, v in handled.items()},
       ran={k: len(v) for k, v in handled.items()})
"""


@pytest.mark.parametrize("after_first_call", [False, True], ids=["storm during activation", "storm after"])
@pytest.mark.parametrize("mode", ["default", "audit"])
@pytest.mark.parametrize("path", FIRST_CALL_PATHS)
def test_signal_storm_with_handlers_that_call_os_system(
    path: str, mode: str, after_first_call: bool, tmp_path: Path
) -> None:
    """Signals arrive without pause while the main thread calls os.system, and their handlers call it too.

    The program completes (no deadlock), every handler runs, the statuses
    equal plain os.system's, and every call, the handlers' included, goes
    through the shim: a storm during the first call's activation does not
    switch the shim off.
    """
    calls = 200
    body = STORM_BODY.replace("AFTER_FIRST_CALL", str(after_first_call)).replace("CALLS", str(calls))
    sender = {"SENDER": STORM_SENDER}
    plain = run_program("plain", {}, body, tmp_path, timeout=120, extra_env=sender)
    shimmed = run_program(path, MODES[mode], body, tmp_path, timeout=120, extra_env=sender)
    assert shimmed["stderr"] == plain["stderr"] == ""
    assert shimmed["exit"] == plain["exit"] == 0
    expected = [0] * after_first_call + [(i % 3) << 8 for i in range(calls)]
    assert shimmed["statuses"] == plain["statuses"] == expected
    assert shimmed["handled"] == plain["handled"] == {"USR1": [4 << 8], "HUP": [0]}
    handler_calls = shimmed["ran"]["USR1"] + shimmed["ran"]["HUP"]
    assert shimmed["ran"]["USR1"] >= 10
    assert shimmed["ran"]["HUP"] >= 10
    if AUDIT_HOOKS:
        assert shimmed["popens"] == len(expected) + shimmed["extra"] + handler_calls
    if mode == "audit":
        assert len(audit_records(shimmed)) == len(expected) + shimmed["extra"] + handler_calls


# --- fork ---------------------------------------------------------------------------------------


def same_but_pids(text: str) -> str:
    """``text`` with process ids replaced, for comparing two runs' messages."""
    return re.sub(r"pid=\d+", "pid=N", text)


FORK_BODY = """
import signal, time
for name in ("started", "child.json"):
    if os.path.exists(name):
        os.unlink(name)
def on_usr1(signum, frame):
    pass
signal.signal(signal.SIGUSR1, on_usr1)
child = {}
def forker():
    # Fork once the main thread is inside os.system, waiting for its
    # command: forking while it holds a lock of its own (in Thread.start,
    # say) can hang the child with or without the shim.
    while not os.path.exists("started"):
        time.sleep(0.01)
    pid = os.fork()
    if pid == 0:
        status = os.system("exit 5")
        ok = (signal.getsignal(signal.SIGUSR1) is on_usr1
              and signal.getsignal(signal.SIGINT) is signal.default_int_handler)
        with open("child.json", "w") as f:
            json.dump({"status": status, "handlers_restored": ok}, f)
        os._exit(0)
    _, child["wait"] = os.waitpid(pid, 0)
thread = threading.Thread(target=forker)
thread.start()
outer = os.system(": > started; sleep 0.8; exit 2")
thread.join()
with open("child.json") as f:
    child.update(json.load(f))
report(outer=outer, child=child, parent_handler=signal.getsignal(signal.SIGUSR1) is on_usr1)
"""


@pytest.mark.parametrize("path", FIRST_CALL_PATHS)
def test_fork_from_a_thread_while_the_main_thread_is_in_a_call(path: str, tmp_path: Path) -> None:
    """fork() from a thread while the main thread waits in os.system, then os.system in the child.

    The child's call returns what plain gives, and afterwards the child's
    signal handlers are its own again (not the ones the parent's call had
    swapped in: Ctrl-C would be swallowed forever).
    """
    plain = run_program("plain", {}, FORK_BODY, tmp_path)
    shimmed = run_program(path, {"audit": "AUDIT"}, FORK_BODY, tmp_path)
    # Python 3.12+ warns about fork() in a multi-threaded process, naming its pid.
    assert same_but_pids(shimmed["stderr"]) == same_but_pids(plain["stderr"])
    expected = {"outer": 2 << 8, "child": {"wait": 0, "status": 5 << 8, "handlers_restored": True},
                "parent_handler": True}
    assert {k: plain[k] for k in expected} == expected
    assert {k: shimmed[k] for k in expected} == expected
    commands = sorted(r["command"] for r in audit_records(shimmed))
    assert commands == [": > started; sleep 0.8; exit 2", "exit 5"]


# --- uninstall during a call --------------------------------------------------------------------

UNINSTALL_BODY = """
import time, shim
audit = os.environ["AUDIT_FILE"]
shim.install(audit=audit)
def audit_fds():
    found = []
    for name in os.listdir("/proc/self/fd"):
        try:
            if os.readlink("/proc/self/fd/" + name) == audit:
                found.append(int(name))
        except OSError:
            pass
    return found
results = {}
def worker():
    results["status"] = os.system("sleep 0.5; exit 6")
thread = threading.Thread(target=worker)
thread.start()
time.sleep(0.2)
shim.uninstall()
thread.join()
results["open_after"] = audit_fds()
results["after_uninstall"] = os.system("exit 1")
report(**results)
"""


def test_uninstall_while_another_thread_is_in_a_call(tmp_path: Path) -> None:
    """shim.uninstall() while another thread is inside a call.

    That call completes normally and records itself; afterwards no
    descriptor of the audit file is open, and later calls are plain.
    """
    audit = tmp_path / "audit.jsonl"
    shimmed = run_program("install", {}, UNINSTALL_BODY, tmp_path, extra_env={"AUDIT_FILE": str(audit)})
    assert shimmed["stderr"] == ""
    assert shimmed["status"] == 6 << 8
    assert shimmed["after_uninstall"] == 1 << 8
    assert shimmed["open_after"] == []
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    assert [r["command"] for r in records] == ["sleep 0.5; exit 6"]


# --- interpreter shutdown -----------------------------------------------------------------------

SHUTDOWN_BODY = """
import atexit
class Late:
    # Bound now: the module's globals may be gone when this runs.
    def __del__(self, system=os.system, write=os.write):
        write(1, b"del %d\\n" % system("exit 3"))
keep = Late()          # a module global: collected while the interpreter shuts down
def at_exit():
    os.write(1, b"atexit %d\\n" % os.system("echo from-atexit; exit 2"))
atexit.register(at_exit)
report(started=True)
"""


@pytest.mark.parametrize("path", FIRST_CALL_PATHS)
def test_os_system_during_interpreter_shutdown(path: str, tmp_path: Path) -> None:
    """os.system from atexit and from __del__ at shutdown behaves as plain.

    The output and the exit status are plain's, and nothing extra appears
    on stderr; the atexit call, made while the interpreter is still whole,
    is recorded.
    """
    plain = run_program("plain", {}, SHUTDOWN_BODY, tmp_path)
    shimmed = run_program(path, {"audit": "AUDIT"}, SHUTDOWN_BODY, tmp_path)
    assert plain["stdout"] == "from-atexit\natexit 512\ndel 768\n"
    assert shimmed["stdout"] == plain["stdout"]
    assert shimmed["stderr"] == plain["stderr"] == ""
    assert shimmed["exit"] == plain["exit"] == 0
    commands = [r["command"] for r in audit_records(shimmed)]
    assert commands[:1] == ["echo from-atexit; exit 2"]


def test_activation_paths_really_switch_the_shim_on(tmp_path: Path) -> None:
    """Each activation path used above runs its calls through the shim (a test that cannot fail proves nothing)."""
    body = "os.system('true'); report()"
    assert audit_records(run_program("plain", {"audit": "AUDIT"}, body, tmp_path)) == []
    for path in FIRST_CALL_PATHS:
        records = audit_records(run_program(path, {"audit": "AUDIT"}, body, tmp_path))
        assert [r["command"] for r in records] == ["true"], path
