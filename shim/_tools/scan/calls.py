"""``shim scan``: find ``os.system`` and ``os.popen`` calls in source code.

The search works on the syntax tree (``ast``), so it sees every spelling a
program can use: ``import os``, ``import os as o``, ``from os import
system``, ``from os import system as run``, ``import posix`` and
``getattr(os, "system")`` with a literal name, in any scope, and it does not
confuse a local variable that happens to be called ``system`` with the real
thing.  Names are resolved the way Python resolves them (local, enclosing
functions, module; class bodies are not seen from their methods), but
without following the flow of the program: a name that is *somewhere* bound
to ``os.system`` in its scope counts, because missing a call is worse than
reporting one that a branch never reaches.

:func:`find_calls` is also what ``shim fix`` uses: besides the call itself,
each :class:`Finding` says how the program uses the status (a statement, a
truth value, a comparison with 0, or something a rewrite cannot keep).
"""

from __future__ import annotations

import ast
import hashlib
import io
import json
import os
import re
import sys
import time
import tokenize
import warnings
from pathlib import Path
from typing import (
    IO,
    TYPE_CHECKING,
    Any,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    Optional,
    Sequence,
    Set,
    Tuple,
    Union,
    final,
)

from shim._common import suggest as _suggest
from shim._common import syntax as _shell

if TYPE_CHECKING:
    import argparse

__all__ = [
    "Finding",
    "PathError",
    "Progress",
    "Skipped",
    "argv_items",
    "collect_files",
    "decode_source",
    "find_calls",
    "read_source",
    "register",
    "run",
    "scan",
    "scan_file",
]

#: Directories never walked into: version control, caches, virtual
#: environments and installed packages are not the project's code.
SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".tox",
        ".nox",
        ".venv",
        "venv",
        "__pycache__",
        "node_modules",
        "site-packages",
        "dist-packages",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".eggs",
    }
)

#: Below this many files a scan is over before a progress line could help.
PROGRESS_MIN_FILES_TTY = 50
#: When stderr is not a terminal (a CI log), progress is shown only for
#: trees at least this large, one line at most every PROGRESS_LOG_INTERVAL.
PROGRESS_MIN_FILES_LOG = 2000
PROGRESS_LOG_INTERVAL = 10.0
PROGRESS_TTY_INTERVAL = 0.1

BASELINE_VERSION = 1

_OS_MODULES = frozenset({"os", "posix", "nt"})
_FUNCTIONS = ("system", "popen")
_OS = "os"
_SUBPROCESS = "subprocess"

# A binding is a kind ("os", "system", "popen", "subprocess", or "" for
# anything else) or an alias: the expression assigned to the name and the
# scope it was evaluated in, resolved only when the name is looked up.
_Binding = Union[str, Tuple[ast.expr, "_Scope"]]

_FunctionNode = Union[ast.FunctionDef, ast.AsyncFunctionDef]


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
            "command": _json_text(self.command_text),
            "shell": self.shell,
            "shell_reason": self.shell_reason,
            "suggestion": self.suggestion,
        }


def _json_text(text: Optional[str]) -> Optional[str]:
    # Lone surrogates (undecodable file names in a command) are not valid in
    # strict JSON readers; show them as the escapes Python would print.
    if text is None:
        return None
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


# ---------------------------------------------------------------------------
# Scopes and name resolution


class _Scope:
    __slots__ = (
        "bindings",
        "globals",
        "is_class",
        "is_function",
        "nonlocals",
        "parent",
        "qualname",
    )

    def __init__(self, parent: Optional[_Scope], qualname: str, kind: str) -> None:
        self.parent = parent
        self.qualname = qualname
        self.is_class = kind == "class"
        self.is_function = kind == "function"
        self.bindings: Dict[str, List[_Binding]] = {}
        self.globals: Set[str] = set()
        self.nonlocals: Set[str] = set()

    def child_name(self, name: str) -> str:
        return name if self.parent is None else f"{self.qualname}.{name}"


