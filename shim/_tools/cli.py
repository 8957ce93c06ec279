"""Command line: ``shim`` and ``python -m shim``.

Every subcommand lives in its own module, which adds itself to the parser
with ``register(subparsers)`` and sets ``func`` (``args -> exit status``).
This module owns what they share: the parser, ``--version``, and turning
errors into one line on stderr and an exit status.  It also implements
``shim run``, which is only a matter of the environment and ``exec``.

Exit statuses: 0 success; 1 findings (``scan``: calls not in the
baseline; ``fix --diff``: changes to make); 2 bad usage or bad input; 126
and 127 when ``run`` cannot start the program (as a shell reports them);
130 interrupted; 141 the reader of the output went away (``| head``).
``run`` otherwise exits with the status of the program it ran.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Mapping, NoReturn, Optional, Sequence

from shim._common import platform as _env
from shim._common import settings as _config
from shim._version import __version__
from shim.exceptions import ShimError

__all__ = ["EXIT_FINDINGS", "EXIT_OK", "EXIT_USAGE", "main"]

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_CANNOT_EXECUTE = 126
EXIT_NOT_FOUND = 127
EXIT_INTERRUPTED = 130
#: What a shell reports for a program killed by SIGPIPE, which is what a C
#: tool writing into ``| head`` would get.
EXIT_BROKEN_PIPE = 128 + 13

#: Subcommands defined in their own modules, in the order ``--help`` lists them.
#: A module that is not there (yet) leaves its subcommand out.
SUBCOMMAND_MODULES = (
    "shim._tools.report.model",
    "shim._tools.scan.calls",
    "shim._tools.fix.rewrite",
)

# Python ignores these at start-up; an exec'd program must get them back at
# their defaults, as ``subprocess`` does with ``restore_signals=True``.
_RESTORED_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGPIPE", "SIGXFSZ") if hasattr(signal, name)
)


class _Exit(Exception):  # noqa: N818 - control flow, not an error
    """Leave :func:`main` with ``status`` (argparse's ``--help``, ``--version``, usage errors)."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class UsageError(ShimError, ValueError):
    """The command line asks for something that cannot be done (exit status 2)."""


class _Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors are one line: ``shim: <problem>``."""

    def error(self, message: str) -> NoReturn:
        sub = self.prog.partition(" ")[2]
        where = f"{sub}: " if sub else ""
        helper = f"shim {sub} --help" if sub else "shim --help"
        _say(f"{where}{message} (see '{helper}')")
        raise _Exit(EXIT_USAGE)

    def exit(self, status: int = 0, message: Optional[str] = None) -> NoReturn:
        if message:
            sys.stderr.write(message)
        raise _Exit(status)


def _say(message: str) -> None:
    sys.stderr.write(f"shim: {message}\n")
    sys.stderr.flush()


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of the whole command line, every subcommand registered."""
    parser = _Parser(
        prog="shim",
        description=(
            "Route os.system through subprocess, record every call, and migrate away from it."
        ),
        epilog=(
            "exit statuses: 0 success, 1 findings (scan: calls not in the baseline; "
            "fix --diff: changes to make), "
            "2 bad usage or input, 126/127 run: program cannot be executed / not found, "
            "130 interrupted, 141 output pipe closed; run otherwise exits with the "
            "program's own status"
        ),
    )
    parser.add_argument("--version", action="version", version=f"shim {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    _register_run(subparsers)
    for name in SUBCOMMAND_MODULES:
        module = _optional_module(name)
        if module is not None:
            module.register(subparsers)
    return parser


def _optional_module(name: str) -> Any:
    """Import a subcommand module, or ``None`` when this installation has none."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == name:
            return None
        raise


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; return the exit status.

    Problems are reported as one line, ``shim: <problem>``, on stderr,
    never as a traceback.
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(arguments)
        func = getattr(args, "func", None)
        if func is None:
            _say("no command given (see 'shim --help')")
            return EXIT_USAGE
        return int(func(args))
    except _Exit as exc:
        return exc.status
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (``shim report ... | head``): nothing left to
        # say, and Python must not complain again when it flushes at exit.
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except (ShimError, OSError, ValueError) as exc:
        _say(_describe(exc))
        return EXIT_USAGE


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and not isinstance(exc, ShimError) and exc.strerror:
        if exc.filename is not None:
            return f"{os.fsdecode(exc.filename)}: {exc.strerror}"
        return exc.strerror
    text = str(exc)
    return " ".join(text.split()) or type(exc).__name__


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


# -- shim run -------------------------------------------------------------------


def _register_run(subparsers: argparse._SubParsersAction[Any]) -> None:
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
    return _execute(program, env)


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
                env[_config.VARIABLES[key]] = str(_config._CHECKS[key](flag, value))
    except ValueError as exc:
        raise UsageError(f"run: {exc}") from None
    if args.audit is not None:
        env["SHIM_AUDIT"] = _audit_path("--audit", args.audit)
    elif env.get("SHIM_AUDIT", "").strip():
        # The program may change directory before its first call: pin the
        # file the variable means here.
        env["SHIM_AUDIT"] = _audit_path("SHIM_AUDIT", env["SHIM_AUDIT"])
    if args.redact:
        inherited = [p for p in env.get("SHIM_REDACT", "").split(";") if p.strip()]
        env["SHIM_REDACT"] = ";".join([*inherited, *(_pattern(p) for p in args.redact)])
    try:
        _config.from_env(env)
    except ValueError as exc:
        raise UsageError(f"run: {exc} (from the environment)") from None
    return env


def _audit_path(name: str, value: str) -> str:
    """Return the audit file as an absolute path, after checking it can be created."""
    try:
        checked = str(_config._CHECKS["audit"](name, value))
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
    if _env.IS_WINDOWS:
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
            _say(f"run: {name}: no such file")
        else:
            _say(f"run: {name}: command not found")
        return EXIT_NOT_FOUND
    _say(f"run: {name}: cannot execute: {exc.strerror or exc}")
    return EXIT_CANNOT_EXECUTE
