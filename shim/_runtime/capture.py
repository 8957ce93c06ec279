"""Output capture (``capture="tee"``): keep the tail of what a command writes.

The command's output still reaches fds 1 and 2 of the process, byte for byte
and at the same moments: between the two sits one pipe per stream, and every
read from it is forwarded at once (no line buffering, so a prompt without a
newline shows before the command waits for input), while the last
``capture_limit`` bytes and a byte count are kept.  The caller's thread does
the copying while it waits for the child (a pidfd says when the child has
exited); where pidfds or the child's pid are not available, one copy thread
per call does it instead.

What the command could observe decides what is captured (the docs' capture
page says the same for users):

* a terminal is handed to the command as it is, so ``test -t 1``, ``stty
  size``, colours and progress bars behave as without the shim;
* so is anything seekable (a regular file, ``/dev/null``): seeking
  (``dd seek=N of=/dev/stdout``), truncating (``> /dev/stdout``), ``stat``
  and ``seekable()`` behave as without the shim.  What the command appended
  to a regular file is read back after the call, bounded (see
  :class:`_ReadBack`);
* fds 1 and 2 that are one open file (``2>&1``) share one pipe, so the
  interleaving of the two streams is kept exactly; both count as stdout;
* a closed descriptor stays closed; a pipe whose reader is already gone, a
  descriptor opened read-only or non-blocking is handed over as it is, so
  the command meets exactly the error it would meet;
* a background process that keeps the pipe (``sleep 10 & echo started``)
  does not hold up the call: once the shell has been collected, what it
  wrote is copied out, and the pipe is handed to a ``cat`` running outside
  this process, which forwards the late output until the background process
  lets go of it, even after this program has exited.

Capture never breaks a call: if a pipe or the thread cannot be had, the call
runs without capture and the note says why.
"""

import _signal
import _thread
import contextlib
import os
import select
import signal
import stat
import subprocess
import sys
from typing import TYPE_CHECKING, Callable, Dict, List, Optional, Set, Tuple

from shim._common import platform as _env
from shim._runtime import runner as _runner
from shim._runtime.signals import VALID_SIGNALS

if TYPE_CHECKING:
    from shim._common.settings import Settings

__all__ = ["CONTEXT", "PASS_THROUGH", "Captured", "Tee", "result", "stdio_for"]

#: How many bytes before a tail are kept for masking it (a secret whose
#: name is cut off the front of the tail is still recognised).
CONTEXT = 4096
#: The first read of a stream; a pipe holds 64 KiB unless told otherwise.
_FIRST_READ = 65536
#: What a busy stream's pipe is grown to (``/proc/sys/fs/pipe-max-size`` is
#: 1 MiB by default, so an unprivileged process may ask for this much).
_BULK = 1 << 20
_ALL_SIGNALS = VALID_SIGNALS
#: Signals a write of ours can raise (a reader gone, a file too large).
#: Python ignores both; a program that does not must not die of a write the
#: command made.
_WRITE_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGPIPE", "SIGXFSZ") if hasattr(signal, name)
)
_SIG_IGN = int(signal.SIG_IGN)
_SIG_BLOCK = int(getattr(signal, "SIG_BLOCK", 0))
_SIG_SETMASK = int(getattr(signal, "SIG_SETMASK", 2))
_O_DIRECT = getattr(os, "O_DIRECT", 0)
#: pidfds (Linux 5.3, Python 3.9) tell the caller's thread when the child
#: has exited, so it can copy by itself, without a thread.
_HAS_PIDFD = hasattr(os, "pidfd_open")
# os.pidfd_open is Python 3.9+ (and Linux 5.3+); looked up, not named, so
# that type checking at 3.8 holds.
_pidfd_open: Callable[[int], int] = getattr(os, "pidfd_open", None)  # type: ignore[assignment]
if sys.platform != "win32":  # stdio_for never captures on Windows
    import fcntl

    #: ``F_SETPIPE_SZ``: in :mod:`fcntl` from Python 3.10 on, Linux only.
    _SETPIPE_SZ: Optional[int] = getattr(
        fcntl, "F_SETPIPE_SZ", 1031 if sys.platform.startswith("linux") else None
    )
    _POLLIN = select.POLLIN
    _POLLOUT = select.POLLOUT
    _GONE = select.POLLERR | select.POLLHUP
