"""Command line: ``shim`` and ``python -m shim``.

Every subcommand lives in its own module, which adds itself to the parser
with ``register(subparsers)`` and sets ``func`` (``args -> exit status``).
This module owns what they share: the parser, ``--version``, and turning
the package's errors into one line on stderr and an exit status (listed in
:mod:`shim._tools.exits`), never a traceback.
"""

import argparse
import importlib
import os
import sys
from typing import Any, NoReturn, Optional, Sequence

from shim._tools import unavailable
from shim._tools.exits import EXIT_BROKEN_PIPE, EXIT_INTERRUPTED, EXIT_USAGE, say
from shim._version import __version__
from shim.exceptions import ShimError

__all__ = ["build_parser", "main"]

#: Subcommands defined in their own modules, in the order ``--help`` lists them.
#: A module that is not there (yet) leaves its subcommand out.
SUBCOMMAND_MODULES = (
    "shim._tools.run",
    "shim._tools.report.command",
    "shim._tools.scan.command",
    "shim._tools.fix.command",
    "shim._tools.doctor",
)


class _Exit(Exception):  # noqa: N818 - control flow, not an error
    """Leave :func:`main` with ``status`` (argparse's ``--help``, ``--version``, usage errors)."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class _Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors are one line: ``shim: <problem>``."""

    def error(self, message: str) -> NoReturn:
        sub = self.prog.partition(" ")[2]
        where = f"{sub}: " if sub else ""
        helper = f"shim {sub} --help" if sub else "shim --help"
        say(f"{where}{message} (see '{helper}')")
        raise _Exit(EXIT_USAGE)

    def exit(self, status: int = 0, message: Optional[str] = None) -> NoReturn:
        if message:
            sys.stderr.write(message)
        raise _Exit(status)


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of the whole command line, every subcommand registered."""
    parser = _Parser(
        prog="shim",
        description=(
            "Route os.system through subprocess, record every call, and migrate away from it."
        ),
        epilog=(
            "exit statuses: 0 success, 1 findings (scan: calls not in the baseline, files "
            "that cannot be parsed; fix --diff: changes to make; report: corrupt input), "
            "2 bad usage or input, 126/127 run: program cannot be executed / not found, "
            "130 interrupted, 141 output pipe closed; run otherwise exits with the "
            "program's own status"
        ),
    )
    parser.add_argument("--version", action="version", version=f"shim {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        if name in unavailable.TOOLS and sys.version_info < unavailable.TOOLS_NEED:
            unavailable.register(subparsers, unavailable.TOOLS[name])
            continue
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
            say("no command given (see 'shim --help')")
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
        say(_describe(exc))
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
