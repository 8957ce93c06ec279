"""The audit record: one definition for the writer (the runtime) and the reader (``shim report``).

A record is one JSON object per line.  :data:`VERSION` changes whenever a
field changes meaning or type; new fields with new names do not change it.
A reader refuses a record of a newer version instead of guessing what it
means.
"""

import json
from typing import Any, Dict, Tuple

__all__ = ["FIELDS", "VERSION", "encode"]

#: The schema version written in every record's ``"v"`` field.
VERSION = 1

#: Every field of a version-1 record, in the order the writer emits them.
FIELDS: Tuple[str, ...] = (
    "v",
    "ts",
    "pid",
    "command",
    "argv",
    "shell",
    "shell_reason",
    "sh",
    "mode",
    "cwd",
    "site",
    "status",
    "exit_code",
    "signal",
    "core_dumped",
    "duration_ms",
    "capture",
    "stdout_bytes",
    "stderr_bytes",
    "stdout_tail",
    "stderr_tail",
    "stdout_note",
    "stderr_note",
    "merged",
    "suggestion",
    "outcome",
    "function",
    "popen_mode",
    "end",
)


# Made once: json.dumps with options builds a new encoder at every call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def encode(record: Dict[str, Any]) -> bytes:
    """Return one audit line: compact JSON, UTF-8, ending in a newline.

    ``allow_nan=False``: ``NaN`` and ``Infinity`` are not JSON, and a record
    that other tools cannot parse would be lost.
    """
    text = _ENCODER.encode(record)
    return (text + "\n").encode("utf-8", "backslashreplace")