#: Run by ``/bin/sh`` to hand a pipe still held by a background process over
#: to a ``cat`` that is not our child: the shell starts it in the background
#: and exits, so ``cat`` is re-parented like the background process itself
#: and never shows up in this program's ``wait()``.  An asynchronous list
#: reads /dev/null unless told otherwise, hence the detour through fd 3.
_HAND_OVER = b"exec 3<&0 </dev/null; command -p cat <&3 3<&- &"


class Captured:
    """What capture kept of one call.

    ``*_bytes`` count everything the command wrote to the stream (``None``:
    the stream was not captured, ``*_note`` says why, e.g. ``"terminal"``);
    ``*_tail`` is the last ``capture_limit`` bytes of it, ``*_context`` up to
    :data:`CONTEXT` bytes before the tail (for masking only).  ``merged`` means
    fds 1 and 2 were the same file, so both streams were kept together, in
    order, as stdout.  A note next to a count tells of a trouble during the
    call (the destination failed, a background process kept the pipe).
    """

    __slots__ = (
        "merged",
        "stderr_bytes",
        "stderr_context",
        "stderr_note",
        "stderr_tail",
        "stdout_bytes",
        "stdout_context",
        "stdout_note",
        "stdout_tail",
    )

    def __init__(self) -> None:
        self.stdout_bytes: Optional[int] = None
        self.stderr_bytes: Optional[int] = None
        self.stdout_tail: Optional[bytes] = None
        self.stderr_tail: Optional[bytes] = None
        # Up to CONTEXT bytes that came just before each tail: never
        # published, read with the tail so that masking recognises a value
        # whose name is no longer in the tail.
        self.stdout_context = b""
        self.stderr_context = b""
        self.stdout_note: Optional[str] = None
        self.stderr_note: Optional[str] = None
        self.merged = False

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"Captured({inner})"


#: The stdio of a call that captures nothing.
PASS_THROUGH = _runner.Stdio()


def stdio_for(settings: "Settings") -> _runner.Stdio:
    """Give the stdio hooks for one run under ``settings`` (a fresh object each time)."""
    if settings.capture != "tee" or not _env.IS_POSIX:
        return PASS_THROUGH
    return Tee(settings.capture_limit)


def result(stdio: _runner.Stdio) -> Optional[Captured]:
    """Tell what ``stdio`` captured, or ``None`` when capture is off."""
    if isinstance(stdio, Tee):
        return stdio.captured()
    return None


def _lift(fd: int) -> int:
    """``fd`` moved above 2, close-on-exec.

    With fd 0, 1 or 2 closed, ``pipe()`` hands out those numbers, and
    ``Popen``'s ``dup2`` onto 1 and 2 in the child would then trample them.
    """
    if fd > 2:
        return fd
    try:
        return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
    finally:
        os.close(fd)


def _pipe() -> Tuple[int, int]:
    read, write = os.pipe()
    try:
        read = _lift(read)
    except OSError:
        os.close(write)
        raise
    try:
        write = _lift(write)
    except OSError:
        os.close(read)
        raise
    return read, write


def _close(fd: int) -> None:
    if fd >= 0:
        try:
            os.close(fd)
        except OSError:  # pragma: no cover - ours, and closed once
            return


def _block_signals() -> None:
    """Keep signals off a copy thread, so they reach the caller as without the shim."""
    with contextlib.suppress(Exception):
        signal.pthread_sigmask(signal.SIG_BLOCK, _ALL_SIGNALS)


def _hold_write_signals() -> Optional[Set[int]]:
    """Block SIGPIPE/SIGXFSZ in this thread while it writes the command's output.

    With plain ``os.system`` the command's write raises them, in the
    command; here our write would raise them in the program, which may have
    them at the default action (death) or run a handler.  Blocked, they stay
    pending on this thread and the write fails with EPIPE/EFBIG instead.
    Gives the old mask, or ``None`` when nothing needed blocking.
    """
    # The C functions of _signal: signal's wrappers turn every number they
    # give back into an enum member, which costs more than the system calls.
    live = [sig for sig in _WRITE_SIGNALS if _signal.getsignal(sig) != _SIG_IGN]
    if not live:
        return None
    return set(_signal.pthread_sigmask(_SIG_BLOCK, live))


