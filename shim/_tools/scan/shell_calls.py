"""``subprocess`` calls that pass ``shell=True`` a command that needs no shell.

The safe tier of ``shim fix`` writes ``subprocess.run(cmd, shell=True,
check=False)``.  When the command is a literal, or a template whose literal
parts need no shell, ``shim fix --unsafe-fixes`` can later turn it into an
argument list, as it would have turned the ``os.system`` call: so a team
can take the safe tier first, review and commit it, and the unsafe tier
after.  The same holds for such calls the program had already.

Found here: ``subprocess.run``, ``call``, ``check_call``, ``check_output``
and ``Popen`` reached as attributes of the ``subprocess`` module, with the
command as the first positional argument and ``shell=True`` written as a
keyword, and no ``executable=`` (which would change what runs).
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING, List, Optional, Tuple

from shim._tools.scan.binding import SUBPROCESS, Binder, Resolver
from shim._tools.scan.finding import Finding

if TYPE_CHECKING:
    from shim._tools.scan.finding import Span

__all__ = ["FUNCTIONS", "ShellCall", "find_shell_calls"]

FUNCTIONS = ("run", "call", "check_call", "check_output", "Popen")


class ShellCall:
    """A ``subprocess`` call with ``shell=True``: the finding, and where ``shell=True`` is."""

    __slots__ = ("finding", "shell_span")

    def __init__(self, finding: Finding, shell_span: Span) -> None:
        self.finding = finding
        #: From the end of what precedes ``shell=True`` to the end of ``True``.
        self.shell_span = shell_span


def find_shell_calls(tree: ast.Module, lines: List[str], path: str) -> List[ShellCall]:
    """The ``subprocess`` calls of a parsed module whose command could lose ``shell=True``."""
    from shim._tools.scan.calls import analyse_command, span_of
    from shim._tools.scan.source import segment

    binder = Binder(tree)
    resolver = Resolver(binder.module)
    found: List[ShellCall] = []
    for node, scope in binder.calls:
        func = node.func
        if not (isinstance(func, ast.Attribute) and func.attr in FUNCTIONS):
            continue
        if SUBPROCESS not in resolver.kinds(func.value, scope):
            continue
        located = _shell_keyword(node)
        if located is None:
            continue
        previous, shell_value = located
        argument = node.args[0]
        finding = Finding(path, f"subprocess.{func.attr}")
        finding.function = scope.qualname
        finding.start, finding.end = span_of(lines, node)
        finding.callee_span = span_of(lines, func)
        finding.argument = segment(lines, argument)
        finding.argument_span = span_of(lines, argument)
        finding.replaced_span = finding.start, finding.end
        finding.subprocess_name = "module"
        analyse_command(finding, argument, lines)
        shell_span = (span_of(lines, previous)[1], span_of(lines, shell_value)[1])
        found.append(ShellCall(finding, shell_span))
    return found


def _shell_keyword(node: ast.Call) -> Optional[Tuple[ast.expr, ast.expr]]:
    """``(what precedes shell=True, its True)`` for a plain call, else ``None``."""
    if len(node.args) != 1 or isinstance(node.args[0], ast.Starred):
        return None
    names = [keyword.arg for keyword in node.keywords]
    if None in names or "executable" in names or "shell" not in names:
        return None
    index = names.index("shell")
    value = node.keywords[index].value
    if not (isinstance(value, ast.Constant) and value.value is True):
        return None
    previous = node.args[0] if index == 0 else node.keywords[index - 1].value
    return previous, value
