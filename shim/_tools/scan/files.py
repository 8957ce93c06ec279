"""Collecting the Python files of a tree and scanning them, one at a time."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING, Iterator, List, Optional, Sequence, Tuple, Union, final

from shim._tools.scan.calls import find_calls
from shim._tools.scan.progress import Progress
from shim._tools.scan.source import read_source

if TYPE_CHECKING:
    from shim._tools.scan.finding import Finding

__all__ = ["SKIP_DIRS", "PathError", "Skipped", "collect_files", "scan", "scan_file"]

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

    __slots__ = ("message", "path")

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.message = message

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def collect_files(paths: Sequence[str]) -> List[str]:
    """List the Python files named by ``paths``: files as given, directories walked.

    Directories are walked in sorted order, skipping :data:`SKIP_DIRS`,
    hidden directories' caches and any virtual environment (a directory with
    a ``pyvenv.cfg``); only ``*.py`` files are taken from them, while a file
    named directly is scanned whatever its name.  Raises :class:`PathError`
    for a path that does not exist or cannot be read.
    """
    files: List[str] = []
    for path in paths:
        if not Path(path).exists():
            raise PathError(f"no such file or directory: {path}")
        if Path(path).is_dir():
            if not os.access(path, os.R_OK | os.X_OK):
                raise PathError(f"cannot read directory: {path}")
            files.extend(_walk(path))
        elif not os.access(path, os.R_OK):
            raise PathError(f"cannot read file: {path}")
        else:
            files.append(path)
    return files


def _walk(root: str) -> Iterator[str]:
    for directory, subdirs, names in os.walk(root):
        subdirs[:] = sorted(
            name
            for name in subdirs
            if name not in SKIP_DIRS and not Path(directory, name, "pyvenv.cfg").exists()
        )
        for name in sorted(names):
            if name.endswith(".py"):
                yield str(Path(directory, name))


def scan_file(path: str) -> Union[List[Finding], Skipped]:
    """Return the findings of one file, or why it was skipped."""
    try:
        source = read_source(path)
    except OSError as exc:
        return Skipped(path, f"cannot read: {exc.strerror or exc}")
    except (SyntaxError, UnicodeDecodeError, LookupError) as exc:
        return Skipped(path, f"cannot decode: {exc}")
    try:
        return find_calls(source, path)
    except SyntaxError as exc:
        where = f"{path}:{exc.lineno}" if exc.lineno else path
        return Skipped(where, f"cannot parse: {exc.msg}")
    except (ValueError, RecursionError) as exc:
        return Skipped(path, f"cannot parse: {exc}")


def scan(
    paths: Sequence[str], *, progress_stream: Optional[IO[str]] = None
) -> Tuple[List[Finding], List[Skipped], List[str]]:
    """Scan the given paths: ``(findings, skipped files, files scanned)``.

    Raises :class:`PathError` for a path that cannot be used.
    """
    files = collect_files(paths)
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
