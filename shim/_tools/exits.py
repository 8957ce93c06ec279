"""How the ``shim`` command ends: its exit statuses, and the one line it says on stderr.

Exit statuses: 0 success; 1 findings (``scan``: calls not in the
baseline, files it cannot read or parse; ``fix --diff``: changes to make;
``report``: some input was corrupt); 2 bad usage or bad input; 126
and 127 when ``run`` cannot start the program (as a shell reports them);
130 interrupted; 141 the reader of the output went away (``| head``).
``run`` otherwise exits with the status of the program it ran.
"""

import sys

from shim.exceptions import ShimError

__all__ = [
    "EXIT_BROKEN_PIPE",
    "EXIT_CANNOT_EXECUTE",
    "EXIT_FINDINGS",
    "EXIT_INTERRUPTED",
    "EXIT_NOT_FOUND",
    "EXIT_OK",
    "EXIT_USAGE",
    "UsageError",
    "say",
]

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_CANNOT_EXECUTE = 126
EXIT_NOT_FOUND = 127
EXIT_INTERRUPTED = 130
#: What a shell reports for a program killed by SIGPIPE, which is what a C
#: tool writing into ``| head`` would get.
EXIT_BROKEN_PIPE = 128 + 13


class UsageError(ShimError, ValueError):
    """The command line asks for something that cannot be done (exit status 2)."""


def say(message: str) -> None:
    """Write ``shim: <message>`` as one line on stderr."""
    sys.stderr.write(f"shim: {message}\n")
    sys.stderr.flush()