def _release_write_signals(old: Optional[Set[int]]) -> None:
    """Drop what our writes raised, then put the thread's mask back."""
    if old is None:
        return
    pending = _signal.sigpending()
    for sig in _WRITE_SIGNALS:
        if sig in pending and sig not in old:
            _signal.sigwait({sig})
    _signal.pthread_sigmask(_SIG_SETMASK, old)


def _inspect(fd: int) -> Tuple[Optional[str], Optional[os.stat_result]]:
    """Why ``fd`` is handed to the command unchanged, or ``None`` to capture it."""
    try:
        info = os.fstat(fd)
    except OSError:
        return "closed", None
    mode = info.st_mode
    if stat.S_ISCHR(mode) and os.isatty(fd):
        return "terminal", info
    try:
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    except OSError:  # pragma: no cover - fstat just worked
        return "closed", None
    if flags & os.O_ACCMODE == os.O_RDONLY:
        return "not writable", info
    if _seekable(fd):
        # A pipe in front would change what the command sees and does:
        # seeking (dd seek=N of=/dev/stdout would hang), truncating
        # (> /dev/stdout), stat, seekable().
        return SEEKABLE, info
    if flags & os.O_NONBLOCK:
        # The command would see EAGAIN itself; keep it that way.
        return "non-blocking", info
    if flags & _O_DIRECT:
        return "direct I/O", info
    if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
        poller = select.poll()
        poller.register(fd, _POLLOUT)
        if any(event & _GONE for _, event in poller.poll(0)):
            # The reader went away: the command's first write must fail
            # (EPIPE), not vanish into a pipe of ours.
            return "reader gone", info
    return None, info


#: The note of a stream handed over because it is seekable (a regular
#: file, ``/dev/null``, a block device): never behind a pipe of ours.
SEEKABLE = "seekable"


def _seekable(fd: int) -> bool:
    try:
        os.lseek(fd, 0, os.SEEK_CUR)
    except OSError:  # ESPIPE: a pipe, a socket, a terminal
        return False
    return True


class _ReadBack:
    """A regular file handed to the command as it is, captured by reading back what it appended.

    The position of fd 1 (or 2) before and after the call tells what the
    command wrote through it: its offset, or the file's size when it
    appends.  The end of that region is read back, at most the tail and
    its context, from a descriptor of our own opened read-only and
    non-blocking on the same file (``/proc/self/fd/N``): a regular file
    never blocks a read, and the read is bounded.  What the command wrote
    through another descriptor (``dd of=/dev/stdout``) is not counted.
    """

    __slots__ = ("append", "count", "limit", "note", "start", "tail", "target")

    def __init__(self, target: int, limit: int) -> None:
        self.target = target
        self.limit = limit
        self.append = bool(fcntl.fcntl(target, fcntl.F_GETFL) & os.O_APPEND)
        self.start = self._position()
        self.count: Optional[int] = None
        self.tail = b""
        self.note: Optional[str] = None

    def _position(self) -> int:
        if self.append:
            return os.fstat(self.target).st_size
        return os.lseek(self.target, 0, os.SEEK_CUR)

    def finish(self) -> None:
        """Read back what the command appended; never raises."""
        try:
            end = self._position()
        except OSError as exc:
            self.note = f"not read back: {exc.strerror or exc}"
            return
        if end < self.start:
            self.note = "not read back: the file was truncated or rewound during the call"
            return
        self.count = end - self.start
        keep = min(self.count, self.limit + CONTEXT) if self.limit else 0
        if not keep:
            return
        try:
            self.tail = _read_region(self.target, end - keep, keep)
        except OSError as exc:
            self.note = f"not read back: {exc.strerror or exc}"
            return
        if len(self.tail) < keep:
            self.note = "read back in part: the file shrank after the call"


