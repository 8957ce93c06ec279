"""Adding ``import subprocess`` to a module the way a person would: among its imports, in order."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    import libcst as cst

__all__ = ["add_import"]


def add_import(module: cst.Module) -> cst.Module:
    """Add ``import subprocess`` among the module's leading imports.

    After the docstring and ``from __future__`` imports; within the block of
    imports that follows, after the last plain ``import`` sorting before
    ``subprocess`` (or before the first one), so a sorted block stays sorted.
    """
    import libcst as cst

    body = list(module.body)
    start = 0
    if body and _is_docstring(body[0]):
        start = 1
    while start < len(body) and _is_future_import(body[start]):
        start += 1
    end = start
    while end < len(body) and _is_import(body[end]):
        end += 1
    names = [(index, _plain_import(body[index])) for index in range(start, end)]
    plain = [index for index, name in names if name is not None]
    before = [index for index, name in names if name is not None and name < "subprocess"]
    statement = cst.parse_statement("import subprocess\n")
    if before:
        body.insert(before[-1] + 1, statement)
        return module.with_changes(body=body)
    position = plain[0] if plain else start
    if position < end:
        # Inserted at the head of the import block: it takes over the blank
        # lines and comments that introduced the block.
        statement = statement.with_changes(leading_lines=body[position].leading_lines)
        body[position] = body[position].with_changes(leading_lines=[])
    else:
        # No imports yet: separate the new one from what comes before and after.
        if position > 0:
            statement = statement.with_changes(leading_lines=[cst.EmptyLine()])
        if position < len(body) and not body[position].leading_lines:
            body[position] = body[position].with_changes(leading_lines=[cst.EmptyLine()])
    body.insert(position, statement)
    return module.with_changes(body=body)


def _is_docstring(statement: cst.CSTNode) -> bool:
    import libcst as cst

    return (
        isinstance(statement, cst.SimpleStatementLine)
        and len(statement.body) == 1
        and isinstance(statement.body[0], cst.Expr)
        and isinstance(statement.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )


def _is_future_import(statement: cst.CSTNode) -> bool:
    import libcst as cst

    return isinstance(statement, cst.SimpleStatementLine) and all(
        isinstance(item, cst.ImportFrom)
        and isinstance(item.module, cst.Name)
        and item.module.value == "__future__"
        for item in statement.body
    )


def _is_import(statement: cst.CSTNode) -> bool:
    import libcst as cst

    return isinstance(statement, cst.SimpleStatementLine) and all(
        isinstance(item, (cst.Import, cst.ImportFrom)) for item in statement.body
    )


def _plain_import(statement: cst.CSTNode) -> Optional[str]:
    """Return the module of ``import x`` (a single plain import), else ``None``."""
    import libcst as cst
    from libcst.helpers import get_full_name_for_node

    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return None
    item = statement.body[0]
    if not isinstance(item, cst.Import):
        return None
    return get_full_name_for_node(item.names[0].name)