class _Binder(ast.NodeVisitor):
    """First pass: every scope, what each name in it may be bound to, and calls."""

    def __init__(self, tree: ast.Module) -> None:
        self.module = _Scope(None, "<module>", "module")
        self.scope = self.module
        self.calls: List[Tuple[ast.Call, _Scope]] = []
        self._methods: Dict[type, Callable[[Any], None]] = {}
        self.visit(tree)

    # NodeVisitor's own visit() and generic_visit() look the method up and
    # build generators for every node; this pass sees every node of every
    # file that mentions os.system, so it does the same with less.

    def visit(self, node: ast.AST) -> None:
        kind = type(node)
        try:
            method = self._methods[kind]
        except KeyError:
            method = getattr(self, f"visit_{kind.__name__}", self.generic_visit)
            self._methods[kind] = method
        method(node)

    def generic_visit(self, node: ast.AST) -> None:
        for field in node._fields:
            value = getattr(node, field, None)
            if isinstance(value, list):
                for item in value:
                    if isinstance(item, ast.AST):
                        self.visit(item)
            elif isinstance(value, ast.AST):
                self.visit(value)

    # -- binding

    def bind(self, name: str, binding: _Binding) -> None:
        scope = self.scope
        if name in scope.globals:
            scope = self.module
        elif name in scope.nonlocals:
            outer = scope.parent
            while outer is not None and not outer.is_function:
                outer = outer.parent
            scope = outer or self.module
        scope.bindings.setdefault(name, []).append(binding)

    def enter(self, name: str, kind: str) -> _Scope:
        scope = _Scope(self.scope, self.scope.child_name(name), kind)
        self.scope = scope
        return scope

    def leave(self, scope: _Scope) -> None:
        self.scope = scope.parent or self.module

    # -- statements that bind

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            top = alias.name.split(".")[0]
            if alias.asname:
                # "import os.path as p" binds the submodule, not os.
                kind = _module_kind(alias.name)
                self.bind(alias.asname, kind)
            else:
                self.bind(top, _module_kind(top))

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        from_os = node.level == 0 and node.module in _OS_MODULES
        for alias in node.names:
            if alias.name == "*":
                if from_os:
                    for function in _FUNCTIONS:
                        self.bind(function, function)
                continue
            kind = alias.name if from_os and alias.name in _FUNCTIONS else ""
            self.bind(alias.asname or alias.name, kind)

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        for target in node.targets:
            if isinstance(target, ast.Name) and len(node.targets) == 1:
                self.bind(target.id, (node.value, self.scope))
            else:
                self.visit(target)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self.visit(node.annotation)
        if node.value is not None:
            self.visit(node.value)
        if isinstance(node.target, ast.Name) and node.value is not None:
            self.bind(node.target.id, (node.value, self.scope))
        else:
            self.visit(node.target)

    def visit_Constant(self, node: ast.Constant) -> None:
        # Nothing to bind in a constant; and NodeVisitor's own visit_Constant
        # looks for the deprecated visit_Num & co. on every one of them.
        pass

    def visit_Name(self, node: ast.Name) -> None:
        if not isinstance(node.ctx, ast.Load):
            self.bind(node.id, "")

    def visit_Global(self, node: ast.Global) -> None:
        self.scope.globals.update(node.names)

    def visit_Nonlocal(self, node: ast.Nonlocal) -> None:
        self.scope.nonlocals.update(node.names)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.name:
            self.bind(node.name, "")
        self.generic_visit(node)

    # Pattern matching (3.10+): the capture names bind like assignments.
    def visit_MatchAs(self, node: ast.AST) -> None:
        self._bind_pattern(node, "name")

    def visit_MatchStar(self, node: ast.AST) -> None:
        self._bind_pattern(node, "name")

    def visit_MatchMapping(self, node: ast.AST) -> None:
        self._bind_pattern(node, "rest")

    def _bind_pattern(self, node: ast.AST, field: str) -> None:
        name = getattr(node, field, None)
        if isinstance(name, str):
            self.bind(name, "")
        self.generic_visit(node)

    # -- scopes

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._function(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._function(node)

    def _function(self, node: _FunctionNode) -> None:
        # Decorators, defaults and annotations run in the enclosing scope.
        for decorator in node.decorator_list:
            self.visit(decorator)
        self._defaults(node.args)
        if node.returns is not None:
            self.visit(node.returns)
        self.bind(node.name, "")
        scope = self.enter(node.name, "function")
        self._parameters(node.args)
        for statement in node.body:
            self.visit(statement)
        self.leave(scope)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._defaults(node.args)
        scope = self.enter("<lambda>", "function")
        self._parameters(node.args)
        self.visit(node.body)
        self.leave(scope)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for expression in [*node.decorator_list, *node.bases]:
            self.visit(expression)
        for keyword in node.keywords:
            self.visit(keyword.value)
        self.bind(node.name, "")
        scope = self.enter(node.name, "class")
        for statement in node.body:
            self.visit(statement)
        self.leave(scope)

    def _defaults(self, args: ast.arguments) -> None:
        for default in [*args.defaults, *args.kw_defaults]:
            if default is not None:
                self.visit(default)
        for arg in _all_parameters(args):
            if arg.annotation is not None:
                self.visit(arg.annotation)

    def _parameters(self, args: ast.arguments) -> None:
        for arg in _all_parameters(args):
            self.bind(arg.arg, "")

    def visit_Call(self, node: ast.Call) -> None:
        self.calls.append((node, self.scope))
        self.generic_visit(node)


def _all_parameters(args: ast.arguments) -> List[ast.arg]:
    parameters = [*args.posonlyargs, *args.args, *args.kwonlyargs]
    parameters.extend(arg for arg in (args.vararg, args.kwarg) if arg is not None)
    return parameters


def _module_kind(name: str) -> str:
    if name in _OS_MODULES:
        return _OS
    if name == _SUBPROCESS:
        return _SUBPROCESS
    return ""


def _lookup(name: str, scope: _Scope, module: _Scope) -> Optional[List[_Binding]]:
    """Return the bindings a name read in ``scope`` may refer to; ``None`` when unbound."""
    if name in scope.globals:
        return module.bindings.get(name)
    current: Optional[_Scope] = scope
    first = True
    while current is not None:
        # A class body's names are invisible to the functions inside it.
        if not (current.is_class and not first) and name in current.bindings:
            return current.bindings[name]
        current = current.parent
        first = False
    return None


class _Resolver:
    """What an expression may evaluate to, as a set of kinds."""

    def __init__(self, module: _Scope) -> None:
        self.module = module

    def kinds(self, node: ast.expr, scope: _Scope, depth: int = 0) -> Set[str]:
        if depth > 30:  # an alias cycle ("a = b; b = a") resolves to nothing
            return set()
        if isinstance(node, ast.Name):
            return self.name_kinds(node.id, scope, depth) or set()
        if isinstance(node, ast.Attribute):
            if node.attr in _FUNCTIONS and _OS in self.kinds(node.value, scope, depth + 1):
                return {node.attr}
            return set()
        if isinstance(node, ast.Call):
            return self._call_kinds(node, scope, depth)
        return set()

    def name_kinds(self, name: str, scope: _Scope, depth: int = 0) -> Optional[Set[str]]:
        """Return the kinds of a name, or ``None`` when nothing in the file binds it."""
        bindings = _lookup(name, scope, self.module)
        if bindings is None:
            return None
        kinds: Set[str] = set()
        for binding in bindings:
            if isinstance(binding, str):
                kinds.add(binding)
            else:
                kinds |= self.kinds(binding[0], binding[1], depth + 1) or {""}
        return kinds

    def _call_kinds(self, node: ast.Call, scope: _Scope, depth: int) -> Set[str]:
        func = node.func
        if not isinstance(func, ast.Name) or node.keywords:
            return set()
        if _lookup(func.id, scope, self.module) is not None:
            return set()  # not the builtin
        args = node.args
        if func.id == "getattr" and len(args) in (2, 3):
            name = _constant_str(args[1])
            if name in _FUNCTIONS and _OS in self.kinds(args[0], scope, depth + 1):
                return {name}
        if func.id == "__import__" and args and _constant_str(args[0]) in _OS_MODULES:
            return {_OS}
        return set()


def _constant_str(node: ast.expr) -> Optional[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


# ---------------------------------------------------------------------------
# How the status is used


def _parents(tree: ast.AST) -> Dict[ast.AST, ast.AST]:
    parents: Dict[ast.AST, ast.AST] = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[child] = node
    return parents


def _value_unused(node: ast.AST, parents: Dict[ast.AST, ast.AST]) -> bool:
    return isinstance(parents.get(node), ast.Expr)


def _truth_tested(node: ast.AST, parents: Dict[ast.AST, ast.AST]) -> bool:
    """Whether only the truth of ``node``'s value matters to the program."""
    parent = parents.get(node)
    if isinstance(parent, (ast.If, ast.While, ast.IfExp, ast.Assert)):
        return parent.test is node
    if isinstance(parent, ast.comprehension):
        return node in parent.ifs
    if isinstance(parent, ast.UnaryOp):
        return isinstance(parent.op, ast.Not)
    if isinstance(parent, ast.BoolOp):
        # "a or b" gives one of its operands back, so the status escapes
        # unless the whole expression is itself only tested or discarded.
        return _truth_tested(parent, parents) or _value_unused(parent, parents)
    return False


def _is_zero(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Constant)
        and type(node.value) is int  # not False: "== False" reads as a bug
        and node.value == 0
    )


def _compared_with_zero(node: ast.expr, parent: ast.AST) -> bool:
    if not isinstance(parent, ast.Compare) or len(parent.ops) != 1:
        return False
    if not isinstance(parent.ops[0], (ast.Eq, ast.NotEq)):
        return False
    other = parent.comparators[0] if parent.left is node else parent.left
    return _is_zero(other)


def _usage(node: ast.Call, parents: Dict[ast.AST, ast.AST]) -> Tuple[Optional[str], Optional[str]]:
    """``(usage, None)`` when a rewrite keeps the behaviour, else ``(None, reason)``."""
    parent = parents.get(node)
    if isinstance(parent, ast.Expr):
        return "statement", None
    if _truth_tested(node, parents):
        return "truth", None
    if parent is not None and _compared_with_zero(node, parent):
        return "zero", None
    return None, _refusal(parent)


def _refusal(parent: Optional[ast.AST]) -> str:
    if isinstance(parent, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.NamedExpr)):
        return "the status is stored in a variable"
    if isinstance(parent, ast.Return):
        return "the status is returned"
    if isinstance(parent, ast.Lambda):
        return "the status is returned by a lambda"
    if isinstance(parent, (ast.Call, ast.keyword, ast.Starred)):
        return "the status is passed to another call"
    if isinstance(parent, ast.BinOp):
        if isinstance(parent.op, (ast.RShift, ast.LShift)):
            return "the status is shifted"
        if isinstance(parent.op, (ast.BitAnd, ast.BitOr, ast.BitXor)):
            return "the status is masked"
        return "the status is used in arithmetic"
    if isinstance(parent, ast.Compare):
        return "the status is compared with something other than 0"
    if isinstance(parent, ast.BoolOp):
        return "the status is the value of an and/or expression"
    if isinstance(parent, (ast.Yield, ast.YieldFrom, ast.Await)):
        return "the status is yielded"
    return "the status is used as a value"


