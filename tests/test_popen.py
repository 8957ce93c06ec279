"""``os.popen`` under the shim: plain and shimmed side by side, and the record of each call.

The differential cases run like those of ``test_differential.py`` (fresh
interpreters, every mode, every activation path) and compare what the
program reads from or writes to the stream, what ``close()`` returns, the
type of the object, the bytes on fds 1 and 2 and the ``subprocess.Popen``
audit events.
"""

import json
import pickle
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Dict, List

import pytest
from shim._common import platform

from assumptions import needs_tools
from conftest import child_env, shared_dir
from differential import MODES, Case, compare, run
from test_differential import _fresh, sort_lines

#: Defined in the child before each case: ``popen_call`` opens a stream,
#: uses it, closes it and notes everything it saw; the audit hook notes the
#: subprocess.Popen events and their arguments.
HELPERS = textwrap.dedent(
    """
    _popen_events, _popen_args = [], []

    def _popen_hook(name, args):
        if name == "subprocess.Popen":
            _popen_events.append(name)
            _popen_args.append(repr(args))

    if hasattr(_sys, "addaudithook"):
        _sys.addaudithook(_popen_hook)

    def popen_call(*args, use="read", data=None, **kwargs):
        seen = {}
        try:
            f = _os.popen(*args, **kwargs)
            seen["type"] = type(f).__module__ + "." + type(f).__qualname__
            if use == "read":
                seen["read"] = f.read()
            elif use == "lines":
                seen["lines"] = list(f)
            elif use == "readline":
                seen["readline"] = [f.readline(), f.readline()]
            elif use == "write":
                seen["wrote"] = f.write(data)
            seen["close"] = f.close()
            seen["closed"] = f.closed
        except BaseException as exc:
            seen["raise"] = [type(exc).__name__, str(exc)]
        _results.append(seen)
        note("popen_events", _popen_events)
        note("popen_args", _popen_args)
        return seen
    """
)


def digits(data: bytes) -> bytes:
    """Numbers (pids, descriptors) replaced: they differ between any two runs."""
    return re.sub(rb"\d+", b"N", data)


def unclosed_in_a_cycle(data: bytes) -> bytes:
    """:func:`digits`, and the unclosed object the collector names: the stream or its file.

    Which of the two the cyclic collector finalizes first depends on the
    objects in the cycle; with an audit file the shim watches the stream's
    process, one more object (documented in the fidelity page).
    """
    data = digits(data)
    return re.sub(rb"unclosed file <_io\.(FileIO|TextIOWrapper) [^>]*>", b"unclosed file <the stream>", data)


def open_at_exit(data: bytes) -> bytes:
    """:func:`digits`, as a set of lines, without the warnings of a stream finalized at exit.

    The command's stderr and Python's warnings interleave in any order; a
    stream still open at exit may be finalized while warnings still print
    (always on Python 3.7, sometimes elsewhere: docs/fidelity.md), which
    repeats lines already there and adds one ``sys:N:`` line.
    """
    lines = set()
    for written in digits(data).splitlines():
        if b"ResourceWarning: unclosed file" in written:
            # Where the warning says it comes from: the code that dropped
            # the stream, or "sys"/"<sys>" when it is finalized at exit.
            written = written[written.index(b"ResourceWarning"):]  # noqa: PLW2901
        lines.add(written)
    return b"\n".join(sorted(lines))


def popen_case(name: str, code: str, **options: Any) -> Case:
    case = Case(name, HELPERS + textwrap.dedent(code), **options)
    case.name = name
    return case


