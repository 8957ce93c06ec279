"""Python source as text: decoded as the interpreter does, and the text and columns of a node."""

from __future__ import annotations

import io
import re
import tokenize
from typing import TYPE_CHECKING, List, Optional

if TYPE_CHECKING:
    import ast

__all__ = ["char_column", "collapse", "decode_source", "segment", "split_lines"]

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def decode_source(data: bytes) -> str:
    """Decode Python source bytes by their coding cookie or BOM (default UTF-8)."""
    encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    return data.decode(encoding)


def split_lines(source: str) -> List[str]:
    """Split ``source`` into the lines the parser numbers."""
    # The parser's idea of a line: str.splitlines() also breaks at form
    # feeds and other characters the tokenizer treats as ordinary.
    return _LINE_BREAK.split(source)


def segment(lines: List[str], node: ast.expr) -> Optional[str]:
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


def char_column(lines: List[str], line: int, byte_offset: int) -> int:
    """Turn the byte offset ``ast`` gives into a column in characters."""
    # ast counts columns in UTF-8 bytes, editors and shim fix in characters.
    if not 0 < line <= len(lines):
        return byte_offset
    return len(lines[line - 1].encode("utf-8")[:byte_offset].decode("utf-8", "replace"))


def collapse(text: str, limit: int = 160) -> str:
    """One line of source: runs of whitespace (and line breaks) become one space."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
