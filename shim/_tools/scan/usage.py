"""How a program uses what a call returns: what a rewrite must give it back.

For ``os.system`` the status: discarded (a statement), only tested for
truth or compared with ``0`` (which ``returncode`` answers the same way),
shifted by 8 or passed to ``os.WEXITSTATUS`` (the exit code),
passed to ``os.waitstatus_to_exitcode`` (which is ``returncode``), or used
as the number itself (stored, returned, passed on, given to ``sys.exit``),
which a rewrite rebuilds from ``returncode``.

For ``os.popen`` the file object: read whole, by lines, line by line or
iterated (then ``Popen(...).stdout`` is the same object), or written to;
a file object that is kept is left alone, because its ``close()`` waits for
the command and returns its status.
"""

from __future__ import annotations

import ast
from typing import Callable, Dict, Optional, Tuple

__all__ = ["parent_map", "popen_usage", "status_usage", "system_usage", "value_use"]

#: Usages of os.system's status, and the expression a rewrite replaces for each.
STATEMENT = "statement"
TRUTH = "truth"
ZERO = "zero"
SHIFTED = "shifted"
EXIT_STATUS = "exit-status"
EXIT_CODE = "exit-code"
EXIT = "exit"
VALUE = "value"

_READERS = frozenset(("read", "readline", "readlines"))
_WRITERS = frozenset(("write", "writelines"))


def parent_map(tree: ast.AST) -> Dict[ast.AST, ast.AST]:
    """Map every node of ``tree`` to the node that contains it."""
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


def status_usage(
    node: ast.Call, parents: Dict[ast.AST, ast.AST]
) -> Tuple[Optional[str], Optional[str]]:
    """``(usage, None)`` when a rewrite keeps the behaviour, else ``(None, reason)``."""
    parent = parents.get(node)
    if isinstance(parent, ast.Expr):
        return "statement", None
    if _truth_tested(node, parents):
        return "truth", None
    if parent is not None and _compared_with_zero(node, parent):
        return "zero", None
    return None, _refusal(parent)


def system_usage(
    node: ast.Call,
    parents: Dict[ast.AST, ast.AST],
    status_function: Callable[[ast.Call], Optional[str]],
) -> Tuple[str, ast.AST]:
    """How the status of ``node`` is used, and the expression a rewrite replaces.

    ``status_function(call)`` names the function a call calls when it is
    ``os.WEXITSTATUS``, ``os.waitstatus_to_exitcode`` or ``sys.exit``.
    """
    usage, refusal = status_usage(node, parents)
    if usage is not None:
        return usage, node
    del refusal
    parent = parents.get(node)
    if (
        isinstance(parent, ast.BinOp)
        and isinstance(parent.op, ast.RShift)
        and parent.left is node
        and isinstance(parent.right, ast.Constant)
        and type(parent.right.value) is int
        and parent.right.value == 8
    ):
        return SHIFTED, parent
    if isinstance(parent, ast.Call) and parent.args == [node] and not parent.keywords:
        called = status_function(parent)
        if called == "WEXITSTATUS":
            return EXIT_STATUS, parent
        if called == "waitstatus_to_exitcode":
            return EXIT_CODE, parent
        if called == "sys.exit":
            return EXIT, node
    return VALUE, node


def value_use(node: ast.AST, parents: Dict[ast.AST, ast.AST]) -> str:
    """Say how a status used as a number is used ("stored in a variable", ...)."""
    return _refusal(parents.get(node))


def popen_usage(
    node: ast.Call, parents: Dict[ast.AST, ast.AST], mode: str
) -> Tuple[Optional[str], Optional[ast.AST], Optional[str]]:
    """``(usage, node the run() form replaces, None)`` or ``(None, None, why not)``.

    The usage is the method called on the file object (``read``,
    ``readlines``, ``write``, ...) or ``iterate``.  Only a whole ``read()``
    can become ``subprocess.run(...).stdout``; the node returned is then
    that ``read()`` call.
    """
    parent = parents.get(node)
    methods = _WRITERS if mode.startswith("w") else _READERS
    if isinstance(parent, ast.Attribute) and parent.value is node and parent.attr in methods:
        call = parents.get(parent)
        if isinstance(call, ast.Call) and call.func is parent:
            if parent.attr == "read" and not (call.args or call.keywords):
                return "read", call, None
            return parent.attr, None, None
    if not mode.startswith("w"):
        if isinstance(parent, (ast.For, ast.AsyncFor)) and parent.iter is node:
            return "iterate", None, None
        if isinstance(parent, ast.comprehension) and parent.iter is node:
            return "iterate", None, None
    if isinstance(parent, ast.withitem):
        return None, None, "the file object is used in a with statement: its close() waits"
    if isinstance(parent, (ast.Assign, ast.AnnAssign, ast.NamedExpr)):
        return (
            None,
            None,
            "the file object is kept: its close() waits for the command and returns its status",
        )
    return None, None, "the file object is used in a way a rewrite cannot follow"


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
