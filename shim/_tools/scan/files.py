"""Collecting the Python files of a tree and scanning them, one at a time."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING, Iterator, List, Optional, Sequence, Tuple, Union, final

from shim._tools.escape import oneline
from shim._tools.files import read_regular
from shim._tools.scan.calls import find_calls
from shim._tools.scan.progress import Progress
from shim._tools.scan.source import decode_source

if TYPE_CHECKING:
    from shim._tools.config import Exclude
    from shim._tools.scan.finding import Finding

__all__ = [
    "MAX_SOURCE",
    "SKIP_DIRS",
    "PathError",
    "Skipped",
    "collect_files",
    "scan",
    "scan_file",
]

#: Source files larger than this are skipped (and counted): none of a real
#: project's is, and a link to /dev/zero must not exhaust memory.
MAX_SOURCE = 16 * 1024 * 1024

#: Directories never walked into: version control, caches, virtual
#: environments and installed packages are not the project's code.
SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".tox",
        ".nox",
        ".venv",
        "venv",
        "__pycache__",
        "node_modules",
        "site-packages",
        "dist-packages",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".eggs",
    }
)


class PathError(Exception):
    """A path given on the command line cannot be used (exit status 2)."""


@final
class Skipped:
    """A file that could not be read or parsed, and why."""

    __slots__ = ("line", "message", "path")

    def __init__(self, path: str, message: str, line: Optional[int] = None) -> None:
        self.path = path
        self.message = message
        self.line = line

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return oneline(f"{where}: {self.message}")


def collect_files(
    paths: Sequence[str], *, exclude: Sequence[Tuple[str, str]] = ()
) -> List[str]:
    """List the Python files named by ``paths``: files as given, directories walked.

    Directories are walked in sorted order, skipping :data:`SKIP_DIRS`,
    hidden directories' caches and any virtual environment (a directory with
    a ``pyvenv.cfg``); only ``*.py`` files are taken from them, while a file
    named directly is scanned whatever its name.  ``exclude`` holds
    ``(glob, root)`` pairs (see :class:`~shim._tools.config.Exclude`); they
    apply to named files too, so a hook that passes file names honours them.
    Raises :class:`PathError` for a path that does not exist or cannot be read.
    """
    from shim._tools.config import Exclude

    excluded = Exclude(exclude)
    files: List[str] = []
    for path in paths:
        if not os.path.lexists(path):
            raise PathError(f"no such file or directory: {oneline(path)}")
        if excluded and excluded.excluded(path):
            continue
        if Path(path).is_dir():
            if not os.access(path, os.R_OK | os.X_OK):
                raise PathError(f"cannot read directory: {oneline(path)}")
            files.extend(_walk(path, excluded))
        else:
            # Whether it can be read is found out when it is read: a file
            # that cannot be is then listed and counted like one that does
            # not parse.
            files.append(path)
    return files


def _walk(root: str, excluded: Exclude) -> Iterator[str]:
    for directory, subdirs, names in os.walk(root):
        subdirs[:] = sorted(
            name
            for name in subdirs
            if name not in SKIP_DIRS
            and not Path(directory, name, "pyvenv.cfg").exists()
            and not (excluded and excluded.excluded(os.path.join(directory, name)))
        )
        for name in sorted(names):
            if name.endswith(".py"):
                path = os.path.join(directory, name)
                if not (excluded and excluded.excluded(path)):
                    yield path


def scan_file(path: str) -> Union[List[Finding], Skipped]:
    """Return the findings of one file, or why it was skipped.

    Only a regular file of at most :data:`MAX_SOURCE` bytes is read (a FIFO
    named ``*.py`` or a link to ``/dev/zero`` is skipped, never waited on).
    """
    try:
        source = decode_source(read_regular(path, MAX_SOURCE)[0])
    except OSError as exc:
        return Skipped(path, f"cannot read: {exc.strerror or exc}")
    except (SyntaxError, UnicodeDecodeError, LookupError) as exc:
        return Skipped(path, f"cannot decode: {exc}")
    try:
        return find_calls(source, path)
    except SyntaxError as exc:
        return Skipped(path, f"cannot parse: {exc.msg}", exc.lineno or None)
    except (ValueError, RecursionError) as exc:
        return Skipped(path, f"cannot parse: {exc}")


def scan(
    paths: Sequence[str],
    *,
    progress_stream: Optional[IO[str]] = None,
    exclude: Sequence[Tuple[str, str]] = (),
) -> Tuple[List[Finding], List[Skipped], List[str]]:
    """Scan the given paths: ``(findings, skipped files, files scanned)``.

    Suppressed findings are included, marked.  Raises :class:`PathError`
    for a path that cannot be used.
    """
    files = collect_files(paths, exclude=exclude)
    progress = Progress(len(files), progress_stream or sys.stderr)
    findings: List[Finding] = []
    skipped: List[Skipped] = []
    try:
        for index, path in enumerate(files):
            result = scan_file(path)
            if isinstance(result, Skipped):
                skipped.append(result)
            else:
                findings.extend(result)
            progress.update(index + 1)
    finally:
        progress.close()
    return findings, skipped, files