# ---------------------------------------------------------------------------
# Finding the calls


def read_source(path: str) -> str:
    """Read a Python file and decode it the way the interpreter does.

    Raises :class:`OSError` when it cannot be read and :class:`SyntaxError`
    (or :class:`UnicodeDecodeError`) when its encoding is broken.
    """
    return decode_source(Path(path).read_bytes())


def decode_source(data: bytes) -> str:
    """Decode Python source bytes by their coding cookie or BOM (default UTF-8)."""
    encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    return data.decode(encoding)


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
    binder = _Binder(tree)
    resolver = _Resolver(binder.module)
    calls: List[Tuple[ast.Call, _Scope, str]] = []
    for node, scope in binder.calls:
        kinds = resolver.kinds(node.func, scope)
        name = next((function for function in _FUNCTIONS if function in kinds), None)
        if name is not None:
            calls.append((node, scope, name))
    if not calls:
        return []
    parents = _parents(tree)
    lines = _split_lines(source)
    findings: List[Finding] = []
    for node, scope, name in calls:
        finding = Finding(path, f"os.{name}")
        finding.function = scope.qualname
        finding.start = (node.lineno, _char_column(lines, node.lineno, node.col_offset))
        end_line = node.end_lineno or node.lineno
        end_col = node.end_col_offset if node.end_col_offset is not None else node.col_offset
        finding.end = (end_line, _char_column(lines, end_line, end_col))
        finding.spelling = _collapse(_segment(lines, node.func) or name)
        finding.fingerprint = _fingerprint(node)
        subprocess_kinds = resolver.name_kinds(_SUBPROCESS, scope)
        if subprocess_kinds is None:
            finding.subprocess_name = "free"
        elif subprocess_kinds == {_SUBPROCESS}:
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
        finding.argument = _segment(lines, argument)
        if isinstance(argument, ast.Constant) and isinstance(argument.value, (str, bytes)):
            finding.command = argument.value
            finding.double_quotes = (finding.argument or "").lstrip("bBrRuU").startswith('"')
            _analyse(finding)
    if is_system:
        finding.suggestion = _system_suggestion(finding)
        if not plain:
            finding.refusal = "os.system is called with unusual arguments"
        else:
            finding.usage, finding.refusal = _usage(node, parents)
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
        mode = _constant_str(mode_node) or "r"
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


