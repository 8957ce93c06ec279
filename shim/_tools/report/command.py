"""The ``shim report`` subcommand: its options, and reading, rendering and writing in turn."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, List, Optional

from shim._tools.escape import oneline
from shim._tools.exits import EXIT_FINDINGS, say
from shim._tools.report.errors import ReportError

if TYPE_CHECKING:
    import argparse

    from shim._common.redact import Redactor
    from shim._tools.report.model import Report

__all__ = ["FORMATS", "SUFFIX_FORMATS", "main", "register", "render", "write"]

#: The output formats, each rendered by the module of the same name in this package.
FORMATS = ("text", "markdown", "json", "html")

SUFFIX_FORMATS = {
    ".html": "html",
    ".htm": "html",
    ".md": "markdown",
    ".markdown": "markdown",
    ".json": "json",
    ".txt": "text",
}
_PACKAGE = __name__.rpartition(".")[0]


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``report`` subcommand."""
    parser = subparsers.add_parser(
        "report",
        help="summarise audit files: call sites, busiest first",
        description=(
            "Read audit files (SHIM_AUDIT, one JSON record per line; gzip-compressed files "
            "too; '-' reads standard input) and list every call site with its calls, "
            "commands, statuses and why it needed a shell, its source, and the subprocess "
            "call derived from that source to replace it with. Corrupt lines and damaged "
            "files are counted and the rest is reported (exit status 1)."
        ),
        epilog=(
            "exit status: 0 the report covers every record; 1 it was written, but some "
            "input was corrupt (skipped lines, damaged files); 2 bad usage or input, or a "
            "record of a newer shim."
        ),
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="audit file(s) to read")
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default=None,
        help="output format (default: from the -o suffix .html/.md/.json, else text)",
    )
    parser.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        default=None,
        help="write the report to OUT (default: standard output)",
    )
    parser.add_argument(
        "--source-root",
        action="append",
        default=None,
        metavar="DIR",
        help="read call sites' source only from regular files below DIR (repeatable; "
        "default: the current directory)",
    )
    parser.add_argument(
        "--redact",
        action="append",
        default=None,
        metavar="PATTERN",
        help="also mask what this regular expression matches in the source shown "
        "(repeatable; SHIM_REDACT's patterns apply too)",
    )
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    """``shim report``: read, find the sources, render, write; 0, or 1 for corrupt input."""
    fmt: Optional[str] = args.format
    output: Optional[str] = args.output
    if output == "-":
        output = None
    if fmt is None:
        suffix = Path(output).suffix.lower() if output else ""
        if suffix and suffix not in SUFFIX_FORMATS:
            raise ReportError(
                f"report: cannot tell the format of {oneline(output or '')} from its suffix "
                f"{oneline(suffix)!r}: use --format ({', '.join(FORMATS)}) or a name ending "
                + ", ".join(SUFFIX_FORMATS)
            )
        fmt = SUFFIX_FORMATS.get(suffix, "text")
    # The model, the reader and the formats are imported only here: every
    # other subcommand (``shim run`` above all) starts without them.
    from shim._tools.report.reader import read
    from shim._tools.report.sources import Sources

    try:
        redactor = _redactor(args.redact or [])
        _check_output(output)
        report = read(args.files)
        report.attach_sources(Sources(args.source_root or ["."], redactor))
        text = render(report, fmt)
        write(text, output)
    except ReportError as exc:
        raise type(exc)(f"report: {exc}") from None
    if report.incomplete:
        say(
            f"report: some input could not be read ({report.skipped} line(s) skipped, "
            f"{len(report.damaged)} damaged file(s)); the report covers the rest"
        )
        return EXIT_FINDINGS
    return 0


def _redactor(patterns: List[str]) -> Redactor:
    """The masking the runtime applies: built-in rules, SHIM_REDACT, and --redact."""
    from shim._common.redact import Redactor, compile_patterns

    extra = [p for p in os.environ.get("SHIM_REDACT", "").split(";") if p.strip()]
    try:
        return Redactor(
            compile_patterns(extra, "SHIM_REDACT") + compile_patterns(patterns, "--redact")
        )
    except ValueError as exc:
        raise ReportError(str(exc)) from None


def render(report: Report, fmt: str) -> str:
    """Render the report in ``fmt`` (one of :data:`FORMATS`)."""
    if fmt not in FORMATS:
        raise ReportError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    module = importlib.import_module(f"{_PACKAGE}.{fmt}")
    renderer: Callable[[Report], str] = module.render
    return renderer(report)


def _check_output(output: Optional[str]) -> None:
    """Fail before the (possibly long) reading when the report cannot be written."""
    if output is None:
        return
    path = Path(output)
    if path.is_dir():
        raise ReportError(f"{output}: is a directory; -o needs a file name")
    if not path.absolute().parent.is_dir():
        raise ReportError(f"{output}: directory {path.absolute().parent} does not exist")


def write(text: str, output: Optional[str]) -> None:
    """Write ``text`` to the file ``output``, or to standard output when ``None``."""
    if output is None:
        stream = sys.stdout
        buffer = getattr(stream, "buffer", None)
        if buffer is None:
            stream.write(text)
        else:
            stream.flush()
            data = memoryview(text.encode(stream.encoding or "utf-8", "backslashreplace"))
            # A pipe whose reader leaves mid-write can take part of the data
            # and report it as a short write; writing the rest raises
            # BrokenPipeError instead of losing it silently.
            while data:
                written = buffer.write(data)
                if not written:
                    raise ReportError("standard output takes no more data")
                data = data[written:]
            buffer.flush()
        return
    try:
        with Path(output).open(
            "w", encoding="utf-8", errors="backslashreplace", newline="\n"
        ) as file:
            file.write(text)
    except OSError as exc:
        raise ReportError(f"{output}: cannot write: {exc.strerror or exc}") from None
