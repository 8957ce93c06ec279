"""Commands built from literal text and values: the argument list they amount to, if any.

``os.system(f"rm -rf {path}")``, ``os.system("rm -rf %s" % path)`` and
``os.system("rm -rf " + path)`` pass the shell a text made of literal parts
and values known only at run time.  When the literal parts need no shell
(no pipe, redirection, glob, variable, ...), the command is one program and
its words, and it can become an argument list in which each value is one
argument: ``["rm", "-rf", path]``.

That is exact only under an assumption about the values, which every
argument list made here carries (:data:`ASSUMPTION`): the shell would have
split a value at blanks, removed its quotes and expanded its ``*``, ``$``
or ``~``, and dropped an empty one; the list passes it as it is.

The values keep the conversion the original applied: a replacement field
of an f-string stays an f-string (``f"{n:03d}"``), a ``%`` conversion stays
a ``%`` (``str(x)`` for a plain ``%s``), a concatenated value is already a
``str``.
"""

from __future__ import annotations

import ast
import os
import re
from typing import List, Optional, Sequence, Tuple, Union, final

from shim._common import suggest as _suggest
from shim._common import syntax as _shell

__all__ = ["ASSUMPTION", "Template", "template_of"]

#: What an argument list built from a template assumes of its values.
ASSUMPTION = (
    "each interpolated value is one non-empty word with no blank, quote or character "
    "special to the shell ($ ` \\ * ? [ ~ ; & | < > ( ) #)"
)

Literal = Union[str, bytes]
#: A word of the command: literal parts and the indexes of the values in it.
Word = List[Union[Literal, int]]

# Values stand in the text given to the shell analysis as characters of
# Unicode's private use area: the analysis takes them for ordinary letters.
_FIRST_MARK = 0xE000
_LAST_MARK = 0xF8FF
_MARKS_STR = re.compile("[\ue000-\uf8ff]")
_MARKS_BYTES = re.compile(b"\xee[\x80-\xbf][\x80-\xbf]|\xef[\x80-\xa3][\x80-\xbf]")

_ATOMS = (ast.Name, ast.Attribute, ast.Call, ast.Subscript, ast.Constant, ast.JoinedStr)
_PERCENT_SPEC = re.compile(
    r"%(?P<key>\([^)]*\))?(?P<flags>[#0 +-]*)(?P<width>\*|\d+)?(?:\.(?P<precision>\*|\d+))?"
    r"[hlL]?(?P<type>[diouxXeEfFgGcrsab%])"
)


