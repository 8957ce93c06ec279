"""How a program uses the status of a call: whether a rewrite can keep its behaviour.

A statement ignores the status; a truth test or a comparison with ``0``
only asks whether it is zero, which ``returncode`` answers the same way.
Every other use (stored, returned, shifted, passed on) needs the wait
status itself, and the reason is given.
"""

from __future__ import annotations

import ast
from typing import Dict, Optional, Tuple

__all__ = ["parent_map", "status_usage"]


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
