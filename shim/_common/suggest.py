"""The ``subprocess`` code that replaces an ``os.system`` or ``os.popen`` call.

Every audit record and every finding of ``shim scan`` carries one such
suggestion: a single line of valid Python, then a comment saying how to get
``os.system``'s status back from ``returncode``.  ``os.system`` returns a
wait status (the exit code shifted left by 8, or the signal number), while
``subprocess`` gives ``returncode`` (the exit code, or minus the signal
number); both are 0 exactly when the command succeeded.

The suggestion keeps the behaviour that matters for a migration: an argv
list when the command needs no shell, ``shell=True`` with the same command
otherwise.  ``shell=True`` runs ``/bin/sh -c command`` with ``$0`` set to
``/bin/sh`` rather than ``sh``, which only shows in the shell's own error
messages (``/bin/sh: 1: foo: not found``).
"""

from typing import List, Optional, Sequence, Union

__all__ = [
    "STATUS_HINT",
    "expression_suggestion",
    "literal_suggestion",
    "popen_literal_suggestion",
    "popen_run_suggestion",
    "popen_suggestion",
    "render_list",
    "render_literal",
    "run_call",
    "suggestion",
]

#: How to turn ``returncode`` (``rc``) back into what ``os.system`` returned.
#: The core-dump bit (0x80) of a signal status has no ``returncode`` form.
STATUS_HINT = "# os.system's status: rc << 8 if rc >= 0 else -rc"

#: The same for the file object of ``os.popen``, whose ``close()`` returns
#: ``None`` on success and the shifted ``returncode`` otherwise.
_POPEN_HINT = "# os.popen's file; its close() gave None if rc == 0 else rc << 8"
#: The same for ``os.popen(...).read()`` replaced by ``subprocess.run``.
_READ_HINT = "# os.popen(...).read(); its close() status: None if rc == 0 else rc << 8"


def render_literal(value: Union[str, bytes], *, double_quotes: bool = False) -> str:
    """Render ``value`` as a Python literal, in double quotes when asked and possible.

    Without ``double_quotes`` this is ``repr(value)``.  With it, a value whose
    ``repr`` uses single quotes is written with double quotes instead when it
    contains no quote character at all, so a rewrite can match the quoting
    style of the file it edits; the result is always a literal that
    evaluates to ``value``.
    """
    text = repr(value)
    if not double_quotes or '"' in text:
        return text
    prefix = "b" if isinstance(value, bytes) else ""
    body = text[len(prefix) + 1 : -1]
    # repr() only escapes a single quote when the value holds both kinds of
    # quote, and the check above ruled out '"', so the body has no quote of
    # either kind left and can be put between double quotes unchanged.
    return f'{prefix}"{body}"'


def render_list(items: Sequence[Union[str, bytes]], *, double_quotes: bool = False) -> str:
    """Render ``items`` as a list literal, each item by :func:`render_literal`."""
    inner = ", ".join(render_literal(item, double_quotes=double_quotes) for item in items)
    return f"[{inner}]"


def run_call(argument: str, *, with_shell: bool) -> str:
    """Render ``subprocess.run(argument, ..., check=False)`` for an argument's source text."""
    if with_shell:
        return f"subprocess.run({argument}, shell=True, check=False)"
    return f"subprocess.run({argument}, check=False)"


def suggestion(command: str, argv: Optional[List[str]]) -> str:
    """Suggest the replacement of an ``os.system(command)`` call, with the status hint.

    ``argv`` is the argument list the command amounts to when it needs no
    shell (then the suggestion passes that list), or ``None`` (then it passes
    ``command`` with ``shell=True``).  For example::

        subprocess.run(['ls', '-l'], check=False).returncode  # os.system's status: ...
    """
    return literal_suggestion(command, argv)


def literal_suggestion(
    command: Union[str, bytes],
    argv: Optional[Sequence[Union[str, bytes]]],
    *,
    double_quotes: bool = False,
) -> str:
    """:func:`suggestion` for a ``str`` or ``bytes`` command, in a chosen quote style."""
    if argv is not None:
        call = run_call(render_list(argv, double_quotes=double_quotes), with_shell=False)
    else:
        call = run_call(render_literal(command, double_quotes=double_quotes), with_shell=True)
    return f"{call}.returncode  {STATUS_HINT}"


def expression_suggestion(source: str) -> str:
    """Suggest the replacement of ``os.system(<source>)`` for a command that is not a literal.

    Whether such a command needs a shell cannot be known before it runs, so
    the suggestion keeps ``shell=True``.
    """
    return f"{run_call(source, with_shell=True)}.returncode  {STATUS_HINT}"


def popen_suggestion(argument: str, *, with_shell: bool, mode: str = "r") -> str:
    """Suggest the replacement of ``os.popen(<argument>, mode)``: the same ``Popen``.

    ``os.popen`` is ``subprocess.Popen`` with a text pipe on the child's
    stdout (mode ``"r"``) or stdin (mode ``"w"``); ``argument`` is the source
    text of the command (an argv list when no shell is needed).
    """
    stream = "stdin" if mode.startswith("w") else "stdout"
    shell_part = ", shell=True" if with_shell else ""
    return (
        f"subprocess.Popen({argument}{shell_part}, {stream}=subprocess.PIPE, text=True)"
        f".{stream}  {_POPEN_HINT}"
    )


def popen_run_suggestion(argument: str, *, with_shell: bool) -> str:
    """Suggest the replacement of ``os.popen(<argument>).read()``: ``subprocess.run``.

    The whole output is read at once, so the command can run to its end
    and hand over its output as ``stdout``; ``returncode`` is the status
    the file's ``close()`` gave.
    """
    shell_part = ", shell=True" if with_shell else ""
    return (
        f"subprocess.run({argument}{shell_part}, stdout=subprocess.PIPE, text=True, "
        f"check=False).stdout  {_READ_HINT}"
    )


def popen_literal_suggestion(
    command: Union[str, bytes], argv: Optional[Sequence[Union[str, bytes]]], *, mode: str
) -> str:
    """:func:`popen_suggestion` for a command known as a value (an audit record's).

    Without the source the use of the file is unknown, so this is the
    streaming form, which fits every use.
    """
    if argv is not None:
        return popen_suggestion(render_list(argv), with_shell=False, mode=mode)
    return popen_suggestion(render_literal(command), with_shell=True, mode=mode)
