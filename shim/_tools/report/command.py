"""The ``shim report`` subcommand: its options, and reading, rendering and writing in turn."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

from shim._tools.report.errors import ReportError

if TYPE_CHECKING:
    import argparse

    from shim._tools.report.model import Report

__all__ = ["FORMATS", "main", "register", "render", "write"]

#: The output formats, each rendered by the module of the same name in this package.
FORMATS = ("text", "markdown", "json", "html")

_SUFFIX_FORMATS = {
    ".html": "html",
    ".htm": "html",
    ".md": "markdown",
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
            "commands, statuses, why it needed a shell, and the subprocess call to "
            "replace it with. Corrupt lines are counted and skipped."
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
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    """``shim report``: read, render, write; exit status 0."""
    fmt: Optional[str] = args.format
    output: Optional[str] = args.output
    if output == "-":
        output = None
    if fmt is None:
        suffix = Path(output).suffix.lower() if output else ""
        fmt = _SUFFIX_FORMATS.get(suffix, "text")
    # The model, the reader and the formats are imported only here: every
    # other subcommand (``shim run`` above all) starts without them.
    from shim._tools.report.reader import read

    try:
        _check_output(output)
        report = read(args.files)
        text = render(report, fmt)
        write(text, output)
    except ReportError as exc:
        raise type(exc)(f"report: {exc}") from None
    return 0


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