def _read_region(target: int, offset: int, size: int) -> bytes:
    """``size`` bytes at ``offset`` of the regular file open as ``target``."""
    fd = os.open(
        f"/proc/self/fd/{target}",
        os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0),
    )
    try:
        theirs, ours = os.fstat(target), os.fstat(fd)
        if (theirs.st_dev, theirs.st_ino) != (ours.st_dev, ours.st_ino) or not stat.S_ISREG(
            ours.st_mode
        ):
            raise OSError(0, "the descriptor changed")
        return os.pread(fd, size, offset)
    finally:
        os.close(fd)


def _same_file(out: os.stat_result, err: os.stat_result) -> bool:
    """Whether fds 1 and 2 are one file that both streams reach in one order.

    For a pipe, a socket or a device the inode is the object.  For a regular
    file two descriptions with their own offsets (``>f 2>f``) overwrite each
    other, which only separate streams reproduce; one description (``2>&1``)
    or two in append mode (``>>f 2>>f``) give one ordered file.
    """
    if (out.st_dev, out.st_ino) != (err.st_dev, err.st_ino):
        return False
    if not (stat.S_ISREG(out.st_mode) or stat.S_ISBLK(out.st_mode)):
        return True
    out_flags = fcntl.fcntl(1, fcntl.F_GETFL)
    err_flags = fcntl.fcntl(2, fcntl.F_GETFL)
    if out_flags & os.O_APPEND and err_flags & os.O_APPEND:
        return True
    if (out_flags ^ err_flags) & os.O_APPEND:
        return False
    if os.lseek(1, 0, os.SEEK_CUR) != os.lseek(2, 0, os.SEEK_CUR):
        return False
    # Status flags belong to the open file description: flip O_NONBLOCK on
    # fd 1 (it means nothing to a regular file) and see whether fd 2 follows.
    fcntl.fcntl(1, fcntl.F_SETFL, out_flags ^ os.O_NONBLOCK)
    try:
        return bool((fcntl.fcntl(2, fcntl.F_GETFL) ^ err_flags) & os.O_NONBLOCK)
    finally:
        fcntl.fcntl(1, fcntl.F_SETFL, out_flags)


def _write_all(fd: int, view: memoryview) -> None:
    """Write all of ``view``, across partial writes; raises what ``write`` raises."""
    done = 0
    total = len(view)
    while done < total:
        try:
            done += os.write(fd, view[done:])
        except BlockingIOError:
            # Someone set O_NONBLOCK on the shared description meanwhile.
            poller = select.poll()
            poller.register(fd, _POLLOUT)
            poller.poll()


