"""Finding the ``os.system`` and ``os.popen`` calls of a module, and describing each.

:func:`find_calls` is what ``shim scan`` reports, what ``shim fix``
rewrites from and what ``shim report`` matches its call sites with: besides
the call itself, each :class:`~shim._tools.scan.finding.Finding` says what
the command is (a literal, a template of literal parts and values, or an
expression), whether it needs a shell, the ``subprocess`` call that replaces
it and what that changes, how the program uses what the call returns, and
whether a ``# shim: ignore`` comment suppresses it.
"""

from __future__ import annotations

import ast
import io
import os
import re
import tokenize
import warnings
from typing import Callable, Dict, List, Optional, Set, Tuple

from shim._common import syntax as _shell
from shim._tools.scan import usage as _usage
from shim._tools.scan.binding import (
    FUNCTIONS,
    STATUS_FUNCTIONS,
    SUBPROCESS,
    SYS_EXIT,
    Binder,
    Resolver,
    Scope,
    constant_str,
)
from shim._tools.scan.finding import Finding, Span
from shim._tools.scan.fingerprint import fingerprint
from shim._tools.scan.replace import argv_items, suggestion
from shim._tools.scan.source import char_column, collapse, segment, split_lines
from shim._tools.scan.template import template_of

__all__ = [
    "SUPPRESSION",
    "analyse_command",
    "argv_items",
    "find_calls",
    "span_of",
    "suppressed_lines",
]

_MENTIONS = re.compile(r"system|popen")
#: The comment that keeps a call out of scan, report and fix, on any line of the call.
SUPPRESSION = "# shim: ignore"
_SUPPRESSION = re.compile(r"#.*?\bshim:\s*ignore\b")


def find_calls(source: str, path: str) -> List[Finding]:
    """Every ``os.system`` and ``os.popen`` call in ``source``, in source order.

    ``path`` only labels the findings.  Raises :class:`SyntaxError` (or
    :class:`ValueError` for a NUL byte) when the source does not parse.
    Source that does not mention ``system`` or ``popen`` cannot call them
    and is not even parsed.  Suppressed calls are returned too, marked.
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
    scopes: Dict[ast.Call, Scope] = {}
    for node, scope in binder.calls:
        scopes[node] = scope
        kinds = resolver.kinds(node.func, scope)
        name = next((function for function in FUNCTIONS if function in kinds), None)
        if name is not None:
            calls.append((node, scope, name))
    if not calls:
        return []
    parents = _usage.parent_map(tree)
    lines = split_lines(source)
    quiet = suppressed_lines(source)

    def status_function(call: ast.Call) -> Optional[str]:
        scope = scopes.get(call)
        if scope is None:
            return None
        kinds = resolver.kinds(call.func, scope)
        return next((kind for kind in (*STATUS_FUNCTIONS, SYS_EXIT) if kind in kinds), None)

    findings: List[Finding] = []
    for node, scope, name in calls:
        finding = Finding(path, f"os.{name}")
        finding.function = scope.qualname
        finding.start, finding.end = _span(lines, node)
        finding.spelling = collapse(segment(lines, node.func) or name)
        finding.callee_span = _span(lines, node.func)
        finding.fingerprint = fingerprint(node)
        subprocess_kinds = resolver.name_kinds(SUBPROCESS, scope)
        if subprocess_kinds is None:
            finding.subprocess_name = "free"
        elif subprocess_kinds == {SUBPROCESS}:
            finding.subprocess_name = "module"
        else:
            finding.subprocess_name = "taken"
        finding.suppressed = any(
            line in quiet for line in range(finding.start[0], finding.end[0] + 1)
        )
        _describe(finding, node, lines, parents, status_function)
        findings.append(finding)
    findings.sort(key=lambda finding: (finding.start, finding.end))
    seen: Dict[Tuple[str, str], int] = {}
    for finding in findings:
        key = (finding.function, finding.fingerprint)
        finding.occurrence = seen.get(key, 0)
        seen[key] = finding.occurrence + 1
    return findings


def suppressed_lines(source: str) -> Set[int]:
    """The lines that carry a ``# shim: ignore`` comment."""
    if "shim:" not in source:
        return set()
    found: Set[int] = set()
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT and _SUPPRESSION.search(token.string):
                found.add(token.start[0])
    except (tokenize.TokenError, SyntaxError, IndentationError):
        # The file parsed, so this is a tokenizer difference: fall back to
        # the text, which at worst also honours the comment inside a string.
        for number, line in enumerate(split_lines(source), 1):
            if _SUPPRESSION.search(line):
                found.add(number)
    return found


def span_of(lines: List[str], node: ast.AST) -> Span:
    """Where ``node`` is, in 1-based lines and 0-based character columns."""
    return _span(lines, node)