@final
class Template:
    """A command made of literal parts and values, and how to write each value back.

    ``kind`` is ``"f-string"``, ``"%-format"`` or ``"concatenation"``;
    ``parts`` alternate literal text and value indexes; ``values`` holds the
    source text of each value as it is written in a word of its own.
    """

    __slots__ = ("fields", "is_bytes", "kind", "parts", "quote", "values")

    def __init__(self, kind: str, is_bytes: bool) -> None:
        self.kind = kind
        self.is_bytes = is_bytes
        self.parts: List[Union[Literal, int]] = []
        #: The expression of each value, as source text (parenthesised when not an atom).
        self.values: List[str] = []
        #: f-string: the replacement field of each value ("{x!r:>3}"); %-format: its spec ("%5d").
        self.fields: List[str] = []
        self.quote = '"'

    def words(self) -> Tuple[Optional[List[Word]], Optional[str]]:
        """The words of the command, or why the literal parts need a shell."""
        marks: List[Literal] = []
        text: List[Literal] = []
        for part in self.parts:
            if isinstance(part, int):
                mark = chr(_FIRST_MARK + part)
                marks.append(mark.encode("utf-8") if self.is_bytes else mark)
                text.append(marks[-1])
            else:
                text.append(part)
        joined = b"".join(text) if self.is_bytes else "".join(text)  # type: ignore[arg-type]
        try:
            data = joined if isinstance(joined, bytes) else os.fsencode(joined)
        except UnicodeEncodeError:
            return None, "the command cannot be encoded"
        analysis = _shell.analyze(data)
        if analysis.argv is None:
            return None, analysis.reason
        return [self._split(word) for word in analysis.argv], None

    def _split(self, word: bytes) -> Word:
        pieces: Word = []
        position = 0
        for match in _MARKS_BYTES.finditer(word):
            if match.start() > position:
                pieces.append(self._literal(word[position : match.start()]))
            pieces.append(ord(match.group().decode("utf-8")) - _FIRST_MARK)
            position = match.end()
        if position < len(word) or not pieces:
            pieces.append(self._literal(word[position:]))
        return pieces

    def _literal(self, data: bytes) -> Literal:
        return data if self.is_bytes else os.fsdecode(data)

    def render_argv(self, words: Sequence[Word], *, double_quotes: bool) -> str:
        """The argument list as Python source: ``["rm", "-rf", path]``."""
        items = [self._render_word(word, double_quotes=double_quotes) for word in words]
        return "[" + ", ".join(items) + "]"

    def _render_word(self, word: Word, *, double_quotes: bool) -> str:
        if all(not isinstance(piece, int) for piece in word):
            value = b"".join(word) if self.is_bytes else "".join(word)  # type: ignore[arg-type]
            return _suggest.render_literal(value, double_quotes=double_quotes)
        if self.kind == "f-string":
            return self._render_fstring(word)
        if self.kind == "%-format":
            return self._render_percent(word, double_quotes=double_quotes)
        return self._render_concatenation(word, double_quotes=double_quotes)

    def _render_fstring(self, word: Word) -> str:
        quote = self.quote
        body = []
        for piece in word:
            if isinstance(piece, int):
                body.append(self.fields[piece])
            else:
                body.append(_fstring_literal(str(piece), quote))
        return f"f{quote}{''.join(body)}{quote}"

    def _render_percent(self, word: Word, *, double_quotes: bool) -> str:
        holes = [piece for piece in word if isinstance(piece, int)]
        if len(word) == 1 and not self.is_bytes and self.fields[holes[0]] == "%s":
            # "%s" % (x,) is str(x), exactly.
            return f"str({self.values[holes[0]]})"
        if self.is_bytes:
            pattern: Literal = b"".join(
                self.fields[piece].encode("ascii")
                if isinstance(piece, int)
                else _as_bytes(piece).replace(b"%", b"%%")
                for piece in word
            )
        else:
            pattern = "".join(
                self.fields[piece] if isinstance(piece, int) else str(piece).replace("%", "%%")
                for piece in word
            )
        values = ", ".join(self.values[hole] for hole in holes)
        rendered = _suggest.render_literal(pattern, double_quotes=double_quotes)
        return f"{rendered} % ({values},)"

    def _render_concatenation(self, word: Word, *, double_quotes: bool) -> str:
        parts = [
            self.values[piece]
            if isinstance(piece, int)
            else _suggest.render_literal(piece, double_quotes=double_quotes)
            for piece in word
        ]
        return " + ".join(parts)

    def value_sources(self) -> List[str]:
        """The expressions of the values, as written in the source."""
        return [value[1:-1] if value.startswith("(") else value for value in self.values]


def template_of(node: ast.expr, lines: Sequence[str]) -> Optional[Template]:
    """The template of a command expression, or ``None`` when it is not one.

    Supported: an f-string, a ``str`` or ``bytes`` literal ``%`` a tuple
    display (or one value for a single conversion), and a ``+`` chain of
    literals and values.  Anything unusual (nested format specifications
    with backslashes, ``%(name)s`` keys, ``*`` widths, implicitly joined
    f-strings) gives ``None``: the command then keeps its shell.
    """
    try:
        if isinstance(node, ast.JoinedStr):
            return _fstring(node, lines)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
            return _percent(node, lines)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return _concatenation(node, lines)
    except _NotATemplate:
        return None
    return None


class _NotATemplate(Exception):  # noqa: N818 - control flow inside this module
    pass


def _source(node: ast.AST, lines: Sequence[str]) -> str:
    from shim._tools.scan.source import segment

    text = segment(list(lines), node)  # type: ignore[arg-type]
    if text is None:
        raise _NotATemplate
    return text


def _value_source(node: ast.expr, lines: Sequence[str]) -> str:
    text = _source(node, lines)
    if isinstance(node, (ast.Starred, ast.Yield, ast.YieldFrom)):
        raise _NotATemplate
    return text if isinstance(node, _ATOMS) else f"({text})"