class _Stream:
    """One captured stream: our pipe between the command and the real descriptor.

    One thread at a time touches its descriptors: the one copying while the
    command runs (the caller's or the copy thread), then the caller.
    """

    __slots__ = (
        "buffer",
        "capacity",
        "count",
        "eof",
        "keeping",
        "limit",
        "note",
        "out",
        "read",
        "tail",
        "write",
    )

    def __init__(self, target: int, limit: int) -> None:
        self.read = -1
        self.write = -1
        # A descriptor of our own: the command's output goes where fd 1/2
        # pointed when the call started, whatever the program does with
        # fds 1 and 2 in the meantime, as with plain os.system.
        self.out = fcntl.fcntl(target, fcntl.F_DUPFD_CLOEXEC, 3)
        self.limit = limit
        self.tail = bytearray()
        self.count = 0
        self.keeping = True
        self.eof = False
        self.note: Optional[str] = None
        self.capacity = _FIRST_READ
        self.buffer: Optional[bytearray] = None

    def open(self) -> None:
        self.read, self.write = _pipe()
        # Only our end: the command's end is another open file description.
        os.set_blocking(self.read, False)

    def pump(self) -> int:
        """Copy what one read gives: the bytes read, 0 for none yet, -1 for no more ever."""
        if self.read < 0:
            return -1
        try:
            if self.buffer is None:
                data = os.read(self.read, _FIRST_READ)
                size = len(data)
                view = memoryview(data)
                if size >= _FIRST_READ:
                    self._grow()
            else:
                size = os.readv(self.read, [self.buffer])
                view = memoryview(self.buffer)[:size]
        except BlockingIOError:
            return 0
        except OSError as exc:  # pragma: no cover - our own pipe
            self.note = f"reading failed: {exc}"
            self.close_read()
            return -1
        if not size:
            self.eof = True
            return -1
        self.forward(view)
        if self.keeping:
            self.keep(view)
        return size if self.read >= 0 else -1

    def _grow(self) -> None:
        """Switch a busy stream (its pipe was full) to fewer, larger reads."""
        size = _FIRST_READ
        if _SETPIPE_SZ is not None:
            # Fails over the per-user pipe budget: then keep the default.
            with contextlib.suppress(OSError):
                size = fcntl.fcntl(self.read, _SETPIPE_SZ, _BULK)
        self.capacity = max(size, _FIRST_READ)
        self.buffer = bytearray(self.capacity)

    def forward(self, view: memoryview) -> None:
        """Write all of ``view`` to the real descriptor.

        When that fails (the reader went away: EPIPE), our end of the pipe is
        closed, so the command's next write fails as it would have without
        the shim (EPIPE, or death by SIGPIPE if the command does not ignore
        it).  Other errors (ENOSPC, EIO, ...) cannot be handed to the write
        that caused them either; the command learns of them the same way.
        """
        try:
            _write_all(self.out, view)
        except OSError as exc:
            self.note = f"destination failed: {exc.strerror or exc}"
            self.close_read()

    def keep(self, view: memoryview) -> None:
        """Count ``view`` and keep it as the end of the tail and its context (bounded)."""
        size = len(view)
        self.count += size
        if not self.limit:
            return
        limit = self.limit + CONTEXT
        try:
            if size >= limit:
                self.tail[:] = view[size - limit :]
            else:
                self.tail += view
                extra = len(self.tail) - limit
                if extra > 0:
                    del self.tail[:extra]
        except MemoryError:  # pragma: no cover - keep copying, stop keeping
            self.keeping = False
            self.tail = bytearray()
            self.note = "tail dropped: out of memory"

    def drain(self) -> None:
        """Copy what is in the pipe now, without waiting for more.

        Bounded: a background process that never stops writing must not keep
        the call from returning; what the shell wrote before it exited is at
        the front of the pipe, which holds at most its capacity.
        """
        left = max(self.capacity, _BULK) + _FIRST_READ
        while left > 0 and not self.eof:
            got = self.pump()
            if got <= 0:
                return
            left -= got

    def close_read(self) -> None:
        _close(self.read)
        self.read = -1

    def close_write(self) -> None:
        _close(self.write)
        self.write = -1

    def close(self) -> None:
        self.close_read()
        self.close_write()
        _close(self.out)
        self.out = -1