def _span(lines: List[str], node: ast.AST) -> Span:
    start_line: int = node.lineno  # type: ignore[attr-defined]
    start_col: int = node.col_offset  # type: ignore[attr-defined]
    end_line = getattr(node, "end_lineno", None) or start_line
    end_col = getattr(node, "end_col_offset", None)
    if end_col is None:
        end_col = start_col
    return (
        (start_line, char_column(lines, start_line, start_col)),
        (end_line, char_column(lines, end_line, end_col)),
    )


def _command_argument(node: ast.Call, keyword: str) -> Tuple[Optional[ast.expr], bool]:
    """Return the command argument when the call binds it plainly, and whether by keyword."""
    positional = [arg for arg in node.args if not isinstance(arg, ast.Starred)]
    if len(positional) != len(node.args) or any(kw.arg is None for kw in node.keywords):
        return None, False  # *args or **kwargs: nothing is certain
    if node.args:
        return node.args[0], False
    for kw in node.keywords:
        if kw.arg == keyword:
            return kw.value, True
    return None, False


def _describe(
    finding: Finding,
    node: ast.Call,
    lines: List[str],
    parents: Dict[ast.AST, ast.AST],
    status_function: Callable[[ast.Call], Optional[str]],
) -> None:
    """Fill in the command, the shell analysis, the suggestion and the usage."""
    is_system = finding.name == "os.system"
    argument, finding.keyword = _command_argument(node, "command" if is_system else "cmd")
    if argument is not None:
        finding.argument = segment(lines, argument)
        finding.argument_span = _span(lines, argument)
        analyse_command(finding, argument, lines)
    if is_system:
        _describe_system(finding, node, lines, parents, status_function)
    else:
        _describe_popen(finding, node, argument, lines, parents)
    finding.suggestion, finding.changes, finding.assumption = suggestion(finding)


def _describe_system(
    finding: Finding,
    node: ast.Call,
    lines: List[str],
    parents: Dict[ast.AST, ast.AST],
    status_function: Callable[[ast.Call], Optional[str]],
) -> None:
    plain = finding.argument_span is not None and len(node.args) + len(node.keywords) == 1
    if not plain:
        finding.refusal = "os.system is called with unusual arguments"
        return
    usage, replaced = _usage.system_usage(node, parents, status_function)
    finding.usage = usage
    finding.replaced_span = _span(lines, replaced)
    if usage in (_usage.VALUE, _usage.EXIT):
        finding.use = _usage.value_use(node, parents)


def _describe_popen(
    finding: Finding,
    node: ast.Call,
    argument: Optional[ast.expr],
    lines: List[str],
    parents: Dict[ast.AST, ast.AST],
) -> None:
    mode = "r"
    extra = len(node.args) + len(node.keywords) - 1
    mode_node: Optional[ast.expr] = node.args[1] if len(node.args) > 1 else None
    for kw in node.keywords:
        if kw.arg == "mode":
            mode_node = kw.value
    if mode_node is not None:
        mode = constant_str(mode_node) or "r"
        if constant_str(mode_node) is None:
            finding.refusal = "os.popen's mode is not a literal"
    finding.mode = mode
    if argument is None or extra > (1 if mode_node is not None else 0):
        finding.refusal = "os.popen is called with unusual arguments"
    if mode not in ("r", "w"):
        finding.refusal = f"os.popen's mode {mode!r} is not 'r' or 'w'"
    if finding.refusal is not None:
        return
    usage, reader, refusal = _usage.popen_usage(node, parents, mode)
    finding.usage = usage
    finding.refusal = refusal
    finding.replaced_span = _span(lines, node)
    if reader is not None:
        finding.reader_span = _span(lines, reader)


def analyse_command(finding: Finding, argument: ast.expr, lines: List[str]) -> None:
    """What the command is: a literal (and whether it needs a shell), or a template's words."""
    if isinstance(argument, ast.Constant) and isinstance(argument.value, (str, bytes)):
        finding.command = argument.value
        finding.double_quotes = (finding.argument or "").lstrip("bBrRuU").startswith('"')
        _analyse(finding)
    else:
        _analyse_template(finding, argument, lines)


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


def _analyse_template(finding: Finding, argument: ast.expr, lines: List[str]) -> None:
    """For a command built from literal parts and values: its words, when no shell is needed."""
    template = template_of(argument, lines)
    if template is None:
        return
    finding.template = template
    finding.double_quotes = (finding.argument or "").lstrip("bBrRuUfF").startswith('"') or (
        '"' in (finding.argument or "") and "'" not in (finding.argument or "")
    )
    finding.words, finding.template_reason = template.words()