_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_MENTIONS = re.compile(r"system|popen")


def _split_lines(source: str) -> List[str]:
    # The parser's idea of a line: str.splitlines() also breaks at form
    # feeds and other characters the tokenizer treats as ordinary.
    return _LINE_BREAK.split(source)


def _segment(lines: List[str], node: ast.expr) -> Optional[str]:
    """Return the source text of ``node`` (``ast.get_source_segment`` on split lines).

    ``ast.get_source_segment`` splits the whole file again on every call.
    """
    end_line, end_col = node.end_lineno, node.end_col_offset
    if end_line is None or end_col is None or not 0 < node.lineno <= end_line <= len(lines):
        return None
    chunk = [line.encode("utf-8") for line in lines[node.lineno - 1 : end_line]]
    if len(chunk) == 1:
        return chunk[0][node.col_offset : end_col].decode("utf-8")
    first, *middle, last = chunk
    parts = [first[node.col_offset :], *middle, last[:end_col]]
    return "\n".join(part.decode("utf-8") for part in parts)


def _char_column(lines: List[str], line: int, byte_offset: int) -> int:
    # ast counts columns in UTF-8 bytes, editors and libcst in characters.
    if not 0 < line <= len(lines):
        return byte_offset
    return len(lines[line - 1].encode("utf-8")[:byte_offset].decode("utf-8", "replace"))


