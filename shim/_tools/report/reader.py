"""Reading audit files into a report: files, gzip, standard input, one line at a time.

The input is read as a stream and each record folded into the
:class:`~shim._tools.report.model.Report` at once, so memory never depends
on the number of records.  Lines longer than :data:`MAX_LINE` are skipped
without being held in memory.  A line that is not a record the model
understands (not JSON, not an object, a field missing or of the wrong type)
is counted and skipped.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import sys
from pathlib import Path
from typing import IO, Iterable, Iterator, Optional, Tuple

from shim._tools.report.errors import NewerSchemaError, ReportError
from shim._tools.report.model import Report

__all__ = ["MAX_LINE", "check_inputs", "read", "read_file", "read_stream"]

#: A longer line is skipped (counted as corrupt) without being read into memory.
MAX_LINE = 8 * 1024 * 1024


def read(paths: Iterable[str]) -> Report:
    """Build a report over the records of ``paths``, read in turn.

    Every path is checked before any is read, so a typo in the last name
    fails at once.  Raises :class:`ReportError` for an unreadable input or
    a record of a newer schema.
    """
    paths = list(paths)
    check_inputs(paths)
    report = Report()
    for path in paths:
        _read_one(report, path)
    return report


def check_inputs(paths: Iterable[str]) -> None:
    """Fail before reading anything when one of the inputs cannot be read."""
    for path in paths:
        if path == "-":
            continue
        if Path(path).is_dir():
            raise ReportError(f"{path}: is a directory, not an audit file")
        if not Path(path).exists():
            raise ReportError(f"{path}: no such file")
        if not os.access(path, os.R_OK):
            raise ReportError(f"{path}: permission denied")


def _read_one(report: Report, path: str) -> None:
    try:
        read_file(report, path)
    except (EOFError, gzip.BadGzipFile) as exc:
        raise ReportError(f"{path}: damaged gzip file: {exc}") from None
    except OSError as exc:
        raise ReportError(f"{path}: cannot read: {exc.strerror or exc}") from None


def read_file(report: Report, path: str) -> None:
    """Fold every record of ``path`` (``-``: standard input) into ``report``."""
    report.files.append(path)
    if path == "-":
        stream = getattr(sys.stdin, "buffer", None)
        if stream is None:
            raise ReportError("-: standard input is not available")
        read_stream(report, stream, "<stdin>")
        return
    with _open(path) as stream:
        read_stream(report, stream, path)


def read_stream(report: Report, stream: IO[bytes], name: str) -> None:
    """Fold the records of a binary stream into ``report``."""
    loads = json.loads
    for number, line in _lines(stream):
        if line is None:
            report.skip(name, number, "line too long")
            continue
        try:
            # Decoding first is faster than handing json bytes (it would
            # sniff the encoding of every line).
            record = loads(line.decode("utf-8"))
        except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
            if line.strip():
                report.skip(name, number, "not valid JSON")
            continue
        if not isinstance(record, dict):
            report.skip(name, number, "not a JSON object")
            continue
        try:
            problem = report.add(record)
        except NewerSchemaError as exc:
            raise NewerSchemaError(f"{name}:{number}: {exc}") from None
        if problem is not None:
            report.skip(name, number, problem)


def _lines(stream: IO[bytes]) -> Iterator[Tuple[int, Optional[bytes]]]:
    """``(line number, line)``; ``None`` for a line over :data:`MAX_LINE`, never kept whole."""
    number = 0
    readline = stream.readline
    while True:
        line = readline(MAX_LINE)
        if not line:
            return
        number += 1
        if len(line) >= MAX_LINE and not line.endswith(b"\n"):
            while True:
                rest = readline(MAX_LINE)
                if not rest or rest.endswith(b"\n"):
                    break
            yield number, None
            continue
        yield number, line


@contextlib.contextmanager
def _open(path: str) -> Iterator[IO[bytes]]:
    """Open an audit file for reading (gzip-compressed files too), or say why not."""
    if Path(path).is_dir():
        raise ReportError(f"{path}: is a directory, not an audit file")
    try:
        raw = Path(path).open("rb")  # noqa: SIM115 - the with below closes it
    except FileNotFoundError:
        raise ReportError(f"{path}: no such file") from None
    except OSError as exc:
        raise ReportError(f"{path}: cannot read: {exc.strerror or exc}") from None
    with raw:
        if raw.peek(2)[:2] == b"\x1f\x8b":
            with gzip.GzipFile(fileobj=raw, mode="rb") as unpacked:
                yield unpacked  # type: ignore[misc]
        else:
            yield raw
