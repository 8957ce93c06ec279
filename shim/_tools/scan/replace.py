"""The ``subprocess`` code that replaces a call, in two tiers, each labelled with what it changes.

A call's command can be passed to ``subprocess`` in two forms:

- the *shell form*, the command as it is with ``shell=True``: ``/bin/sh``
  runs it as ``os.system`` did, so nothing about the command's outcome
  changes (the :data:`~shim._tools.scan.changes.EVERY_SYSTEM_REWRITE`
  differences aside, which no rewrite avoids).  This is the *safe* tier.
- the *argument-list form*, when the command is a literal that needs no
  shell, or a template (f-string, ``%``-format, concatenation) whose
  literal parts need none: no shell at all, which changes what happens when
  the program cannot be started or is killed, and for a template assumes
  something of the values.  This is the *unsafe* tier, each change listed.

:func:`command_forms` gives both; :func:`suggestion` the one
``shim scan`` and ``shim report`` show (the argument list when there is
one: the point of the migration), and ``shim fix`` applies the safe one by
default and the other with ``--unsafe-fixes``.
"""

from __future__ import annotations

import io
import os
import tokenize
from typing import TYPE_CHECKING, List, Optional, Tuple, Union, final

from shim._common import suggest as _suggest
from shim._tools.scan import changes as _changes
from shim._tools.scan.template import ASSUMPTION

if TYPE_CHECKING:
    from shim._tools.scan.finding import Finding

__all__ = ["SAFE", "UNSAFE", "Form", "argv_items", "command_forms", "one_line", "suggestion"]

SAFE = "safe"
UNSAFE = "unsafe"

#: What running a program without the shell changes.
ARGV_CHANGES = (
    _changes.PROGRAM_NOT_STARTED,
    _changes.SIGNAL_REPORT,
    _changes.ENVIRONMENT,
)


@final
class Form:
    """How a rewrite passes the command: its source text, with or without a shell."""

    __slots__ = ("argument", "assumption", "changes", "shell", "tier")

    def __init__(
        self,
        argument: Optional[str],
        *,
        with_shell: bool,
        changes: Tuple[str, ...] = (),
        assumption: Optional[str] = None,
    ) -> None:
        #: The new source of the command argument; ``None`` keeps the call's own text.
        self.argument = argument
        self.shell = with_shell
        self.changes = changes
        self.assumption = assumption
        self.tier = UNSAFE if changes else SAFE


def argv_items(finding: Finding) -> Optional[List[Union[str, bytes]]]:
    """Return the argv of a literal command that needs no shell, in the literal's type."""
    if finding.argv is None:
        return None
    if isinstance(finding.command, str):
        return [os.fsdecode(item) for item in finding.argv]
    return list(finding.argv)


def command_forms(finding: Finding) -> Tuple[Form, Optional[Form]]:
    """The safe (shell) form of the command, and the argument-list form when there is one."""
    safe = Form(None, with_shell=True)
    items = argv_items(finding)
    if items is not None:
        rendered = _suggest.render_list(items, double_quotes=finding.double_quotes)
        return safe, Form(rendered, with_shell=False, changes=ARGV_CHANGES)
    if finding.template is not None and finding.words is not None:
        rendered = finding.template.render_argv(finding.words, double_quotes=finding.double_quotes)
        values = ", ".join(finding.template.value_sources())
        return safe, Form(
            rendered,
            with_shell=False,
            changes=(*ARGV_CHANGES, _changes.WORD_SPLITTING),
            assumption=f"assumes {one_line(values)}: {ASSUMPTION}",
        )
    return safe, None


def suggestion(finding: Finding) -> Tuple[str, Tuple[str, ...], Optional[str]]:
    """The suggestion for a call, the behaviours it changes, and what it assumes.

    One line of valid Python, then a comment giving ``os.system``'s status
    back from ``returncode`` (for ``os.popen``: what its ``close()``
    returned).  The argument-list form when there is one, else the shell form.
    """
    safe, unsafe = command_forms(finding)
    form = unsafe or safe
    if finding.name == "os.popen":
        return _popen_suggestion(finding, form), form.changes, form.assumption
    if form.argument is not None:
        call = _suggest.run_call(form.argument, with_shell=False)
        return f"{call}.returncode  {_suggest.STATUS_HINT}", form.changes, form.assumption
    if finding.command is not None:
        text = _suggest.literal_suggestion(
            finding.command, None, double_quotes=finding.double_quotes
        )
        return text, (), None
    return _suggest.expression_suggestion(one_line(finding.argument or "command")), (), None


def _popen_suggestion(finding: Finding, form: Form) -> str:
    """``subprocess.run(...).stdout`` for a whole ``read()``, else the streaming ``Popen``."""
    whole_read = finding.reader_span is not None and not finding.mode.startswith("w")
    if form.argument is not None:
        argument, with_shell = form.argument, False
    elif finding.command is not None:
        argument = _suggest.render_literal(finding.command, double_quotes=finding.double_quotes)
        with_shell = True
    else:
        argument, with_shell = one_line(finding.argument or "cmd"), True
    if whole_read:
        return _suggest.popen_run_suggestion(argument, with_shell=with_shell)
    return _suggest.popen_suggestion(argument, with_shell=with_shell, mode=finding.mode)


def one_line(source: str) -> str:
    """An expression's source on one line, when its line breaks can go.

    Line breaks inside brackets or between implicitly joined strings carry
    no meaning and are replaced by one space; a triple-quoted string or a
    comment that spans them keeps the text as it is.
    """
    if "\n" not in source and "\r" not in source:
        return source
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(f"({source})").readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return source
    for token in tokens:
        if token.type == tokenize.COMMENT:
            return source
        if token.type not in (tokenize.NL, tokenize.NEWLINE) and token.start[0] != token.end[0]:
            return source  # a string over several lines
    return " ".join(line.strip() for line in source.splitlines() if line.strip())