def _collapse(text: str, limit: int = 160) -> str:
    """One line of source: runs of whitespace (and line breaks) become one space."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _canonical(node: object) -> str:
    """Dump a syntax tree the same way on every supported Python.

    ``ast.dump`` differs between versions (``kind=None`` on 3.8, ``Index``
    wrappers before 3.9), so baselines written on one Python would not match
    on another.
    """
    if isinstance(node, list):
        return "[" + ",".join(_canonical(item) for item in node) + "]"
    if not isinstance(node, ast.AST):
        return repr(node)
    kind = type(node).__name__
    if kind == "Index":  # 3.8: a[x] has slice=Index(value=x)
        return _canonical(getattr(node, "value", None))
    if kind == "ExtSlice":  # 3.8: a[x, y:z] has slice=ExtSlice(dims=[...])
        return "Tuple(elts=" + _canonical(getattr(node, "dims", [])) + ")"
    if kind == "JoinedStr":  # 3.12+ keeps empty literal parts (f"{x:>{w}}" has a '')
        parts = [
            part
            for part in getattr(node, "values", [])
            if not (isinstance(part, ast.Constant) and part.value == "")
        ]
        return "JoinedStr(values=" + _canonical(parts) + ")"
    fields = [
        f"{field}={_canonical(getattr(node, field, None))}"
        for field in node._fields
        if field not in ("ctx", "kind", "type_comment")
    ]
    return f"{kind}({','.join(fields)})"


def _fingerprint(node: ast.Call) -> str:
    return hashlib.sha256(_canonical(node).encode("utf-8", "surrogatepass")).hexdigest()[:16]


# ---------------------------------------------------------------------------
# Files


class PathError(Exception):
    """A path given on the command line cannot be used (exit status 2)."""


@final
class Skipped:
    """A file that could not be read or parsed, and why."""

    __slots__ = ("message", "path")

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.message = message

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def collect_files(paths: Sequence[str]) -> List[str]:
    """List the Python files named by ``paths``: files as given, directories walked.

    Directories are walked in sorted order, skipping :data:`SKIP_DIRS`,
    hidden directories' caches and any virtual environment (a directory with
    a ``pyvenv.cfg``); only ``*.py`` files are taken from them, while a file
    named directly is scanned whatever its name.  Raises :class:`PathError`
    for a path that does not exist or cannot be read.
    """
    files: List[str] = []
    for path in paths:
        if not Path(path).exists():
            raise PathError(f"no such file or directory: {path}")
        if Path(path).is_dir():
            if not os.access(path, os.R_OK | os.X_OK):
                raise PathError(f"cannot read directory: {path}")
            files.extend(_walk(path))
        elif not os.access(path, os.R_OK):
            raise PathError(f"cannot read file: {path}")
        else:
            files.append(path)
    return files


def _walk(root: str) -> Iterator[str]:
    for directory, subdirs, names in os.walk(root):
        subdirs[:] = sorted(
            name
            for name in subdirs
            if name not in SKIP_DIRS
            and not Path(directory, name, "pyvenv.cfg").exists()
        )
        for name in sorted(names):
            if name.endswith(".py"):
                yield str(Path(directory, name))


def scan_file(path: str) -> Union[List[Finding], Skipped]:
    """Return the findings of one file, or why it was skipped."""
    try:
        source = read_source(path)
    except OSError as exc:
        return Skipped(path, f"cannot read: {exc.strerror or exc}")
    except (SyntaxError, UnicodeDecodeError, LookupError) as exc:
        return Skipped(path, f"cannot decode: {exc}")
    try:
        return find_calls(source, path)
    except SyntaxError as exc:
        where = f"{path}:{exc.lineno}" if exc.lineno else path
        return Skipped(where, f"cannot parse: {exc.msg}")
    except (ValueError, RecursionError) as exc:
        return Skipped(path, f"cannot parse: {exc}")


@final
class Progress:
    """A progress line on stderr for long scans, quiet for short ones.

    On a terminal it is one line rewritten in place; in a log (CI) only a
    tree of :data:`PROGRESS_MIN_FILES_LOG` files or more gets lines, at most
    one every :data:`PROGRESS_LOG_INTERVAL` seconds.
    """

    def __init__(self, total: int, stream: IO[str], *, tty: Optional[bool] = None) -> None:
        self.total = total
        self.stream = stream
        self.tty = _isatty(stream) if tty is None else tty
        minimum = PROGRESS_MIN_FILES_TTY if self.tty else PROGRESS_MIN_FILES_LOG
        self.enabled = total >= minimum
        self.interval = PROGRESS_TTY_INTERVAL if self.tty else PROGRESS_LOG_INTERVAL
        # A terminal shows the line at once; a log waits a whole interval, so
        # a scan that ends sooner prints nothing there.
        self.last = float("-inf") if self.tty else time.monotonic()
        self.shown = False

    def update(self, done: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.last < self.interval:
            return
        self.last = now
        message = f"shim: scanned {done}/{self.total} files"
        if self.tty:
            self.stream.write(f"\r{message}\x1b[K")
        else:
            self.stream.write(f"{message}\n")
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.enabled and self.tty and self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):
        return False


def scan(
    paths: Sequence[str], *, progress_stream: Optional[IO[str]] = None
) -> Tuple[List[Finding], List[Skipped], List[str]]:
    """Scan the given paths: ``(findings, skipped files, files scanned)``.

    Raises :class:`PathError` for a path that cannot be used.
    """
    files = collect_files(paths)
    progress = Progress(len(files), progress_stream or sys.stderr)
    findings: List[Finding] = []
    skipped: List[Skipped] = []
    try:
        for index, path in enumerate(files):
            result = scan_file(path)
            if isinstance(result, Skipped):
                skipped.append(result)
            else:
                findings.extend(result)
            progress.update(index + 1)
    finally:
        progress.close()
    return findings, skipped, files


# ---------------------------------------------------------------------------
# The baseline


def _baseline_path(path: str, base_dir: str) -> str:
    """``path`` relative to the baseline's directory, with ``/`` separators.

    Relative to the baseline rather than the current directory, so CI and a
    developer's checkout agree whichever directory they run from.
    """
    absolute = Path(path).resolve()
    try:
        relative = os.path.relpath(absolute, base_dir)
    except ValueError:  # another drive on Windows
        relative = str(absolute)
    return relative.replace(os.sep, "/")


_Key = Tuple[str, str, str, int]


def baseline_key(finding: Finding, base_dir: str) -> _Key:
    """Identify a call across edits: file, function, call, occurrence.

    No line numbers: code added above a call must not make it new.  The
    call is compared by its syntax tree, so reformatting it changes nothing;
    ``occurrence`` counts identical calls in the same function.
    """
    return (
        _baseline_path(finding.path, base_dir),
        finding.function,
        finding.fingerprint,
        finding.occurrence,
    )


def _baseline_entry(finding: Finding, base_dir: str) -> Dict[str, Any]:
    path, function, fingerprint, occurrence = baseline_key(finding, base_dir)
    return {
        "path": path,
        "function": function,
        "fingerprint": fingerprint,
        "occurrence": occurrence,
        "call": _json_text(_stable_text(finding)),
    }


def _stable_text(finding: Finding) -> str:
    # For people reading the baseline.  Built from the syntax tree, not the
    # source text, so reformatting a call does not rewrite its entry.
    if finding.command is None:
        return f"{finding.name}(...)"
    return f"{finding.name}({finding.command!r})"


def write_baseline(path: str, findings: Iterable[Finding]) -> int:
    """Write the baseline file (sorted, stable JSON); return the number of calls."""
    base_dir = _base_dir(path)
    entries = sorted(
        (_baseline_entry(finding, base_dir) for finding in findings),
        key=lambda entry: (
            entry["path"],
            entry["function"],
            entry["fingerprint"],
            entry["occurrence"],
        ),
    )
    document = {"version": BASELINE_VERSION, "tool": "shim scan", "calls": entries}
    text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=True) + "\n"
    Path(path).write_bytes(text.encode("utf-8"))
    return len(entries)


def _base_dir(baseline: str) -> str:
    return str(Path(baseline).resolve().parent)


def load_baseline(path: str) -> Set[_Key]:
    """Read the keys recorded in a baseline file; raise :class:`PathError` if unusable."""
    _check_baseline_path(path)
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise PathError(f"cannot read baseline {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise PathError(f"baseline {path} is not valid JSON: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("calls"), list):
        raise PathError(f"baseline {path} is not a shim scan baseline")
    version = document.get("version")
    if not isinstance(version, int) or version > BASELINE_VERSION:
        raise PathError(
            f"baseline {path} has version {version!r}; this shim reads up to "
            f"{BASELINE_VERSION} (upgrade shim)"
        )
    keys = {_entry_key(entry) for entry in document["calls"]}
    if None in keys:
        raise PathError(f"baseline {path} has a malformed entry")
    return {key for key in keys if key is not None}


def _entry_key(entry: Any) -> Optional[_Key]:
    try:
        return (
            str(entry["path"]),
            str(entry["function"]),
            str(entry["fingerprint"]),
            int(entry["occurrence"]),
        )
    except (KeyError, TypeError, ValueError):
        return None


def _check_baseline_path(path: str) -> None:
    if Path(path).is_dir():
        raise PathError(f"baseline is a directory, not a file: {path}")


# ---------------------------------------------------------------------------
# The command


def register(subparsers: Any) -> None:
    """Add the ``scan`` subcommand to an ``argparse`` subparsers object."""
    parser = subparsers.add_parser(
        "scan",
        help="find os.system and os.popen calls in source code",
        description=(
            "Find os.system and os.popen calls in Python source, through every "
            "import spelling, and print where they are, the command when it is "
            "a literal, whether it needs a shell, and the subprocess call that "
            "replaces it.  With --baseline, exit 1 when a call is not in the "
            "baseline (for CI)."
        ),
        epilog=(
            "exit status: 0 no new calls (or no baseline given), 1 calls not in "
            "the baseline, 2 bad input.  Files that do not parse are reported "
            "and skipped."
        ),
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files or directories")
    parser.add_argument(
        "--baseline",
        metavar="FILE",
        help="known calls; exit 1 when a call is not in it",
    )
    parser.add_argument(
        "--write-baseline",
        action="store_true",
        help="record every call found in the --baseline FILE, and exit 0",
    )
    parser.add_argument(
        "--format",
        default="text",
        metavar="{text,json}",
        help="output format (default: text)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``shim scan``; return the exit status."""
    output_format = args.format
    if output_format not in ("text", "json"):
        return _fail(f"scan: --format must be text or json, not {output_format!r}")
    if args.write_baseline and not args.baseline:
        return _fail("scan: --write-baseline needs --baseline FILE")
    try:
        known = (
            load_baseline(args.baseline) if args.baseline and not args.write_baseline else None
        )
        if args.write_baseline:
            _check_baseline_path(args.baseline)
        findings, skipped, files = scan(args.paths)
    except PathError as exc:
        return _fail(str(exc))
    for item in skipped:
        print(f"shim: skipped {item}", file=sys.stderr)
    if args.write_baseline:
        try:
            count = write_baseline(args.baseline, findings)
        except OSError as exc:
            return _fail(f"cannot write baseline {args.baseline}: {exc.strerror or exc}")
        print(f"shim: wrote {count} calls to {args.baseline}", file=sys.stderr)
        return 0
    new: Optional[List[Finding]] = None
    gone = 0
    if known is not None:
        new, gone = _compare(findings, files, known, args.baseline)
    if output_format == "json":
        _print_json(findings, skipped, len(files), new, gone)
    else:
        _print_text(findings, len(files), new, gone, args.baseline)
    return 1 if new else 0