class Tee(_runner.Stdio):
    """Capture for one run: pipes, the copying, and what it kept.

    Used once: ``child_fds`` sets up, ``spawned`` lets the command's ends go
    and copies, ``exited`` copies what is left and lets go of everything,
    ``failed`` tears down.  ``captured()`` can be asked at any time after.

    Given the child's pid, ``spawned`` copies in the calling thread until the
    child has exited (a pidfd tells when), which costs no thread at all;
    otherwise a copy thread does it while the caller waits.
    """

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._streams: List[_Stream] = []
        self._by_target: Dict[int, _Stream] = {}
        self._read_back: Dict[int, _ReadBack] = {}
        self._notes: Dict[int, str] = {}
        self._merged = False
        self._wake_read = -1
        self._wake_write = -1
        self._thread_done: Optional[_thread.LockType] = None

    # -- the hooks -------------------------------------------------------

    def child_fds(self) -> Tuple[Optional[int], Optional[int]]:
        """Set up capture; give the pipes' write ends for the command's fds 1 and 2."""
        try:
            return self._set_up()
        except Exception as exc:
            # EMFILE and the like: run the command without capture.
            self._tear_down()
            self._streams = []
            self._by_target = {}
            self._read_back = {}
            self._merged = False
            reason = f"unavailable: {exc}"
            for target in (1, 2):
                self._notes.setdefault(target, reason)
            return None, None

    def spawned(self, pid: Optional[int] = None) -> None:
        """Close our copies of the command's ends, then copy.

        With ``pid`` (and pidfds), copy here until the child has exited or
        closed its output; it is left for the caller to collect.
        """
        for stream in self._streams:
            stream.close_write()
        if not self._streams:
            return
        if pid is not None and _HAS_PIDFD:
            try:
                pidfd = _pidfd_open(pid)
            except OSError:
                pidfd = -1
            if pidfd >= 0:
                held = _hold_write_signals()
                try:
                    self._copy(pidfd)
                except Exception as exc:  # pragma: no cover - a bug must not stop the output
                    self._note_all(f"capture failed: {exc!r}")
                else:
                    return
                finally:
                    os.close(pidfd)
                    _release_write_signals(held)
        self._start_thread()

    def exited(self) -> None:
        """Copy out what the shell wrote, then let go of everything; never waits for EOF."""
        for read_back in self._read_back.values():
            read_back.finish()
        if not self._streams:
            return
        held = _hold_write_signals()
        try:
            self._join()
            for stream in self._streams:
                stream.drain()
        except Exception as exc:  # pragma: no cover - defensive
            self._note_all(f"capture failed: {exc!r}")
        finally:
            for stream in self._streams:
                stream.keeping = False
            try:
                self._tear_down(hand_over=True)
            finally:
                _release_write_signals(held)

    def failed(self) -> None:
        """Release everything: the command never started (so it appended nothing)."""
        for read_back in self._read_back.values():
            read_back.finish()
        self._tear_down()

    # -- what was kept ---------------------------------------------------

    def captured(self) -> Captured:
        """Give the counts, tails and notes of this run."""
        found = Captured()
        found.merged = self._merged
        for target in (1, 2):
            stream = self._by_target.get(target)
            note = self._notes.get(target)
            count: Optional[int] = None
            tail: Optional[bytes] = None
            context = b""
            read_back = self._read_back.get(target)
            kept: Optional[bytes] = None
            if stream is not None:
                count, kept, note = stream.count, bytes(stream.tail), stream.note
            elif read_back is not None:
                count, note = read_back.count, read_back.note or note
                kept = read_back.tail if count is not None else None
            if kept is not None:
                cut = max(0, len(kept) - self._limit)
                context, tail = kept[:cut], kept[cut:]
            if target == 1:
                found.stdout_bytes, found.stdout_tail, found.stdout_note = count, tail, note
                found.stdout_context = context
            else:
                found.stderr_bytes, found.stderr_tail, found.stderr_note = count, tail, note
                found.stderr_context = context
        return found

    # -- the work --------------------------------------------------------

    def _set_up(self) -> Tuple[Optional[int], Optional[int]]:
        out_note, out_info = _inspect(1)
        err_note, err_info = _inspect(2)
        if (
            out_note == err_note == SEEKABLE
            and out_info is not None
            and err_info is not None
            and _same_file(out_info, err_info)
        ):
            # One file in one order: read back once, as stdout.
            self._merged = True
            err_note = "merged into stdout"
        for target, note, info in ((1, out_note, out_info), (2, err_note, err_info)):
            if note == SEEKABLE and info is not None:
                if stat.S_ISREG(info.st_mode):
                    self._read_back[target] = _ReadBack(target, self._limit)
                    self._notes[target] = "read back from the file"
                else:
                    self._notes[target] = "seekable, not a regular file: not read back"
            elif note is not None:
                self._notes[target] = note
        if self._merged:
            return None, None
        if out_info is not None and err_info is not None and out_note is None and err_note is None:
            self._merged = _same_file(out_info, err_info)
        if self._merged:
            self._notes[2] = "merged into stdout"
            targets: Tuple[int, ...] = (1,)
        else:
            targets = tuple(t for t, note in ((1, out_note), (2, err_note)) if note is None)
        for target in targets:
            stream = _Stream(target, self._limit)
            self._streams.append(stream)
            self._by_target[target] = stream
            stream.open()
        out = self._by_target.get(1)
        err = self._by_target.get(2)
        if self._merged and out is not None:
            return out.write, out.write
        return (out.write if out else None), (err.write if err else None)

    def _note_all(self, note: str) -> None:
        for stream in self._streams:
            stream.note = stream.note or note

    def _copy(self, stop: int) -> None:
        """Forward every read at once, until EOF everywhere or ``stop`` is readable.

        ``stop`` is the child's pidfd (it has exited) or the copy thread's
        wake-up pipe (the caller takes over).
        """
        poller = select.poll()
        live: Dict[int, _Stream] = {}
        for stream in self._streams:
            if stream.read >= 0:
                poller.register(stream.read, _POLLIN)
                live[stream.read] = stream
        poller.register(stop, _POLLIN)
        while live:
            ready = poller.poll()
            stopping = False
            for fd, _ in ready:
                if fd == stop:
                    stopping = True
                    continue
                stream = live[fd]
                if stream.pump() < 0:
                    poller.unregister(fd)
                    del live[fd]
            if stopping:
                return

    def _start_thread(self) -> None:
        try:
            self._wake_read, self._wake_write = _pipe()
            done = _thread.allocate_lock()
            done.acquire()
            _thread.start_new_thread(self._in_thread, (done,))
        except Exception as exc:
            # The command already writes into our pipes: someone must read them.
            _close(self._wake_read)
            _close(self._wake_write)
            self._wake_read = self._wake_write = -1
            self._note_all(f"capture unavailable: {exc}")
            for stream in self._streams:
                stream.keeping = False
                _hand_over(stream)
            return
        self._thread_done = done

    def _in_thread(self, done: _thread.LockType) -> None:
        try:
            _block_signals()
            self._copy(self._wake_read)
        except BaseException as exc:  # pragma: no cover - a bug must not hang the command
            self._note_all(f"capture failed: {exc!r}")
            for stream in self._streams:
                # The command then meets EPIPE instead of a full pipe nobody reads.
                stream.close_read()
        finally:
            done.release()

    def _join(self) -> None:
        """Make the copy thread, if any, let go (it returns at once once woken)."""
        done, self._thread_done = self._thread_done, None
        if done is None:
            return
        if done.locked():
            with contextlib.suppress(OSError):  # a fresh pipe takes one byte
                os.write(self._wake_write, b"\0")
        done.acquire()

    def _tear_down(self, *, hand_over: bool = False) -> None:
        for stream in self._streams:
            stream.close_write()
        try:
            self._join()
        finally:
            for stream in self._streams:
                if hand_over and stream.read >= 0 and not stream.eof:
                    _hand_over(stream)
                stream.close()
            _close(self._wake_read)
            _close(self._wake_write)
            self._wake_read = self._wake_write = -1


