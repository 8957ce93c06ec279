"""The identity of a call across edits: a hash of its syntax tree, the same on every Python."""

from __future__ import annotations

import ast
import hashlib

__all__ = ["fingerprint"]


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


def fingerprint(node: ast.Call) -> str:
    """Return 16 hex digits that change when the call changes, and only then."""
    return hashlib.sha256(_canonical(node).encode("utf-8", "surrogatepass")).hexdigest()[:16]