CASES: List[Case] = [
    # --- reading ---------------------------------------------------------------------------------
    popen_case("read whole", "popen_call('printf \"a\\\\nb\\\\n\"')"),
    popen_case("read by lines", "popen_call('seq 5', use='lines')"),
    # seq writes its lines at once (a builtin printf may write line by line, and
    # then gets SIGPIPE or not depending on when the reader closed).
    popen_case("readline", "popen_call('seq 3', use='readline')"),
    popen_case("mode r given", "popen_call('echo r', 'r'); popen_call('echo kw', mode='r', buffering=-1)"),
    popen_case("keyword cmd", "popen_call(cmd='echo keyword')"),
    popen_case("large output", "note('len', len(popen_call('seq 100000').pop('read')))"),
    popen_case("unicode and surrogateescape", "popen_call('printf \"h\\u00e9\\\\n\"'); popen_call('echo \\udcff | od -An -c')"),
    popen_case("dollar zero", "popen_call('echo $0')"),
    popen_case(
        "environment",
        "os.environ['T_POPEN'] = 'v'; os.putenv('T_PUT', 'p'); seen = popen_call('env', use='lines')\n"
        # The variables that switched the shim on are the user's, not the shim's doing.
        "seen['lines'] = [line for line in seen['lines'] if not line.startswith('SHIM_')]",
    ),
    popen_case("working directory", "os.mkdir('sub'); os.chdir('sub'); popen_call('pwd')"),
    popen_case("stderr passes through", "popen_call('echo out; echo err >&2')"),
    # --- writing ----------------------------------------------------------------------------------
    popen_case("write to cat", "popen_call('cat', 'w', use='write', data='fed to cat\\n')"),
    popen_case("write to a failing command", "popen_call('cat >/dev/null; exit 4', 'w', use='write', data='x')"),
    popen_case(
        "write line buffered",
        "import time\nf = os.popen('cat', 'w', 1)\nf.write('first\\n'); time.sleep(0.3)\n"
        "os.write(1, b'between\\n'); note('close', f.close())",
    ),
    popen_case("write then read back", "popen_call('cat > out.txt', 'w', use='write', data='kept\\n'); note('file', open('out.txt').read())"),
    # --- statuses ----------------------------------------------------------------------------------
    popen_case("exit codes", "for code in (0, 1, 2, 127, 255): popen_call('exit %d' % code)"),
    popen_case("command not found", "popen_call('no_such_command_xyz')"),
    popen_case("program not found", "popen_call('/no/such/program arg')"),
    popen_case("syntax error", "popen_call('if then')"),
    popen_case("killed by a signal", "popen_call('kill -TERM $$'); popen_call('kill -KILL $$')"),
    popen_case(
        "program killed by a signal",
        "open('k', 'w').write('#!/bin/sh\\nkill -TERM $$\\n'); os.chmod('k', 0o755); popen_call('./k')",
    ),
    popen_case("reader closes early", "f = os.popen('yes'); note('line', f.readline()); note('close', f.close())"),
    popen_case(
        "script without #! line",
        "open('s', 'w').write('echo from-script\\nexit 3\\n'); os.chmod('s', 0o755); popen_call('./s')",
    ),
    # --- closing -------------------------------------------------------------------------------------
    popen_case(
        "close in with",
        "with os.popen('echo in-with; exit 2') as f:\n    note('read', f.read())\n"
        "note('closed', f.closed); note('close again', f.close())",
    ),
    popen_case("with in write mode", "with os.popen('cat', 'w') as f:\n    f.write('via with\\n')\nnote('closed', f.closed)"),
    popen_case(
        "never closed",
        "import warnings; warnings.simplefilter('always')\n"
        "import time; kept = os.popen('echo kept; echo kept-err >&2'); time.sleep(0.3)\n"
        "def lose():\n    os.popen('echo lost-err >&2').read()\nlose()\n"
        "import gc; gc.collect()\n",
        normalize=open_at_exit,
    ),
    popen_case(
        "never closed, in a reference cycle",
        "import gc, time, warnings, subprocess; warnings.simplefilter('always')\n"
        "class Holder: pass\n"
        "h = Holder(); h.me = h; h.f = os.popen('echo cycle >&2; exit 5'); time.sleep(0.3)\n"
        "del h; gc.collect()\n"
        # The Popen got its status in its finalizer: subprocess keeps no child to wait for.
        "note('active', len(subprocess._active))\n"
        "popen_call('echo after')",
        normalize=unclosed_in_a_cycle,
    ),
    # Three shells run at once: the order of their lines is theirs.
    popen_case(
        "garbage collected unread",
        "import gc\nfor i in range(3):\n    os.popen('echo %d >&2' % i).close\ngc.collect()",
        normalize=sort_lines,
    ),
    # --- threads -----------------------------------------------------------------------------------
    popen_case(
        "from threads",
        "import threading\nout = {}\n"
        "def work(i):\n    f = os.popen('echo thread-%d; exit %d' % (i, i % 3))\n    out[i] = [f.read(), f.close()]\n"
        "threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]\n"
        "[t.start() for t in threads]; [t.join() for t in threads]\n"
        "note('out', sorted(out.items()))",
    ),
    # --- arguments os.popen refuses ---------------------------------------------------------------
    popen_case(
        "refused arguments",
        "popen_call(1); popen_call(b'echo'); popen_call('echo', 'rb'); popen_call('echo', buffering=0)\n"
        "popen_call('echo', buffering=None); popen_call('a\\0b'); popen_call('\\ud800')\n"
        "popen_call(); popen_call('echo', 'r', -1, 1); popen_call('echo', shell=True)",
    ),
]


