"""Reading and replacing the files the tools are pointed at, without hanging or losing data.

The tools read files they are only told about: names from a command line,
a directory walk, or an audit record anyone could have written.  A name can
be a FIFO (opening it blocks until a writer comes), ``/dev/zero`` behind a
symlink (reading it never ends), or a file that another user owns.
:func:`read_regular` opens without blocking, reads only a regular file and
at most ``limit`` bytes of it.

``shim fix --write`` replaces files that people are editing.
:func:`replace_file` never leaves a file half written: the new text goes to
a temporary file beside it, which takes the file's mode and owner, is
flushed to disk and renamed over it, and only if the file still holds what
was read.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from typing import Tuple, final

__all__ = ["FileChangedError", "UnreadableFileError", "read_regular", "replace_file"]

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


@final
class UnreadableFileError(OSError):
    """A file the tools will not read: not a regular file, or too large."""


@final
class FileChangedError(OSError):
    """The file changed after it was read, so writing over it would lose the change."""


def _describe(mode: int) -> str:
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def read_regular(path: str, limit: int) -> Tuple[bytes, os.stat_result]:
    """Read a regular file of at most ``limit`` bytes; return its bytes and its status.

    Raises :class:`UnreadableFileError` for anything else (a FIFO, a device, a
    directory, a larger file) and :class:`OSError` when it cannot be
    opened.  Opening never blocks, and no more than ``limit + 1`` bytes are
    ever read, whatever the file claims its size is.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    flags |= getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            why = _describe(status.st_mode)
            raise UnreadableFileError(f"{why}, not a regular file" if why.startswith("a ") else why)
        if status.st_size > limit:
            raise UnreadableFileError(f"larger than {limit:,} bytes")
        chunks = []
        size = 0
        while True:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                raise UnreadableFileError(f"larger than {limit:,} bytes")
        return b"".join(chunks), status
    finally:
        os.close(fd)


def replace_file(path: str, new: bytes, old: bytes, read_status: os.stat_result) -> None:
    """Replace the file at ``path``, which held ``old`` when it was read, with ``new``.

    The new bytes are written to a temporary file in the same directory
    (the directory of the real file when ``path`` is a symlink, so the link
    stays a link), given the file's permission bits, owner and group,
    flushed to disk with ``fsync``, and renamed over the file, whose
    directory is then flushed too.  Nothing is replaced, and
    :class:`FileChangedError` is raised, when the file no longer is the one
    that was read or no longer holds ``old``; :class:`OSError` when the
    owner cannot be kept or a hard link would be broken.  On any failure
    the file is as it was and no temporary file is left behind.
    """
    real = os.path.realpath(path)
    directory = os.path.dirname(real) or "."
    current = os.stat(real)
    if current.st_nlink > 1:
        raise OSError(
            f"it has {current.st_nlink} hard links, which replacing it would separate"
        )
    fd, temporary = tempfile.mkstemp(
        prefix=f".{os.path.basename(real)}.", suffix=".shim-fix", dir=directory
    )
    try:
        try:
            view = memoryview(new)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            if hasattr(os, "fchmod"):  # POSIX (Windows has it from 3.13 on)
                os.fchmod(fd, stat.S_IMODE(current.st_mode))
            mine = os.fstat(fd)
            if hasattr(os, "fchown") and (mine.st_uid, mine.st_gid) != (
                current.st_uid,
                current.st_gid,
            ):
                try:
                    os.fchown(fd, current.st_uid, current.st_gid)
                except PermissionError:
                    raise OSError(
                        "its owner or group cannot be kept (a new file would be this user's)"
                    ) from None
            os.fsync(fd)
        finally:
            os.close(fd)
        _check_unchanged(real, old, read_status)
        os.replace(temporary, real)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _sync_directory(directory)


def _check_unchanged(path: str, old: bytes, read_status: os.stat_result) -> None:
    try:
        now, status = read_regular(path, max(len(old), 1) * 2 + (1 << 20))
    except OSError as exc:
        raise FileChangedError(f"it changed since it was read ({exc})") from None
    same_file = (status.st_dev, status.st_ino) == (read_status.st_dev, read_status.st_ino)
    if not same_file or now != old:
        raise FileChangedError("it changed since it was read; run shim fix again")


def _sync_directory(directory: str) -> None:
    """Make the rename durable; not every system can open a directory for that."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(directory, flags)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)
