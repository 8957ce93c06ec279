"""Finding the ``os.system`` and ``os.popen`` calls of a module, and describing each.

:func:`find_calls` is what ``shim scan`` reports and what ``shim fix``
rewrites from: besides the call itself, each
:class:`~shim._tools.scan.finding.Finding` says what the command is when it
is a literal, whether it needs a shell, the ``subprocess`` call that
replaces it, and how the program uses the status (a statement, a truth
value, a comparison with 0, or something a rewrite cannot keep).
"""

from __future__ import annotations

import ast
import os
import re
import warnings
from typing import Dict, List, Optional, Tuple, Union

from shim._common import suggest as _suggest
from shim._common import syntax as _shell
from shim._tools.scan.binding import FUNCTIONS, SUBPROCESS, Binder, Resolver, Scope, constant_str
from shim._tools.scan.finding import Finding
from shim._tools.scan.fingerprint import fingerprint
from shim._tools.scan.source import char_column, collapse, segment, split_lines
from shim._tools.scan.usage import parent_map, status_usage

__all__ = ["argv_items", "find_calls"]

_MENTIONS = re.compile(r"system|popen")


def find_calls(source: str, path: str) -> List[Finding]:
    """Every ``os.system`` and ``os.popen`` call in ``source``, in source order.

    ``path`` only labels the findings.  Raises :class:`SyntaxError` (or
    :class:`ValueError` for a NUL byte) when the source does not parse.
    Source that does not mention ``system`` or ``popen`` cannot call them
    and is not even parsed.
    """
    if not _MENTIONS.search(source):
        # Every spelling names the function somewhere in the text (only a
        # name spelled for getattr in pieces, "sys" "tem", would not).  Most
        # files do not: parsing is most of the time a scan takes, and a file
        # that cannot call os.system has nothing to hide if it does not parse.
        return []
    with warnings.catch_warnings():
        # Invalid escape sequences and the like are the file's business, not
        # the scan's: no warnings printed (or raised) while parsing it.
        warnings.simplefilter("ignore")
        tree = ast.parse(source, filename=path)
    binder = Binder(tree)
    resolver = Resolver(binder.module)
    calls: List[Tuple[ast.Call, Scope, str]] = []
    for node, scope in binder.calls:
        kinds = resolver.kinds(node.func, scope)
        name = next((function for function in FUNCTIONS if function in kinds), None)
        if name is not None:
            calls.append((node, scope, name))
    if not calls:
        return []
    parents = parent_map(tree)
    lines = split_lines(source)
    findings: List[Finding] = []
    for node, scope, name in calls:
        finding = Finding(path, f"os.{name}")
        finding.function = scope.qualname
        finding.start = (node.lineno, char_column(lines, node.lineno, node.col_offset))
        end_line = node.end_lineno or node.lineno
        end_col = node.end_col_offset if node.end_col_offset is not None else node.col_offset
        finding.end = (end_line, char_column(lines, end_line, end_col))
        finding.spelling = collapse(segment(lines, node.func) or name)
        finding.fingerprint = fingerprint(node)
        subprocess_kinds = resolver.name_kinds(SUBPROCESS, scope)
        if subprocess_kinds is None:
            finding.subprocess_name = "free"
        elif subprocess_kinds == {SUBPROCESS}:
            finding.subprocess_name = "module"
        else:
            finding.subprocess_name = "taken"
        _describe(finding, node, lines, parents)
        findings.append(finding)
    findings.sort(key=lambda finding: (finding.start, finding.end))
    seen: Dict[Tuple[str, str], int] = {}
    for finding in findings:
        key = (finding.function, finding.fingerprint)
        finding.occurrence = seen.get(key, 0)
        seen[key] = finding.occurrence + 1
    return findings


def _command_argument(node: ast.Call, keyword: str) -> Optional[ast.expr]:
    """Return the command argument when the call binds it plainly, else ``None``."""
    positional = [arg for arg in node.args if not isinstance(arg, ast.Starred)]
    if len(positional) != len(node.args) or any(kw.arg is None for kw in node.keywords):
        return None  # *args or **kwargs: nothing is certain
    if node.args:
        return node.args[0]
    for kw in node.keywords:
        if kw.arg == keyword:
            return kw.value
    return None


def _describe(
    finding: Finding, node: ast.Call, lines: List[str], parents: Dict[ast.AST, ast.AST]
) -> None:
    """Fill in the command, the shell analysis, the suggestion and the usage."""
    is_system = finding.name == "os.system"
    argument = _command_argument(node, "command" if is_system else "cmd")
    plain = argument is not None and (
        len(node.args) + len(node.keywords) == 1 if is_system else True
    )
    if argument is not None:
        finding.argument = segment(lines, argument)
        if isinstance(argument, ast.Constant) and isinstance(argument.value, (str, bytes)):
            finding.command = argument.value
            finding.double_quotes = (finding.argument or "").lstrip("bBrRuU").startswith('"')
            _analyse(finding)
    if is_system:
        finding.suggestion = _system_suggestion(finding)
        if not plain:
            finding.refusal = "os.system is called with unusual arguments"
        else:
            finding.usage, finding.refusal = status_usage(node, parents)
    else:
        finding.suggestion = _popen_suggestion(finding, node)
        finding.refusal = "os.popen returns a file object: rewrite it by hand"


def _analyse(finding: Finding) -> None:
    command = finding.command
    if command is None:
        return
    try:
        data = os.fsencode(command) if isinstance(command, str) else command
    except UnicodeEncodeError:
        finding.shell_reason = "the command cannot be encoded (os.system raises)"
        return
    if b"\0" in data:
        finding.shell_reason = "the command contains a NUL byte (os.system raises)"
        return
    analysis = _shell.analyze(data)
    finding.argv = analysis.argv
    finding.shell = analysis.argv is None
    finding.shell_reason = analysis.reason if analysis.argv is None else None


def argv_items(finding: Finding) -> Optional[List[Union[str, bytes]]]:
    """Return the argv of a literal command that needs no shell, in the literal's type."""
    if finding.argv is None:
        return None
    if isinstance(finding.command, str):
        return [os.fsdecode(item) for item in finding.argv]
    return list(finding.argv)


def _system_suggestion(finding: Finding) -> str:
    if finding.command is not None:
        return _suggest.literal_suggestion(
            finding.command, argv_items(finding), double_quotes=finding.double_quotes
        )
    return _suggest.expression_suggestion(finding.argument or "command")


def _popen_suggestion(finding: Finding, node: ast.Call) -> str:
    mode = "r"
    mode_node: Optional[ast.expr] = node.args[1] if len(node.args) > 1 else None
    for kw in node.keywords:
        if kw.arg == "mode":
            mode_node = kw.value
    if mode_node is not None:
        mode = constant_str(mode_node) or "r"
    items = argv_items(finding)
    quotes = finding.double_quotes
    if items is not None:
        return _suggest.popen_suggestion(
            _suggest.render_list(items, double_quotes=quotes), with_shell=False, mode=mode
        )
    if finding.command is not None:
        argument = _suggest.render_literal(finding.command, double_quotes=quotes)
    else:
        argument = finding.argument or "cmd"
    return _suggest.popen_suggestion(argument, with_shell=True, mode=mode)
