"""Appending records to the audit file: one ``write`` per record.

The file is opened ``O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC`` with mode
0600 (a file that already exists keeps its mode).  ``O_APPEND`` makes each
``write`` land at the end of the file as one piece, so lines from threads
and processes sharing the file never interleave; on Linux that holds for a
regular file whatever the record's size, not only up to ``PIPE_BUF``.

The descriptor stays open between calls (opening is the expensive part),
one per process: a child made by ``os.fork`` closes the inherited one and
opens its own.  Before each record the shim checks, with two ``stat`` calls,
that the descriptor is still the file the path names: a file moved away by
log rotation is followed by a new file at the path, and a descriptor that
the program closed (and maybe reused for something else) is never written
to.

A short write (a full disk, a signal) is completed with a second ``write``
of the rest; that rest is no longer atomic with respect to other writers,
which is accepted: records are a few hundred bytes and short writes to
regular files practically only happen when the disk is full.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import threading
from typing import Any, Dict, Optional

__all__ = ["append", "close", "encode"]

_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
# Opening a FIFO that has no reader would block os.system forever, and
# opening a terminal must not make it our controlling terminal.
_OPEN_FLAGS = _FLAGS | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
MODE = 0o600


class _Sink:
    """The open audit file of this process."""

    __slots__ = ("dev", "fd", "ino", "path", "pid")

    def __init__(self, path: str, fd: int, st: os.stat_result) -> None:
        self.path = path
        self.fd = fd
        self.dev = st.st_dev
        self.ino = st.st_ino
        self.pid = os.getpid()

    def same(self, st: os.stat_result) -> bool:
        return st.st_dev == self.dev and st.st_ino == self.ino


_lock = threading.Lock()
_sink: Optional[_Sink] = None


def encode(record: Dict[str, Any]) -> bytes:
    """Return one audit line: compact JSON, UTF-8, ending in a newline."""
    text = json.dumps(record, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (text + "\n").encode("utf-8", "backslashreplace")


def append(path: str, line: bytes) -> None:
    """Append ``line`` to the file at ``path`` with one ``write``.

    Raises :class:`OSError` when the file cannot be opened or written.
    """
    with _lock:
        fd = _descriptor(path)
        written = os.write(fd, line)
        if written < len(line):
            _write_rest(fd, memoryview(line)[written:])


def _write_rest(fd: int, rest: memoryview) -> None:
    while rest:
        written = os.write(fd, rest)
        if written <= 0:  # pragma: no cover - write(2) never returns 0 for a non-empty buffer
            raise OSError("audit record written only in part")
        rest = rest[written:]


def _descriptor(path: str) -> int:
    """Return the descriptor for ``path``, opening or reopening it as needed (lock held)."""
    global _sink
    sink = _sink
    if sink is not None:
        if sink.pid != os.getpid():
            # Forked without our at-fork hook (a fork made in C): the
            # descriptor is shared with the parent; drop it.
            _sink = None
            _release(sink)
        elif sink.path == path and _valid(sink):
            return sink.fd
        else:
            _sink = None
            _release(sink)
    fd = os.open(path, _OPEN_FLAGS, MODE)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    _sink = _Sink(path, fd, st)
    return fd


def _valid(sink: _Sink) -> bool:
    """Whether the path still names the file behind the descriptor."""
    try:
        return sink.same(os.fstat(sink.fd)) and sink.same(os.stat(sink.path))
    except OSError:
        return False


def _release(sink: _Sink) -> None:
    """Close the descriptor if it still is ours (never someone else's file)."""
    try:
        if sink.same(os.fstat(sink.fd)):
            os.close(sink.fd)
    except OSError:
        pass


def close() -> None:
    """Close the audit file (switching auditing off, or a new path)."""
    global _sink
    with _lock:
        sink, _sink = _sink, None
        if sink is not None and sink.pid == os.getpid():
            _release(sink)


def _after_fork_in_child() -> None:
    global _lock, _sink
    # Another thread may have held the lock at the fork: it would never be
    # released in the child.
    _lock = threading.Lock()
    sink, _sink = _sink, None
    if sink is not None:
        with contextlib.suppress(OSError):
            os.close(sink.fd)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
