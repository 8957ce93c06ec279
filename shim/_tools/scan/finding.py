"""One call of ``os.system`` or ``os.popen`` in a file, as scan, baseline, fix and report see it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple, Union, final

if TYPE_CHECKING:
    from shim._tools.scan.template import Template, Word

__all__ = ["Finding", "Span", "json_text"]

#: ``((line, column), (line, column))``: 1-based lines, 0-based character columns.
Span = Tuple[Tuple[int, int], Tuple[int, int]]


@final
class Finding:
    """One call of ``os.system`` or ``os.popen`` found in a file.

    ``line`` and ``col`` are 1-based (``col`` counts characters); ``start``
    and ``end`` are ``(line, column)`` pairs with 0-based character columns,
    the call without any parentheses around it.  ``command`` is the literal
    command (``str`` or ``bytes``) or ``None``; ``shell`` is whether it needs
    ``/bin/sh`` (``None`` when it is not a literal).

    ``usage`` is how the program uses what the call returns (see
    :mod:`shim._tools.scan.usage`); ``refusal`` says why a rewrite must
    leave the call alone.  ``suppressed`` is set by a ``# shim: ignore``
    comment on one of the call's lines.  ``changes`` and ``assumption``
    label the suggestion: the behaviours it changes (codes of
    :mod:`shim._tools.scan.changes`) and what it assumes of interpolated
    values.
    """

    __slots__ = (
        "argument",
        "argument_span",
        "argv",
        "assumption",
        "callee_span",
        "changes",
        "command",
        "double_quotes",
        "end",
        "fingerprint",
        "function",
        "keyword",
        "mode",
        "name",
        "occurrence",
        "path",
        "reader_span",
        "refusal",
        "replaced_span",
        "shell",
        "shell_reason",
        "spelling",
        "start",
        "subprocess_name",
        "suggestion",
        "suppressed",
        "template",
        "template_reason",
        "usage",
        "use",
        "words",
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
        self.suppressed = False
        #: How a status used as a number is used ("stored in a variable", ...).
        self.use: Optional[str] = None
        #: os.popen's mode ("r" or "w").
        self.mode = "r"
        #: The command argument's value, the expression a rewrite replaces
        #: (the call, or ``os.system(c) >> 8`` and the like), and for
        #: ``os.popen(c).read()`` the whole read.
        self.argument_span: Optional[Span] = None
        self.callee_span: Optional[Span] = None
        self.replaced_span: Optional[Span] = None
        self.reader_span: Optional[Span] = None
        #: Whether the command is passed by keyword (``command=``, ``cmd=``).
        self.keyword = False
        self.template: Optional[Template] = None
        self.words: Optional[List[Word]] = None
        self.template_reason: Optional[str] = None
        self.changes: Tuple[str, ...] = ()
        self.assumption: Optional[str] = None

    @property
    def line(self) -> int:
        return self.start[0]

    @property
    def col(self) -> int:
        return self.start[1] + 1

    @property
    def end_line(self) -> int:
        return self.end[0]

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
            "path": json_text(self.path),
            "line": self.line,
            "col": self.col,
            "end_line": self.end_line,
            "function": self.function,
            "call": self.name,
            "spelling": json_text(self.spelling),
            "command": json_text(self.command_text),
            "shell": self.shell,
            "shell_reason": self.shell_reason,
            "suggestion": json_text(self.suggestion),
            "changes": list(self.changes),
            "assumption": self.assumption,
        }


def json_text(text: Optional[str]) -> Optional[str]:
    r"""Text any JSON reader accepts: no lone surrogates (file names' bytes shown as ``\xNN``)."""
    if text is None:
        return None
    from shim._tools.escape import json_safe

    return json_safe(text)