def _fail(message: str) -> int:
    print(f"shim: {message}", file=sys.stderr)
    return 2


def _compare(
    findings: List[Finding], files: List[str], known: Set[_Key], baseline: str
) -> Tuple[List[Finding], int]:
    """Return the findings not in the baseline, and how many of its calls are gone.

    Only baseline entries of the files scanned can be gone: a baseline for
    the whole project also works for a scan of one directory.
    """
    base_dir = _base_dir(baseline)
    keys = [baseline_key(finding, base_dir) for finding in findings]
    new = [finding for finding, key in zip(findings, keys) if key not in known]
    scanned = {_baseline_path(path, base_dir) for path in files}
    gone = len({key for key in known if key[0] in scanned} - set(keys))
    return new, gone


def _shell_text(finding: Finding) -> str:
    if finding.shell is None:
        if finding.command is None:
            return "shell unknown"
        return f"shell unknown ({finding.shell_reason})"
    if finding.shell:
        return f"needs a shell ({finding.shell_reason or 'unknown reason'})"
    return "no shell needed"


def _describe_text(finding: Finding) -> str:
    if finding.command is not None:
        command = f"command {finding.command_text!r}"
    else:
        command = f"non-literal command {_collapse(finding.argument or '?', 60)}"
    where = f"{finding.path}:{finding.line}:{finding.col}"
    return (
        f"{where}: {finding.spelling} in {finding.function}, {command}, {_shell_text(finding)}\n"
        f"    {finding.suggestion}"
    )