def _check_literal(template: Template, text: Literal) -> None:
    """Refuse literal text that holds what stands for a value in the analysis."""
    del template
    if isinstance(text, str):
        if _MARKS_STR.search(text):
            raise _NotATemplate
        try:
            text = os.fsencode(text)
        except UnicodeEncodeError:
            raise _NotATemplate from None
    if _MARKS_BYTES.search(text):
        raise _NotATemplate


def _add_value(template: Template, source: str, field: str) -> None:
    index = len(template.values)
    if _FIRST_MARK + index > _LAST_MARK:
        raise _NotATemplate
    template.values.append(source)
    template.fields.append(field)
    template.parts.append(index)


# -- f-strings ------------------------------------------------------------------


def _fstring(node: ast.JoinedStr, lines: Sequence[str]) -> Template:
    text = _source(node, lines)
    prefix_match = re.match(r"[rRfFuUbB]*", text)
    prefix = prefix_match.group() if prefix_match else ""
    if "f" not in prefix.lower():
        raise _NotATemplate
    raw = "r" in prefix.lower()
    rest = text[len(prefix) :]
    for quote in ('"""', "'''", '"', "'"):
        if rest.startswith(quote):
            break
    else:
        raise _NotATemplate
    if not rest.endswith(quote) or len(rest) < 2 * len(quote):
        raise _NotATemplate
    body = rest[len(quote) : -len(quote)]
    fields = _fields(body, raw, quote[0])
    if fields is None:
        raise _NotATemplate
    template = Template("f-string", is_bytes=False)
    template.quote = quote[0]
    values = [
        value
        for value in node.values
        if not (isinstance(value, ast.Constant) and value.value == "")
    ]
    if [isinstance(value, ast.FormattedValue) for value in values] != [
        isinstance(item, tuple) for item in fields
    ]:
        # "{x=}" and friends add parts the text does not show: not a template.
        raise _NotATemplate
    for value, item in zip(values, fields):
        if isinstance(item, tuple):
            field, expression = item
            if "\\" in field or "\n" in field or "\r" in field or template.quote in field:
                raise _NotATemplate
            _add_value(template, f"({expression})", field)
        else:
            literal = value.value  # type: ignore[attr-defined]
            if not isinstance(literal, str):
                raise _NotATemplate
            _check_literal(template, literal)
            template.parts.append(literal)
    return template


def _fields(body: str, raw: bool, quote: str) -> Optional[List[Union[str, Tuple[str, str]]]]:
    """Split an f-string's body into literal source and ``(field, expression)`` pairs."""
    items: List[Union[str, Tuple[str, str]]] = []
    literal: List[str] = []
    i = 0
    n = len(body)
    while i < n:
        char = body[i]
        if char == "{":
            if body[i + 1 : i + 2] == "{":
                literal.append("{")
                i += 2
                continue
            end = _field_end(body, i + 1)
            if end is None:
                return None
            if literal:
                items.append("".join(literal))
                literal = []
            field = body[i : end + 1]
            items.append((field, _field_expression(field)))
            i = end + 1
        elif char == "}":
            if body[i + 1 : i + 2] != "}":
                return None
            literal.append("}")
            i += 2
        elif char == "\\" and not raw:
            if body[i + 1 : i + 3] == "N{":
                close = body.find("}", i + 3)
                if close < 0:
                    return None
                literal.append(body[i : close + 1])
                i = close + 1
            else:
                literal.append(body[i : i + 2])
                i += 2
        else:
            literal.append(char)
            i += 1
    if literal:
        items.append("".join(literal))
    del quote
    return items


def _field_end(body: str, start: int) -> Optional[int]:
    """The index of the ``}`` that closes the replacement field whose text starts at ``start``."""
    depth = 0
    i = start
    n = len(body)
    while i < n:
        char = body[i]
        if char in "'\"":
            triple = body[i : i + 3]
            closing = triple if triple in ('"""', "'''") else char
            end = body.find(closing, i + len(closing))
            if end < 0:
                return None
            i = end + len(closing)
            continue
        if char in "([{":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif char == "}":
            if depth == 0:
                return i
            depth -= 1
        i += 1
    return None


