"""Appending records to the audit file: one ``write`` per record, never a blocked call.

The file is opened ``O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC`` with mode
0600 (a file that already exists keeps its mode).  ``O_APPEND`` makes each
``write`` land at the end of the file as one piece, so lines from threads
and processes sharing the file never interleave; on Linux that holds for a
regular file whatever the record's size, not only up to ``PIPE_BUF``.

What the shim refuses to write to (one warning, the commands still run):
a symbolic link at the path (``O_NOFOLLOW``: a link planted in a shared
directory would send root's records anywhere), and a file that someone
else could read the records from or slip lines into: not owned by the
effective user, writable by group or others, or a regular file with other
hard links.  The check is made on the descriptor after opening, so the
file checked is the file written.

The descriptor never collides with the program's own: it is moved to a
high, close-on-exec number (``F_DUPFD_CLOEXEC`` from :data:`FLOOR`) and the
number ``open`` gave is freed at once, so the program's next ``open()``
gets the number it would get without the shim (fd 0 too, when stdin is
closed).  It stays open between calls (opening is the expensive part): one
:class:`AuditFile` per installation, one descriptor per process.  A child
made by ``os.fork`` closes the inherited descriptor and opens its own.
Before each record the shim checks that the descriptor is still the file
it opened (device, inode, and opened for appending) and that the path
still names it: a file moved away by log rotation is followed by a new
file at the path, and a number the program closed and reused for a file
of its own (``dup2``, even onto the audit file itself) is never written.

When the installation ends (``uninstall()``, new settings), the file is
*retired*: its descriptor is closed at once, and a call still running from
before writes its record by opening, writing and closing again, so no
descriptor of the shim is left open behind the program's back.

Writes never block: the descriptor is non-blocking, so a FIFO whose reader
stalled (or a suspended terminal) costs a dropped record and one warning,
not a hung ``os.system``.  A record that is cut short (a full disk, the
file size limit, a full pipe) is terminated with a newline at once, or, if
even that cannot be written, before the next record: the torn line stays a
line of its own and never swallows the good record after it.
"""

import _thread
import contextlib
import errno
import os
import stat
import weakref
from typing import Optional, Tuple

if os.name == "posix":  # the audit file is POSIX-only, as the runtime that writes it
    import fcntl

__all__ = ["MODE", "AuditFile"]

_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
# Never block: opening a FIFO that has no reader fails (ENXIO) instead of
# waiting, and a write that does not fit is refused (EAGAIN).  Opening a
# terminal must not make it our controlling terminal; a symlink at the path
# is not followed (ELOOP).
_OPEN_FLAGS = (
    _FLAGS
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_NOFOLLOW", 0)
)
_APPENDING = os.O_APPEND | os.O_WRONLY
MODE = 0o600
_SYMLINK = "a symbolic link, which the shim does not follow"
_STALLED = "its reader is not keeping up; the shim does not wait for it"
#: The lowest number the descriptor is moved to: far above what a program
#: normally has open, and below the usual limit of 1024 descriptors (see
#: :func:`_floor` for smaller limits).
FLOOR = 512


