"""A progress line on stderr for long scans, quiet for short ones."""

from __future__ import annotations

import time
from typing import IO, Optional, final

__all__ = ["Progress"]

PROGRESS_MIN_FILES_TTY = 50
#: When stderr is not a terminal (a CI log), progress is shown only for
#: trees at least this large, one line at most every PROGRESS_LOG_INTERVAL.
PROGRESS_MIN_FILES_LOG = 2000
PROGRESS_LOG_INTERVAL = 10.0
PROGRESS_TTY_INTERVAL = 0.1


@final
class Progress:
    """A progress line on stderr for long scans, quiet for short ones.

    On a terminal it is one line rewritten in place; in a log (CI) only a
    tree of :data:`PROGRESS_MIN_FILES_LOG` files or more gets lines, at most
    one every :data:`PROGRESS_LOG_INTERVAL` seconds.
    """

    def __init__(self, total: int, stream: IO[str], *, tty: Optional[bool] = None) -> None:
        self.total = total
        self.stream = stream
        self.tty = _isatty(stream) if tty is None else tty
        minimum = PROGRESS_MIN_FILES_TTY if self.tty else PROGRESS_MIN_FILES_LOG
        self.enabled = total >= minimum
        self.interval = PROGRESS_TTY_INTERVAL if self.tty else PROGRESS_LOG_INTERVAL
        # A terminal shows the line at once; a log waits a whole interval, so
        # a scan that ends sooner prints nothing there.
        self.last = float("-inf") if self.tty else time.monotonic()
        self.shown = False

    def update(self, done: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.last < self.interval:
            return
        self.last = now
        message = f"shim: scanned {done}/{self.total} files"
        if self.tty:
            self.stream.write(f"\r{message}\x1b[K")
        else:
            self.stream.write(f"{message}\n")
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.enabled and self.tty and self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):
        return False