def _field_expression(field: str) -> str:
    """The expression of a replacement field ``{expr!r:spec}``, for messages."""
    inner = field[1:-1]
    depth = 0
    for index, char in enumerate(inner):
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif depth == 0 and char in "!:" and inner[index + 1 : index + 2] != "=":
            return inner[:index].strip()
    return inner.strip()


def _fstring_literal(text: str, quote: str) -> str:
    out = []
    for char in text:
        if char == "{":
            out.append("{{")
        elif char == "}":
            out.append("}}")
        elif char == "\\":
            out.append("\\\\")
        elif char == quote:
            out.append("\\" + quote)
        elif char.isprintable() or char == " ":
            out.append(char)
        else:
            out.append(repr(char)[1:-1])
    return "".join(out)


# -- %-format -------------------------------------------------------------------


def _percent(node: ast.BinOp, lines: Sequence[str]) -> Template:
    left = node.left
    if not isinstance(left, ast.Constant) or not isinstance(left.value, (str, bytes)):
        raise _NotATemplate
    pattern = left.value
    is_bytes = isinstance(pattern, bytes)
    text = pattern.decode("latin-1") if isinstance(pattern, bytes) else pattern
    specs = [match for match in _PERCENT_SPEC.finditer(text) if match.group("type") != "%"]
    if any(
        match.group("key") or match.group("width") == "*" or match.group("precision") == "*"
        for match in specs
    ):
        raise _NotATemplate
    right = node.right
    if isinstance(right, ast.Tuple):
        operands = list(right.elts)
    elif isinstance(right, (ast.Dict, ast.DictComp, ast.List, ast.ListComp)) or len(specs) != 1:
        raise _NotATemplate
    else:
        operands = [right]
    if len(operands) != len(specs):
        raise _NotATemplate
    template = Template("%-format", is_bytes=is_bytes)
    position = 0
    values = iter(operands)
    for match in _PERCENT_SPEC.finditer(text):
        literal = text[position : match.start()]
        position = match.end()
        if "%" in literal:  # a conversion Python would refuse
            raise _NotATemplate
        if match.group("type") == "%":
            if match.group() != "%%":
                raise _NotATemplate
            _append_literal(template, literal + "%")
            continue
        _append_literal(template, literal)
        _add_value(template, _value_source(next(values), lines), match.group())
    tail = text[position:]
    if "%" in tail:
        raise _NotATemplate
    _append_literal(template, tail)
    return template


def _append_literal(template: Template, text: str) -> None:
    if not text:
        return
    literal: Literal = text.encode("latin-1") if template.is_bytes else text
    _check_literal(template, literal)
    if template.parts and not isinstance(template.parts[-1], int):
        previous = template.parts.pop()
        literal = (
            previous + _as_bytes(literal)
            if isinstance(previous, bytes)
            else f"{previous}{literal!s}"
        )
    template.parts.append(literal)


def _as_bytes(piece: Union[Literal, int]) -> bytes:
    return piece if isinstance(piece, bytes) else str(piece).encode("latin-1")


# -- concatenation --------------------------------------------------------------


def _concatenation(node: ast.BinOp, lines: Sequence[str]) -> Template:
    operands: List[ast.expr] = []
    current: ast.expr = node
    while isinstance(current, ast.BinOp) and isinstance(current.op, ast.Add):
        operands.append(current.right)
        current = current.left
    operands.append(current)
    operands.reverse()
    constants = [
        operand.value
        for operand in operands
        if isinstance(operand, ast.Constant) and isinstance(operand.value, (str, bytes))
    ]
    if not constants:
        raise _NotATemplate
    is_bytes = isinstance(constants[0], bytes)
    if any(isinstance(value, bytes) != is_bytes for value in constants):
        raise _NotATemplate
    template = Template("concatenation", is_bytes=is_bytes)
    for operand in operands:
        if isinstance(operand, ast.Constant):
            value = operand.value
            if not isinstance(value, (str, bytes)):
                raise _NotATemplate
            text = value.decode("latin-1") if isinstance(value, bytes) else value
            _append_literal(template, text)
        else:
            _add_value(template, _value_source(operand, lines), "")
    return template