def _popen_ids() -> List[str]:
    return [case.name for case in CASES]


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize(
    "case",
    [pytest.param(c, marks=pytest.mark.xdist_group(f"popen{i}")) for i, c in enumerate(CASES)],
    ids=_popen_ids(),
)
def test_same_as_plain_os_popen(
    case: Case, mode: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The shim gives the program exactly what plain os.popen gives it."""
    with shared_dir(tmp_path_factory, f"popen-{CASES.index(case)}") as shared:
        workdir = shared / "workdir"
        cached = shared / "plain.pickle"
        if cached.exists():
            plain = pickle.loads(cached.read_bytes())
        else:
            plain = run(case, None, str(_fresh(workdir)))
            cached.write_bytes(pickle.dumps(plain))
        shimmed = run(case, mode, str(_fresh(workdir)))
    assert plain["completed"], f"the case did not run to its end: {plain['stderr']!r}"
    if MODES[mode].get("shell") == "auto":
        # A program run without the shell is audited as what runs (its argv),
        # and one that cannot be executed directly is then run by the shell:
        # one event more (docs/fidelity.md, "Known differences").
        plain_events = plain["notes"].pop("popen_events", [])
        shim_events = shimmed["notes"].pop("popen_events", [])
        assert len(plain_events) <= len(shim_events) <= 2 * len(plain_events)
        plain["notes"].pop("popen_args", None)
        shimmed["notes"].pop("popen_args", None)
    problems = compare(case, plain, shimmed)
    assert not problems, "\n".join(problems)
    assert shimmed["active"], f"the shim was not active ({shimmed['path']} path)"


def test_cases_exercise_os_popen() -> None:
    """Every case opens a stream with os.popen."""
    assert all("popen" in case.code.replace(HELPERS, "") for case in CASES)
    assert len({case.name for case in CASES}) == len(CASES)


# -- the records ----------------------------------------------------------------------------------


def _records(tmp_path: Path, code: str, **settings: Any) -> List[Dict[str, Any]]:
    audit = tmp_path / "audit.jsonl"
    options = ", ".join(f"{key}={value!r}" for key, value in {"audit": str(audit), **settings}.items())
    program = f"import os, shim\nshim.install({options})\n" + textwrap.dedent(code)
    proc = subprocess.run(
        [sys.executable, "-c", program],
        cwd=tmp_path,
        env=child_env(PWD=str(tmp_path)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    if not audit.exists():
        return []
    return [json.loads(line) for line in audit.read_text().splitlines()]


def test_one_record_per_call_with_function_mode_status_and_end(tmp_path: Path) -> None:
    """Each os.popen call gets one record naming the function, its mode, its status and how it ended."""
    records = _records(
        tmp_path,
        """
        f = os.popen('echo hi; exit 3'); f.read(); f.close()
        with os.popen('cat >/dev/null', 'w') as g:
            g.write('x')
        os.popen('kill -KILL $$').close()
        import time
        def lose():
            f = os.popen('true'); f.read(); time.sleep(0.2)
        lose()
        kept = os.popen('sleep 5 2>/dev/null')
        done = os.popen('true')
        time.sleep(0.3)
        os.system('exit 1')
        """,
    )
    seen = [
        (r["function"], r["command"], r["popen_mode"], r["status"], r["end"], r["outcome"])
        for r in records
    ]
    assert seen == [
        ("os.popen", "echo hi; exit 3", "r", 3 << 8, "close", "ran"),
        ("os.popen", "cat >/dev/null", "w", 0, "close", "ran"),
        ("os.popen", "kill -KILL $$", "r", 9, "close", "ran"),
        ("os.popen", "true", "r", 0, "collected", "ran"),
        ("os.system", "exit 1", None, 1 << 8, None, "ran"),
        ("os.popen", "sleep 5 2>/dev/null", "r", None, "exit", "unfinished"),
        ("os.popen", "true", "r", 0, "exit", "ran"),
    ]
    assert [r["site"]["line"] for r in records[:4]] == [4, 5, 7, 10]
    assert records[2]["signal"] == 9
    assert records[0]["suggestion"].startswith("subprocess.Popen('echo hi; exit 3', shell=True, stdout=")


def test_stream_in_a_reference_cycle_is_recorded(tmp_path: Path) -> None:
    """A stream collected by the cyclic collector gets its record, with its status, once."""
    records = _records(
        tmp_path,
        """
        import gc, time
        class Holder: pass
        h = Holder(); h.me = h; h.f = os.popen('exit 5'); time.sleep(0.3)
        del h; gc.collect()
        os.system('true')
        """,
    )
    # From Python 3.15 the collector runs Popen's finalizer before it clears the
    # weak reference to the stream: the record cannot tell that nobody closed
    # it, says "close", and is written at once (docs/audit.md).
    late = sys.version_info < (3, 15)
    assert sorted((r["function"], r["status"], r["end"]) for r in records) == [
        ("os.popen", 5 << 8, "collected" if late else "close"),
        ("os.system", 0, None),
    ]


def test_duration_runs_from_open_to_close(tmp_path: Path) -> None:
    """The duration of an os.popen call is the time its stream was open, not only the start."""
    records = _records(tmp_path, "f = os.popen('true'); import time; time.sleep(0.4); f.close()")
    assert records[0]["duration_ms"] >= 400


def test_secrets_masked_in_popen_records(tmp_path: Path) -> None:
    """Redaction applies to os.popen records as to every other."""
    records = _records(tmp_path, "os.popen('curl -u admin:hunter2 http://x/ 2>/dev/null').close()")
    assert "hunter2" not in json.dumps(records)


def test_shell_auto_runs_a_simple_command_directly(tmp_path: Path) -> None:
    """With shell="auto" a command that needs no shell runs without /bin/sh, with the same result."""
    records = _records(
        tmp_path,
        """
        f = os.popen('seq 2'); assert f.read() == '1\\n2\\n'; assert f.close() is None
        g = os.popen('echo $HOME'); g.read(); g.close()
        """,
        shell="auto",
    )
    # BusyBox ash would start the program with SIGQUIT ignored, which only the
    # main thread's os.system can arrange: os.popen keeps the shell there.
    direct = platform.shell().kind != "busybox"
    expected = [(False, ["seq", "2"]) if direct else (True, None), (True, None)]
    assert [(r["shell"], r["argv"]) for r in records] == expected


def test_shell_never_refuses_with_shell_required_error(tmp_path: Path) -> None:
    """With shell="never" a command that needs a shell raises ShellRequiredError and runs nothing."""
    records = _records(
        tmp_path,
        """
        from shim.exceptions import ShellRequiredError
        try:
            os.popen('echo x > never.txt')
        except ShellRequiredError as exc:
            assert isinstance(exc, OSError)
        else:
            raise AssertionError('not refused')
        assert not os.path.exists('never.txt')
        f = os.popen('seq 1'); assert f.read() == '1\\n'; f.close()
        """,
        shell="never",
    )
    assert [(r["outcome"], r["function"], r["status"]) for r in records] == [
        ("refused", "os.popen", None),
        ("ran", "os.popen", 0),
    ]


def test_log_record_names_os_popen(tmp_path: Path) -> None:
    """The shim logger's record of an os.popen call says os.popen, its mode and its status."""
    program = (
        "import logging, os, shim\nlogging.basicConfig(level=logging.INFO, format='%(message)s')\n"
        "shim.install()\nos.popen('exit 2', 'w').close()\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", program], env=child_env(), stderr=subprocess.PIPE,
        universal_newlines=True, check=False,
    )
    assert re.search(r"os\.popen\('exit 2', 'w'\) ended with status 512 \(exit code 2, closed\)", proc.stderr)


