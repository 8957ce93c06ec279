"""One call of ``os.system`` or ``os.popen`` found in a file: what scan, baseline and fix share."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Union, final

__all__ = ["Finding", "json_text"]


@final
class Finding:
    """One call of ``os.system`` or ``os.popen`` found in a file.

    ``line`` and ``col`` are 1-based (``col`` counts characters); ``start``
    and ``end`` are ``(line, column)`` pairs with 0-based character columns,
    the call without any parentheses around it.  ``command`` is the literal
    command (``str`` or ``bytes``) or ``None``; ``shell`` is whether it needs
    ``/bin/sh`` (``None`` when it is not a literal).  ``usage`` is how the
    program uses the returned status (``"statement"``, ``"truth"``,
    ``"zero"``) when a rewrite keeps its behaviour; otherwise ``refusal``
    says why not.
    """

    __slots__ = (
        "argument",
        "argv",
        "command",
        "double_quotes",
        "end",
        "fingerprint",
        "function",
        "name",
        "occurrence",
        "path",
        "refusal",
        "shell",
        "shell_reason",
        "spelling",
        "start",
        "subprocess_name",
        "suggestion",
        "usage",
    )

    def __init__(self, path: str, name: str) -> None:
        self.path = path
        self.name = name
        self.start = (0, 0)
        self.end = (0, 0)
        self.function = "<module>"
        self.spelling = name
        self.argument: Optional[str] = None
        self.command: Optional[Union[str, bytes]] = None
        self.double_quotes = False
        self.argv: Optional[List[bytes]] = None
        self.shell: Optional[bool] = None
        self.shell_reason: Optional[str] = None
        self.suggestion = ""
        self.usage: Optional[str] = None
        self.refusal: Optional[str] = None
        self.subprocess_name = "free"
        self.fingerprint = ""
        self.occurrence = 0

    @property
    def line(self) -> int:
        return self.start[0]

    @property
    def col(self) -> int:
        return self.start[1] + 1

    @property
    def command_text(self) -> Optional[str]:
        """The literal command as text (bytes shown with backslash escapes)."""
        if self.command is None:
            return None
        if isinstance(self.command, bytes):
            return self.command.decode("utf-8", "backslashreplace")
        return self.command

    def to_json(self) -> Dict[str, Any]:
        return {
            "path": self.path,
            "line": self.line,
            "col": self.col,
            "function": self.function,
            "call": self.name,
            "spelling": self.spelling,
            "command": json_text(self.command_text),
            "shell": self.shell,
            "shell_reason": self.shell_reason,
            "suggestion": self.suggestion,
        }


def json_text(text: Optional[str]) -> Optional[str]:
    """Text any JSON reader accepts."""
    # Lone surrogates (undecodable file names in a command) are not valid in
    # strict JSON readers; show them as the escapes Python would print.
    if text is None:
        return None
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