def _floor() -> int:
    """The lowest number to move the descriptor to, within ``RLIMIT_NOFILE``."""
    try:
        limit = os.sysconf("SC_OPEN_MAX")
    except (ValueError, OSError):  # pragma: no cover - POSIX always has it
        return FLOOR
    if limit <= 0:  # pragma: no cover - unlimited
        return FLOOR
    return max(3, min(FLOOR, limit // 2))


def _lift(fd: int) -> int:
    """Move ``fd`` to a high close-on-exec number and free the one ``open`` chose."""
    try:
        high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, _floor())
    except OSError:
        # No high number is free (the limit is nearly used up): keep the
        # low one, still close-on-exec and checked before every write.
        return fd
    os.close(fd)
    return high


def _refusal(st: os.stat_result) -> Optional[str]:
    """Why the shim must not write its records to this file, or ``None``."""
    uid = os.geteuid()
    if st.st_uid != uid:
        return f"owned by uid {st.st_uid}, not by this process's effective uid {uid}"
    if st.st_mode & 0o022:
        return f"writable by group or others (mode {stat.S_IMODE(st.st_mode):04o})"
    if stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
        return "the file has other hard links"
    return None


class AuditFile:
    """The audit file of one installation, shared by every thread of the process.

    ``lock`` guards the other fields: one record at a time, and never a
    descriptor closed under a writer.
    """

    __slots__ = ("__weakref__", "dev", "fd", "ino", "lock", "path", "pid", "retired", "torn")

    def __init__(self, path: str) -> None:
        self.path = path
        self.lock = _thread.allocate_lock()
        self.fd = -1
        self.dev = self.ino = -1
        self.pid = -1
        self.retired = False
        #: (device, inode) of a file whose last line we left unterminated.
        self.torn: Optional[Tuple[int, int]] = None
        _LIVE.add(self)

    def append(self, line: bytes) -> None:
        """Append ``line`` with one ``write``; raises :class:`OSError` when it cannot."""
        with self.lock:
            if self.retired:
                fd, st = self._open()
                try:
                    self._write(fd, (st.st_dev, st.st_ino), line)
                finally:
                    os.close(fd)
                return
            fd = self._descriptor()
            self._write(fd, (self.dev, self.ino), line)

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
        try:
            fd = os.open(self.path, _OPEN_FLAGS, MODE)
        except OSError as exc:
            if exc.errno == errno.ELOOP and os.path.islink(self.path):
                raise OSError(errno.ELOOP, _SYMLINK) from None
            raise
        try:
            st = os.fstat(fd)
            problem = _refusal(st)
        except BaseException:
            os.close(fd)
            raise
        if problem is not None:
            os.close(fd)
            raise OSError(errno.EPERM, f"refused: {problem}")
        return _lift(fd), st

    def _write(self, fd: int, identity: Tuple[int, int], line: bytes) -> None:
        """Write ``line`` whole, or leave no partial line for the next record to join."""
        data = b"\n" + line if self.torn == identity else line
        written = 0
        try:
            written = os.write(fd, data)
            # A short write: a full disk or a full pipe.  The rest is tried
            # again; an error (EAGAIN, ENOSPC, EFBIG) ends the record.
            while 0 < written < len(data):
                written += os.write(fd, memoryview(data)[written:])
        except OSError as exc:
            if written > 0:
                self.torn = identity
                with contextlib.suppress(OSError):
                    if os.write(fd, b"\n") == 1:
                        self.torn = None
            if isinstance(exc, BlockingIOError):
                raise OSError(exc.errno, _STALLED) from None
            raise
        self.torn = None

    def _same(self, st: os.stat_result) -> bool:
        return st.st_dev == self.dev and st.st_ino == self.ino

    def _valid(self) -> bool:
        """Whether the descriptor is still the file we opened, and the path still names it."""
        try:
            return (
                self._same(os.fstat(self.fd))
                and fcntl.fcntl(self.fd, fcntl.F_GETFL) & _APPENDING == _APPENDING
                and self._same(os.lstat(self.path))
            )
        except OSError:
            return False

    def _close(self) -> None:
        """Close the descriptor if it still is ours (never someone else's file).

        A number the program took over (even with the audit file itself,
        opened its own way) is left to the program and forgotten.
        """
        fd, self.fd = self.fd, -1
        if fd < 0 or self.pid != os.getpid():
            return
        try:
            if (
                self._same(os.fstat(fd))
                and fcntl.fcntl(fd, fcntl.F_GETFL) & _APPENDING == _APPENDING
            ):
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


#: Every audit file of this process that is still referenced, for the at-fork hook.
_LIVE: "weakref.WeakSet[AuditFile]" = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for audit_file in list(_LIVE):
        audit_file._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