def _print_text(
    findings: List[Finding],
    nfiles: int,
    new: Optional[List[Finding]],
    gone: int,
    baseline: Optional[str],
) -> None:
    shown = findings if new is None else new
    for finding in shown:
        print(_describe_text(finding))
    literal = [finding for finding in findings if finding.shell is not None]
    shell_free = sum(1 for finding in literal if not finding.shell)
    files = len({finding.path for finding in findings})
    summary = (
        f"{len(findings)} call{'s' if len(findings) != 1 else ''} in {files} of {nfiles} "
        f"file{'s' if nfiles != 1 else ''}; {shell_free} could run without a shell, "
        f"{len(literal) - shell_free} need one, {len(findings) - len(literal)} unknown"
    )
    if new is not None:
        summary += f"; {len(new)} not in the baseline {baseline}"
    if gone:
        summary += f"; {gone} of its calls are gone (--write-baseline drops them)"
    print(summary)


def _print_json(
    findings: List[Finding],
    skipped: List[Skipped],
    nfiles: int,
    new: Optional[List[Finding]],
    gone: int,
) -> None:
    new_ids = {id(finding) for finding in new} if new is not None else None
    calls = []
    for finding in findings:
        entry = finding.to_json()
        entry["new"] = None if new_ids is None else id(finding) in new_ids
        calls.append(entry)
    document = {
        "calls": calls,
        "skipped": [{"path": item.path, "error": item.message} for item in skipped],
        "summary": {
            "files": nfiles,
            "calls": len(findings),
            "new": None if new is None else len(new),
            "gone": None if new is None else gone,
        },
    }
    print(json.dumps(document, indent=2))