def test_uninstall_restores_os_popen_and_rebound_globals(tmp_path: Path) -> None:
    """install() wraps os.popen and rebinds `from os import popen`; uninstall() puts both back."""
    program = textwrap.dedent(
        """
        import os, shim
        from os import popen
        # In a list: a module global holding os.popen would be rebound too.
        original = [os.popen]
        shim.install()
        assert os.popen is not original[0] and popen is os.popen
        assert type(os.popen('true')).__name__ == '_wrap_close'
        shim.uninstall()
        assert os.popen is original[0] and popen is original[0]
        print('ok')
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", program], env=child_env(), stdout=subprocess.PIPE,
        universal_newlines=True, check=False,
    )
    assert proc.stdout == "ok\n"


def test_another_wrapt_wrapper_on_os_popen_stays_in_front(tmp_path: Path) -> None:
    """A wrapt wrapper put on os.popen before install keeps running, and the shim records the call."""
    records = _records(
        tmp_path,
        """
        import shim, wrapt
        shim.uninstall()
        seen = []
        def outer(wrapped, instance, args, kwargs):
            seen.append(args[0])
            return wrapped(*args, **kwargs)
        wrapt.wrap_function_wrapper(os, 'popen', outer)
        shim.install(audit='audit.jsonl')
        os.popen('echo wrapped').close()
        assert seen == ['echo wrapped'], seen
        shim.uninstall()
        os.popen('echo after').close()
        assert seen == ['echo wrapped', 'echo after'], seen
        """,
    )
    assert [r["command"] for r in records] == ["echo wrapped"]


# -- the report -------------------------------------------------------------------------------------


@needs_tools
def test_report_lists_popen_sites_beside_system_sites(tmp_path: Path) -> None:
    """shim report groups os.popen calls by site next to os.system ones, each with its replacement."""
    from shim._tools import cli

    (tmp_path / "app.py").write_text(
        "import os\n"
        "def main():\n"
        "    for _ in range(3):\n"
        "        os.system('true')\n"
        "        listing = os.popen('ls -a').read()\n"
        "    for line in os.popen('printf \"a\\\\nb\\\\n\"'):\n"
        "        pass\n"
        "    os.system(os.popen('echo true').read())\n"
        "main()\n"
    )
    _records(tmp_path, "import runpy; runpy.run_path('app.py')")
    out = tmp_path / "report.json"
    assert cli.main(["report", str(tmp_path / "audit.jsonl"), "--source-root", str(tmp_path),
                     "--format", "json", "-o", str(out)]) == 0
    document = json.loads(out.read_text())
    sites = {(s["line"], s["called"]): s for s in document["sites"]}
    assert sorted(sites) == [(4, "os.system"), (5, "os.popen"), (6, "os.popen"), (8, "os.popen"), (8, "os.system")]
    assert sites[(5, "os.popen")]["calls"] == 3
    assert sites[(5, "os.popen")]["suggestion"].startswith(
        "subprocess.run(['ls', '-a'], stdout=subprocess.PIPE, text=True, check=False).stdout"
    )
    assert sites[(6, "os.popen")]["suggestion"].startswith(
        "subprocess.Popen('printf \"a\\\\nb\\\\n\"', shell=True, stdout=subprocess.PIPE, text=True).stdout"
    )
    assert sites[(8, "os.popen")]["source"] == sites[(8, "os.system")]["source"]
    assert sites[(8, "os.popen")]["suggestion"].startswith("subprocess.run('echo true', shell=True, stdout=")
    assert sites[(8, "os.system")]["suggestion"].startswith("subprocess.run(os.popen(")
    assert document["summary"]["functions"] == {
        "os.system": {"sites": 2, "calls": 4},
        "os.popen": {"sites": 3, "calls": 5},
    }


@needs_tools
def test_report_counts_unfinished_popen_calls(tmp_path: Path) -> None:
    """A stream still running at exit is a call of its site, neither failed nor with a status."""
    from shim._tools import cli

    _records(tmp_path, "kept = os.popen('sleep 3 2>/dev/null')")
    out = tmp_path / "report.json"
    assert cli.main(["report", str(tmp_path / "audit.jsonl"), "--format", "json", "-o", str(out)]) == 0
    (site,) = json.loads(out.read_text())["sites"]
    assert (site["called"], site["calls"], site["failures"]) == ("os.popen", 1, 0)
    assert [s["status"] for s in site["statuses"]] == ["unfinished"]


def test_opentelemetry_sees_os_popen_calls(tmp_path: Path) -> None:
    """With SHIM_OTEL, an os.popen call is a span named os.popen, ending when its stream is closed."""
    from differential import OTEL, OTEL_SETUP

    if not OTEL:
        pytest.skip("the OpenTelemetry SDK is not installed for this Python")
    program = OTEL_SETUP + textwrap.dedent(
        """
        import json, os, shim, time
        shim.install(otel=True)
        f = os.popen('exit 3'); time.sleep(0.2); f.close()
        os.system('true')
        from shim._runtime import telemetry
        telemetry.flush()  # the spans are made by the shim's telemetry thread
        _otel_provider.force_flush()
        print(json.dumps([
            [s.name, dict(s.attributes), (s.end_time - s.start_time) / 1e9]
            for s in _otel_spans.get_finished_spans()
        ]))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", program], env=child_env(), stdout=subprocess.PIPE,
        universal_newlines=True, check=False,
    )
    spans = json.loads(proc.stdout.splitlines()[-1])
    assert [(name, attributes["shim.function"]) for name, attributes, _ in spans] == [
        ("os.popen", "os.popen"),
        ("os.system", "os.system"),
    ]
    _, attributes, seconds = spans[0]
    assert (attributes["shim.status"], attributes["shim.popen_mode"], attributes["shim.end"]) == (768, "r", "close")
    assert seconds >= 0.2
