"""The ``shim`` logger, and the stderr handler that ``SHIM_LOG`` adds to it.

The package installs only a :class:`logging.NullHandler`: where the records
go is the program's choice.  ``SHIM_LOG=INFO`` (``install(log="INFO")``)
adds one handler that writes to whatever ``sys.stderr`` is at the time, and
lowers the logger's level to it when needed.
"""

import logging
import sys
from typing import Any, Optional, Tuple

__all__ = ["STDERR", "logger"]

logger = logging.getLogger("shim")
if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
    logger.addHandler(logging.NullHandler())


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record is emitted."""

    def __init__(self, level: int) -> None:
        logging.Handler.__init__(self, level)
        self.setFormatter(logging.Formatter("%(name)s: %(levelname)s: %(message)s"))

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        """Ignore: the stream is always the current ``sys.stderr``."""


class _StderrSwitch:
    """The one stderr handler of the process, and the logger level it changed.

    Changed only by sessions starting and ending, under the lifecycle's lock.
    """

    __slots__ = ("handler", "saved_level")

    def __init__(self) -> None:
        self.handler: Optional[_StderrHandler] = None
        # The logger level before SHIM_LOG set it, and the level it set.
        self.saved_level: Optional[Tuple[int, int]] = None

    def apply(self, level_name: Optional[str]) -> None:
        """Log at ``level_name`` to stderr, or (``None``) stop and put the level back."""
        handler = self.handler
        if level_name is None:
            self.handler = None
            if handler is not None:
                logger.removeHandler(handler)
            saved, self.saved_level = self.saved_level, None
            # Put the level back, unless the program changed it since.
            if saved is not None and logger.level == saved[1]:
                logger.setLevel(saved[0])
            return
        level = logging.getLevelName(level_name)
        if not isinstance(level, int):  # pragma: no cover - Settings validates the name
            level = logging.INFO
        if handler is None:
            self.handler = _StderrHandler(level)
            logger.addHandler(self.handler)
        else:
            handler.setLevel(level)
        if self.saved_level is not None:
            self.saved_level = (self.saved_level[0], level)
            logger.setLevel(level)
        elif logger.level == logging.NOTSET or logger.level > level:
            # Records below the logger's level never reach a handler; a level
            # the program set lower than ours is left alone.
            self.saved_level = (logger.level, level)
            logger.setLevel(level)


STDERR = _StderrSwitch()
