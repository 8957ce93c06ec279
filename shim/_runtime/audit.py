"""Appending records to the audit file: one ``write`` per record.

The file is opened ``O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC`` with mode
0600 (a file that already exists keeps its mode).  ``O_APPEND`` makes each
``write`` land at the end of the file as one piece, so lines from threads
and processes sharing the file never interleave; on Linux that holds for a
regular file whatever the record's size, not only up to ``PIPE_BUF``.

The descriptor stays open between calls (opening is the expensive part):
one :class:`AuditFile` per installation, one descriptor per process.  A
child made by ``os.fork`` closes the inherited descriptor and opens its
own.  Before each record the shim checks, with two ``stat`` calls, that the
descriptor is still the file the path names: a file moved away by log
rotation is followed by a new file at the path, and a descriptor that the
program closed (and maybe reused for something else) is never written to.

When the installation ends (``uninstall()``, new settings), the file is
*retired*: its descriptor is closed at once, and a call still running from
before writes its record by opening, writing and closing again, so no
descriptor of the shim is left open behind the program's back.

A short write (a full disk, a signal) is completed with a second ``write``
of the rest; that rest is no longer atomic with respect to other writers,
which is accepted: records are a few hundred bytes and short writes to
regular files practically only happen when the disk is full.
"""

import _thread
import contextlib
import os
import stat
import weakref
from typing import Tuple

__all__ = ["MODE", "AuditFile"]

_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
# Opening a FIFO that has no reader would block os.system forever, and
# opening a terminal must not make it our controlling terminal.
_OPEN_FLAGS = _FLAGS | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
MODE = 0o600


class AuditFile:
    """The audit file of one installation, shared by every thread of the process.

    ``lock`` guards the other fields: one record at a time, and never a
    descriptor closed under a writer.
    """

    __slots__ = ("__weakref__", "dev", "fd", "ino", "lock", "path", "pid", "retired")

    def __init__(self, path: str) -> None:
        self.path = path
        self.lock = _thread.allocate_lock()
        self.fd = -1
        self.dev = self.ino = -1
        self.pid = -1
        self.retired = False
        _LIVE.add(self)

    def append(self, line: bytes) -> None:
        """Append ``line`` with one ``write``; raises :class:`OSError` when it cannot."""
        with self.lock:
            if self.retired:
                fd, _ = self._open()
                try:
                    _write_all(fd, line)
                finally:
                    os.close(fd)
                return
            _write_all(self._descriptor(), line)

    def retire(self) -> None:
        """Close the descriptor now; later records open, write and close."""
        with self.lock:
            self.retired = True
            self._close()

    # -- with the lock held --------------------------------------------------

    def _descriptor(self) -> int:
        if self.fd >= 0:
            if self.pid != os.getpid():
                # Forked without our at-fork hook (a fork made in C): the
                # descriptor is shared with the parent; drop it.
                self._close()
            elif self._valid():
                return self.fd
            else:
                self._close()
        fd, st = self._open()
        self.fd, self.dev, self.ino, self.pid = fd, st.st_dev, st.st_ino, os.getpid()
        return fd

    def _open(self) -> Tuple[int, os.stat_result]:
        fd = os.open(self.path, _OPEN_FLAGS, MODE)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                os.set_blocking(fd, True)
        except BaseException:
            os.close(fd)
            raise
        return fd, st

    def _same(self, st: os.stat_result) -> bool:
        return st.st_dev == self.dev and st.st_ino == self.ino

    def _valid(self) -> bool:
        """Whether the path still names the file behind the descriptor."""
        try:
            return self._same(os.fstat(self.fd)) and self._same(os.stat(self.path))
        except OSError:
            return False

    def _close(self) -> None:
        """Close the descriptor if it still is ours (never someone else's file)."""
        fd, self.fd = self.fd, -1
        if fd < 0 or self.pid != os.getpid():
            return
        try:
            if self._same(os.fstat(fd)):
                os.close(fd)
        except OSError:
            pass

    def _after_fork_in_child(self) -> None:
        # Another thread may have held the lock at the fork: it would never
        # be released in the child.  The inherited descriptor is the
        # parent's; the child opens its own.
        self.lock = _thread.allocate_lock()
        fd, self.fd = self.fd, -1
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)


def _write_all(fd: int, line: bytes) -> None:
    written = os.write(fd, line)
    if written >= len(line):
        return
    rest = memoryview(line)[written:]
    while rest:
        written = os.write(fd, rest)
        if written <= 0:  # pragma: no cover - write(2) never returns 0 for a non-empty buffer
            raise OSError("audit record written only in part")
        rest = rest[written:]


#: Every audit file of this process that is still referenced, for the at-fork hook.
_LIVE: "weakref.WeakSet[AuditFile]" = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for audit_file in list(_LIVE):
        audit_file._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
