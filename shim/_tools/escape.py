"""Text the tools print: control characters escaped, any file name printable, any stdout.

Everything the ``shim`` command shows comes from files it did not write:
audit records, source files, their names.  A record can hold an escape
sequence that would reach the terminal, a file name can hold bytes that are
not UTF-8 (Python keeps them as lone surrogates), and standard output can be
a strict ASCII or UTF-8 stream.  :func:`oneline` makes any such text safe
to print on one line, :func:`markdown_text` safe inside Markdown prose, and
:func:`write_text` writes to any stream without an encoding error.
"""

from __future__ import annotations

import sys
from typing import IO, Optional

__all__ = ["json_safe", "markdown_text", "oneline", "write_text"]

_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}
_MARKDOWN_SPECIAL = frozenset("\\`*_{}[]()<>#+-.!|~&\"'=:$")


def oneline(text: str) -> str:
    r"""Return ``text`` on one line, every character that is not printable escaped.

    Text without such characters is returned as it is.  Otherwise
    backslashes are doubled as well, so that an escaped newline cannot be
    mistaken for a backslash and an ``n`` in the text.  Escaped are the
    control characters (C0, DEL, C1), line and paragraph separators, format
    characters such as the bidirectional overrides, and lone surrogates: a
    byte of a file name that is not UTF-8 (kept by Python as U+DC80 to
    U+DCFF) is shown as ``\xNN``.
    """
    if text.isprintable():
        return text
    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif char.isprintable() or char == " ":
            out.append(char)
        else:
            code = ord(char)
            if 0xDC80 <= code <= 0xDCFF:
                out.append(f"\\x{code - 0xDC00:02x}")
            elif code < 0x100:
                out.append(f"\\x{code:02x}")
            elif code < 0x10000:
                out.append(f"\\u{code:04x}")
            else:
                out.append(f"\\U{code:08x}")
    return "".join(out)


def markdown_text(text: str) -> str:
    r"""``text`` as literal Markdown prose: one line, every markup character backslash-escaped.

    CommonMark lets any ASCII punctuation be escaped with a backslash, and
    GitHub renders ``\<`` as ``<``: no emphasis, link, HTML tag or table
    cell boundary can come out of the text.
    """
    return "".join(f"\\{char}" if char in _MARKDOWN_SPECIAL else char for char in oneline(text))


def json_safe(text: str) -> str:
    r"""``text`` without lone surrogates, which strict JSON readers refuse.

    A surrogate that stands for a byte of a file name becomes ``\xNN``;
    the rest of the text is unchanged.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "".join(
            (
                f"\\x{ord(char) - 0xDC00:02x}"
                if 0xDC80 <= ord(char) <= 0xDCFF
                else (f"\\u{ord(char):04x}" if 0xD800 <= ord(char) <= 0xDFFF else char)
            )
            for char in text
        )
    return text


def write_text(text: str, stream: Optional[IO[str]] = None) -> None:
    """Write ``text`` to ``stream`` (default: standard output) whatever its encoding.

    What the stream's encoding cannot represent is written as backslash
    escapes instead of raising :class:`UnicodeEncodeError`.
    """
    if stream is None:
        stream = sys.stdout
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        text.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        text = text.encode(encoding if _known(encoding) else "utf-8", "backslashreplace").decode(
            encoding if _known(encoding) else "utf-8"
        )
    stream.write(text)


def _known(encoding: str) -> bool:
    try:
        "".encode(encoding)
    except LookupError:
        return False
    return True
