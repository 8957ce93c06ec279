"""Reading audit files into a report: files, gzip, standard input, one line at a time.

The input is read as a stream and each record folded into the
:class:`~shim._tools.report.model.Report` at once, so memory never depends
on the number of records.  Lines longer than :data:`MAX_LINE` are skipped
without being held in memory.  A line that is not a record the model
understands (not JSON, not an object, a field missing or of the wrong type)
is counted and skipped.

A record cut short (a crash, a full disk) and the record appended after it
end up on one line.  The reader resynchronises: it finds where the next
record starts inside the bad line (every record starts with ``{"v":``) and
folds that record in, counting only the torn part.  A compressed file that
is cut short or damaged is counted as damaged; the records read from it
until then, and the other files, are still reported.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import sys
import zlib
from pathlib import Path
from typing import IO, Any, Callable, Iterable, Iterator, Optional, Tuple

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
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        report.damage(path, f"damaged gzip file ({exc or 'cut short'}); records before it counted")
    except OSError as exc:
        if isinstance(exc, ReportError):
            raise
        report.damage(path, f"cannot read: {exc.strerror or exc}")


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


# json.loads wraps the C scanner in two Python calls and two regular
# expression matches (whitespace before and after); a record line is an
# object right at the start, followed by its newline, so the scanner is
# called directly and json.loads is left only the other lines.
_SCAN: Callable[[str, int], Tuple[Any, int]] = (
    json.decoder.JSONDecoder().scan_once  # type: ignore[attr-defined]  # not in typeshed
)


def _parse(text: str) -> Any:
    """``json.loads(text)``, faster for a line that is one object and a newline."""
    if text[:1] == "{":
        try:
            found, end = _SCAN(text, 0)
        except StopIteration:
            pass
        else:
            rest = len(text) - end
            if rest == 0 or (rest == 1 and text[end] == "\n"):
                return found
    return json.loads(text)


def read_stream(report: Report, stream: IO[bytes], name: str) -> None:
    """Fold the records of a binary stream into ``report``."""
    parse = _parse
    for number, line in _lines(stream):
        if line is None:
            report.skip(name, number, "line too long")
            continue
        try:
            # Decoding first is faster than handing json bytes (it would
            # sniff the encoding of every line).
            record = parse(line.decode("utf-8"))
        except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
            if line.strip():
                record = _resynchronise(report, line, name, number)
                if record is None:
                    continue
            else:
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


_RECORD_START = b'{"v":'


def _resynchronise(report: Report, line: bytes, name: str, number: int) -> Optional[Any]:
    """The record that starts inside a line that is not JSON, if there is one.

    A torn record has no line break, so the next record written after it
    continues its line.  Each place where a record could start is tried,
    from the left: the first from which the rest of the line is one JSON
    object is that record, and only what came before it is counted as
    skipped.
    """
    start = line.find(_RECORD_START, 1)
    while start > 0:
        try:
            record = json.loads(line[start:].decode("utf-8"))
        except (ValueError, RecursionError):
            start = line.find(_RECORD_START, start + 1)
            continue
        if isinstance(record, dict):
            report.skip(name, number, "torn record (the record after it was kept)")
            return record
        start = line.find(_RECORD_START, start + 1)
    report.skip(name, number, "not valid JSON")
    return None


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