def _hand_over(stream: _Stream) -> None:
    """Let a process outside this one forward what background processes still write.

    The call returns as fast as plain ``os.system`` and this program may
    exit, ``exec`` or be killed: the late output still arrives, as it would
    if the background process wrote to the real descriptor itself.  If no
    helper can be started, a thread of ours does the copying instead (then
    whatever comes after this program has exited is lost).
    """
    stream.note = stream.note or "a background process kept the output; later output not kept"
    try:
        os.set_blocking(stream.read, True)  # cat must not meet EAGAIN
        helper = subprocess.Popen(
            [_env.SHELL_NAME, b"-c", _HAND_OVER],
            executable=_env.SHELL_PATH,
            stdin=stream.read,
            stdout=stream.out,
            stderr=subprocess.DEVNULL,
            close_fds=True,
        )
        if helper.wait() == 0:
            stream.close_read()
            return
    except Exception:  # no helper: a thread of ours takes over below
        pass
    read, out = stream.read, stream.out
    stream.read = stream.out = -1
    try:
        _thread.start_new_thread(_copy_until_eof, (read, out))
    except Exception:  # pragma: no cover - nothing left to copy with
        _close(read)
        _close(out)


def _copy_until_eof(read: int, out: int) -> None:
    """Forward ``read`` to ``out`` until EOF; closes both."""
    try:
        _block_signals()
        os.set_blocking(read, True)
        while True:
            data = os.read(read, _FIRST_READ)
            if not data:
                return
            _write_all(out, memoryview(data))
    except Exception:  # the reader went away: stop, as the writer would
        pass
    finally:
        _close(read)
        _close(out)
