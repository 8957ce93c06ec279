"""``shim run``: run a program with the shim switched on through the environment.

The program replaces this process (``exec``), so its exit status and its
signals are its own; every Python process it starts, itself included,
installs the shim at start-up (``SHIM_ENABLE=1``) with the settings the
options give.  Every value is checked here, the same way the start-up hook
checks it, so a bad one is a usage error now rather than a warning in the
program later.
"""

import argparse
import contextlib
import errno
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Mapping

from shim._common import platform as _platform
from shim._common import redact as _redact
from shim._common import settings as _settings
from shim._tools.exits import EXIT_CANNOT_EXECUTE, EXIT_NOT_FOUND, UsageError, say

__all__ = ["register", "run", "run_environment"]

# Python ignores these at start-up; an exec'd program must get them back at
# their defaults, as ``subprocess`` does with ``restore_signals=True``.
_RESTORED_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGPIPE", "SIGXFSZ") if hasattr(signal, name)
)


def register(subparsers: "argparse._SubParsersAction[Any]") -> None:
    """Add the ``run`` subcommand."""
    parser = subparsers.add_parser(
        "run",
        help="run a program with the shim on, and its child Python processes too",
        description=(
            "Run PROGRAM with SHIM_ENABLE=1 and the SHIM_* variables the options give, so "
            "that every Python process it starts (itself included) routes os.system "
            "through the shim, provided shim is installed in that Python's environment. "
            "Options override SHIM_* variables already set; --redact adds to SHIM_REDACT. "
            "The program replaces this process, so its exit status and signals are its own."
        ),
        usage="shim run [options] -- PROGRAM [ARGUMENT ...]",
    )
    parser.add_argument(
        "--capture", metavar="{off,tee}", help="keep a bounded copy of each command's output"
    )
    parser.add_argument(
        "--capture-limit", metavar="N", help="bytes kept of each stream (default 65536)"
    )
    parser.add_argument(
        "--shell",
        metavar="{always,auto,never}",
        help="auto: skip /bin/sh where that changes nothing; never: refuse commands that need it",
    )
    parser.add_argument("--audit", metavar="FILE", help="append one JSON record per call to FILE")
    parser.add_argument(
        "--log",
        metavar="LEVEL",
        help="print the shim's log records to stderr at LEVEL (DEBUG, INFO, WARNING, ...)",
    )
    parser.add_argument(
        "--redact",
        metavar="PATTERN",
        action="append",
        default=[],
        help="a regular expression whose matches are masked in logs and audit records "
        "(repeat for more)",
    )
    parser.add_argument(
        "--otel",
        action="store_true",
        help="report each call to OpenTelemetry, set up from the OTEL_* variables "
        "(SHIM_OTEL=1)",
    )
    parser.add_argument(
        "--otel-propagate",
        action="store_true",
        help="with --otel: hand the trace context to each command in TRACEPARENT and "
        "TRACESTATE (SHIM_OTEL_PROPAGATE=1)",
    )
    parser.add_argument(
        "--no-check",
        action="store_true",
        help="start the program even where 'shim doctor' says the shim would not be active in it",
    )
    parser.add_argument("program", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """``shim run``: exec the program with the shim switched on through the environment."""
    program: List[str] = list(args.program)
    if program[:1] == ["--"]:
        program = program[1:]
    if not program:
        raise UsageError("run: no program given (usage: shim run [options] -- PROGRAM ...)")
    env = run_environment(args, os.environ)
    if not args.no_check:
        _check_program(program, env)
    return _execute(program, env)


def _check_program(program: List[str], env: Dict[str, str]) -> None:
    """Refuse to start a Python program in which the shim would not be active.

    Without the package in that interpreter (or with its start-up hook out
    of site's reach), the program would run unshimmed and leave no audit
    file: a silent no-op.  Programs that are not Python are started as they
    are: which Pythons they start is theirs to say.
    """
    from shim._tools import doctor

    found = doctor.python_of(program, env)
    if found is None:
        return
    python, options = found
    try:
        diagnosis = doctor.diagnose(python, options=options, environ=env)
    except UsageError:
        return  # it cannot even be asked: exec will report what is wrong
    if not diagnosis.active:
        raise UsageError(
            f"run: the shim would not be active in {python}: {diagnosis.cause}; "
            f"fix: {diagnosis.fix} (details: shim doctor --python {python}; "
            "--no-check starts it anyway)"
        )


def run_environment(args: argparse.Namespace, environ: Mapping[str, str]) -> Dict[str, str]:
    """Return the environment ``shim run`` gives the program, every value checked.

    Raises :class:`ShimError` (a :class:`ValueError`) naming the option, or
    the inherited variable, that has a bad value.
    """
    env = dict(environ)
    env["SHIM_ENABLE"] = "1"
    options = {
        "capture": ("--capture", args.capture),
        "capture_limit": ("--capture-limit", args.capture_limit),
        "shell": ("--shell", args.shell),
        "log": ("--log", args.log),
    }
    try:
        for key, (flag, value) in options.items():
            if value is not None:
                env[_settings.VARIABLES[key]] = str(_settings._CHECKS[key](flag, value))
    except ValueError as exc:
        raise UsageError(f"run: {exc}") from None
    if args.audit is not None:
        env["SHIM_AUDIT"] = _audit_path("--audit", args.audit)
    elif env.get("SHIM_AUDIT", "").strip():
        # The program may change directory before its first call: pin the
        # file the variable means here.
        env["SHIM_AUDIT"] = _audit_path("SHIM_AUDIT", env["SHIM_AUDIT"])
    for key in ("otel", "otel_propagate"):
        if getattr(args, key, False):
            env[_settings.VARIABLES[key]] = "1"
    if args.redact:
        inherited = [p for p in env.get("SHIM_REDACT", "").split(";") if p.strip()]
        env["SHIM_REDACT"] = ";".join([*inherited, *(_pattern(p) for p in args.redact)])
    try:
        values = _settings.from_env(env)
        # What activation does at the first call: a pattern that does not
        # compile there would leave the program unshimmed.
        _redact.compile_patterns(values.get("redact", ()))
    except ValueError as exc:
        raise UsageError(f"run: {exc} (from the environment)") from None
    return env


def _audit_path(name: str, value: str) -> str:
    """Return the audit file as an absolute path, after checking it can be created."""
    try:
        checked = str(_settings._CHECKS["audit"](name, value))
    except ValueError as exc:
        raise UsageError(f"run: {exc}") from None
    path = Path(os.path.abspath(checked))
    if path.is_dir():
        raise UsageError(f"run: {name}: {path} is a directory; give a file name")
    if not path.parent.is_dir():
        raise UsageError(f"run: {name}: directory {path.parent} does not exist")
    return str(path)


def _pattern(value: str) -> str:
    if not value:
        raise UsageError("run: --redact: the pattern is empty")
    if ";" in value:
        # SHIM_REDACT separates patterns with ';', so it cannot carry one.
        raise UsageError(
            f"run: --redact {value!r}: a pattern cannot contain ';' (write it as \\x3b)"
        )
    try:
        re.compile(value)
    except re.error as exc:
        raise UsageError(f"run: --redact {value!r}: not a regular expression: {exc}") from None
    return value


def _execute(program: List[str], env: Dict[str, str]) -> int:
    """Replace this process with ``program`` (POSIX), or run it and return its status."""
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()
    if _platform.IS_WINDOWS:
        return _spawn(program, env)
    saved = {sig: signal.getsignal(sig) for sig in _RESTORED_SIGNALS}
    for sig in _RESTORED_SIGNALS:
        signal.signal(sig, signal.SIG_DFL)
    try:
        os.execvpe(program[0], program, env)
    except OSError as exc:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
        return _cannot_start(program[0], exc)
    raise AssertionError("unreachable: exec returned")  # pragma: no cover


def _spawn(program: List[str], env: Dict[str, str]) -> int:
    """Run ``program`` as a child and wait (Windows has no exec that keeps the process)."""
    try:
        child = subprocess.Popen(program, env=env)
    except OSError as exc:
        return _cannot_start(program[0], exc)
    while child.returncode is None:
        # The console sends Ctrl-C to the program as well; its exit status
        # says what it made of it.
        with contextlib.suppress(KeyboardInterrupt):
            child.wait()
    return child.returncode


def _cannot_start(name: str, exc: OSError) -> int:
    if exc.errno == errno.ENOENT:
        if os.sep in name or (os.altsep and os.altsep in name):
            say(f"run: {name}: no such file")
        else:
            say(f"run: {name}: command not found")
        return EXIT_NOT_FOUND
    say(f"run: {name}: cannot execute: {exc.strerror or exc}")
    return EXIT_CANNOT_EXECUTE
