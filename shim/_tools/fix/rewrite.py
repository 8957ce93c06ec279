"""Rewriting ``os.system`` and ``os.popen`` calls as ``subprocess``, in tiers, byte for byte.

Which calls, how the program uses what they return, and the forms their
command can take come from the same analysis as ``shim scan``
(:func:`shim._tools.scan.calls.find_calls`,
:func:`shim._tools.scan.replace.command_forms`).  This module only edits
the text: each rewritten expression is replaced where it stands, a few
lines are inserted (``import subprocess``, and the helper that rebuilds a
status), and every other byte of the file stays as it was, whatever its
line endings, encoding declaration or byte order mark.

What replaces a call of ``os.system``, by how its status is used:

====================================  ==========================================
``os.system(c)`` (a statement)        ``subprocess.run(c, shell=True, check=False)``
``if os.system(c):``, ``== 0``, ...   ``subprocess.run(...).returncode``
``os.system(c) >> 8``,                ``max(subprocess.run(...).returncode, 0)``
``os.WEXITSTATUS(os.system(c))``
``os.waitstatus_to_exitcode(...)``    ``subprocess.run(...).returncode``
anything else (stored, returned,      ``_os_system_status(subprocess.run(...).returncode)``,
passed on, ``sys.exit(...)``)         a helper added to the module once
====================================  ==========================================

Each gives the program the number ``os.system`` gave it.  ``os.popen(c)``
read, read by lines, iterated or written to becomes
``subprocess.Popen(c, shell=True, stdout=subprocess.PIPE, text=True).stdout``,
which is what ``os.popen`` itself opens.

That is the *safe* tier.  With ``unsafe=True`` a command that is a literal
or a template needing no shell becomes an argument list, and a whole
``os.popen(c).read()`` becomes ``subprocess.run(...).stdout``; each such
rewrite carries the codes of what it changes
(:mod:`shim._tools.scan.changes`).
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
import warnings
from typing import TYPE_CHECKING, List, Optional, Sequence, Tuple, Union, final

from shim._tools.scan import changes as _changes
from shim._tools.scan import usage as _usage
from shim._tools.scan.calls import find_calls
from shim._tools.scan.replace import SAFE, UNSAFE, Form, command_forms

if TYPE_CHECKING:
    import os

    from shim._tools.scan.finding import Finding

__all__ = ["HELPER", "SAFE", "UNSAFE", "Applied", "FileResult", "FixError", "fix_source"]

#: The name of the function a rewrite adds to rebuild os.system's status.
HELPER = "_os_system_status"
_HELPER_LINES = (
    f"def {HELPER}(returncode: int) -> int:",
    '    """Return what os.system returned for a command that ended with ``returncode``."""',
    "    return returncode << 8 if returncode >= 0 else -returncode",
)
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_KEYWORD_PREFIX = re.compile(r"\b(?:command|cmd)\s*=\s*\Z")
_POPEN_MODE_TAIL = re.compile(
    r"\A\s*,\s*(?:mode\s*=\s*)?[rRuU]?(['\"])[rw]\1\s*,?\s*\)\Z",
)


class FixError(ValueError):
    """A file ``shim fix`` will not touch (its text does not survive decoding and encoding)."""


@final
class Applied:
    """One rewrite: its tier, what it changes, what it assumes, whether a shell is left."""

    __slots__ = ("assumption", "changes", "finding", "note", "shell_free", "tier")

    def __init__(self, finding: Finding, form: Form, note: Optional[str]) -> None:
        self.finding = finding
        self.tier = form.tier
        self.changes = form.changes
        self.assumption = form.assumption
        self.shell_free = not form.shell
        self.note = note


@final
class FileResult:
    """What ``shim fix`` did to, or would do to, one file.

    ``new`` is the rewritten source (``None`` when nothing changes);
    ``rewritten`` the rewrites made; ``left`` the calls left alone with the
    reason for each; ``unsafe_available`` the calls rewritten safely (or
    not at all) for which ``--unsafe-fixes`` has an argument list.
    """

    __slots__ = ("left", "new", "old", "path", "rewritten", "status", "unsafe_available")

    def __init__(self, path: str, old: bytes) -> None:
        self.path = path
        self.old = old
        #: The file's status when it was read (``shim fix --write`` checks it again).
        self.status: Optional[os.stat_result] = None
        self.new: Optional[bytes] = None
        self.rewritten: List[Applied] = []
        self.left: List[Tuple[Finding, str]] = []
        self.unsafe_available: List[Tuple[Finding, Form]] = []


@final
class _Text:
    """The file's text, with offsets for ``(line, column)`` positions."""

    __slots__ = ("newline", "starts", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = [0]
        breaks = list(_LINE_BREAK.finditer(text))
        self.starts.extend(match.end() for match in breaks)
        self.newline = breaks[0].group() if breaks else "\n"

    def offset(self, position: Tuple[int, int]) -> int:
        line, column = position
        return self.starts[line - 1] + column

    def line_start(self, line: int) -> int:
        """The offset where ``line`` starts (the end of the text past the last line)."""
        if line - 1 < len(self.starts):
            return self.starts[line - 1]
        return len(self.text)

    def newline_at(self, offset: int) -> str:
        """The line break that ends the line holding ``offset`` (the file's first one if none)."""
        match = _LINE_BREAK.search(self.text, offset)
        return match.group() if match else self.newline


def fix_source(data: bytes, path: str, *, unsafe: bool = False) -> FileResult:
    """Rewrite the calls in one file's source; nothing is written.

    Raises :class:`SyntaxError` (or :class:`ValueError`,
    :class:`UnicodeDecodeError`) when the source does not parse, and
    :class:`FixError` when its bytes would not survive the round trip.
    """
    result = FileResult(path, data)
    encoding, bom = _encoding(data)
    text = data[len(bom) :].decode(encoding)
    if (bom + text.encode(encoding)) != data:
        raise FixError(f"its {encoding} text does not encode back to the same bytes")
    findings = find_calls(text, path)
    if not findings and "shell" not in text:
        return result
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree = ast.parse(text, filename=path)
    source = _Text(text)
    edits: List[Tuple[int, int, str]] = []
    needs_import = False
    helper = _HelperState(tree)
    taken: List[Tuple[int, int]] = []
    for finding in findings:
        reason = _refusal(finding, helper)
        if reason is not None:
            result.left.append((finding, reason))
            continue
        safe, argv_form = command_forms(finding)
        form = argv_form if unsafe and argv_form is not None else safe
        if not unsafe and argv_form is not None:
            result.unsafe_available.append((finding, argv_form))
        built = _build(finding, form, source, unsafe=unsafe)
        if isinstance(built, str):
            if not unsafe and argv_form is not None:
                result.unsafe_available.pop()
            result.left.append((finding, built))
            continue
        start, end, replacement, form = built
        if any(start < other_end and other_start < end for other_start, other_end in taken):
            result.left.append(
                (finding, "inside another call being rewritten: run shim fix again after this")
            )
            continue
        taken.append((start, end))
        edits.append((start, end, replacement))
        needs_import = needs_import or finding.subprocess_name == "free"
        if finding.usage in (_usage.VALUE, _usage.EXIT):
            helper.used = True
        result.rewritten.append(Applied(finding, form, _note(finding)))
    if "shell" in text:
        _shell_calls(result, tree, source, path, edits=edits, taken=taken, unsafe=unsafe)
    if not edits:
        result.left.sort(key=lambda item: item[0].start)
        return result
    insertions = _insertions(tree, source, needs_import=needs_import, helper=helper)
    first_edit = min(start for start, _, _ in edits)
    if insertions and max(offset for offset, _, _ in insertions) > first_edit:
        # Something runs before the place where the import or the helper
        # would go (a call on the line of an import): leave the file alone.
        reason = "a call shares a line with the module's imports: move it, then run shim fix"
        result.left = [*result.left, *((applied.finding, reason) for applied in result.rewritten)]
        result.left.sort(key=lambda item: item[0].start)
        result.rewritten = []
        return result
    new_text = _apply(text, edits, insertions)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(new_text, path, "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        # Would be a bug here, never the user's: refuse to write it rather
        # than break their file.
        reason = "the rewrite would not compile (a bug in shim fix)"
        result.left = [*result.left, *((applied.finding, reason) for applied in result.rewritten)]
        result.left.sort(key=lambda item: item[0].start)
        result.rewritten = []
        return result
    result.left.sort(key=lambda item: item[0].start)
    result.new = bom + new_text.encode(encoding)
    return result


_SHELL_KEYWORD = re.compile(r"\A\s*,\s*shell\s*=\s*True\Z")


def _shell_calls(
    result: FileResult,
    tree: ast.Module,
    source: _Text,
    path: str,
    *,
    edits: List[Tuple[int, int, str]],
    taken: List[Tuple[int, int]],
    unsafe: bool,
) -> None:
    """``subprocess.run(cmd, shell=True)`` whose command needs no shell: the unsafe tier's lists.

    This is how a file rewritten in the safe tier (or written that way)
    takes the unsafe tier later: only the command and ``shell=True`` change.
    """
    from shim._tools.scan.calls import suppressed_lines
    from shim._tools.scan.shell_calls import find_shell_calls
    from shim._tools.scan.source import split_lines

    quiet = suppressed_lines(source.text)
    for call in find_shell_calls(tree, split_lines(source.text), path):
        finding = call.finding
        if any(line in quiet for line in range(finding.start[0], finding.end[0] + 1)):
            continue
        _, argv_form = command_forms(finding)
        if argv_form is None or argv_form.argument is None or finding.argument_span is None:
            continue
        if not unsafe:
            result.unsafe_available.append((finding, argv_form))
            continue
        start, end = source.offset(finding.start), source.offset(finding.end)
        shell_start = source.offset(call.shell_span[0])
        shell_end = source.offset(call.shell_span[1])
        if not _SHELL_KEYWORD.match(source.text[shell_start:shell_end]):
            continue  # a comment or an odd layout around shell=True: left as it is
        if any(start < other_end and other_start < end for other_start, other_end in taken):
            continue
        taken.append((start, end))
        value_start = source.offset(finding.argument_span[0])
        value_end = source.offset(finding.argument_span[1])
        edits.append((value_start, value_end, argv_form.argument))
        edits.append((shell_start, shell_end, ""))
        result.rewritten.append(Applied(finding, argv_form, None))


def _encoding(data: bytes) -> Tuple[str, bytes]:
    """The source encoding (as the interpreter finds it), and the BOM to keep."""
    encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    if encoding == "utf-8-sig":
        return "utf-8", b"\xef\xbb\xbf"
    return encoding, b""


def _note(finding: Finding) -> Optional[str]:
    if finding.usage == _usage.EXIT:
        return (
            "sys.exit() gets os.system's status as before, so the program still exits 0 "
            "whenever the command exits normally (status & 0xff); sys.exit(returncode) "
            "may be what was meant"
        )
    return None


class _HelperState:
    """Whether the helper is needed, already there, or its name taken."""

    def __init__(self, tree: ast.Module) -> None:
        self.used = False
        self.defined = any(
            isinstance(node, ast.FunctionDef) and node.name == HELPER for node in tree.body
        )
        self.taken = False
        self.taken = any(self._binds(node, tree) for node in ast.walk(tree))

    def _binds(self, node: ast.AST, tree: ast.Module) -> bool:
        """Whether ``node`` gives the helper's name another meaning."""
        if isinstance(node, ast.Name):
            return node.id == HELPER and not self.defined
        if isinstance(node, ast.arg):
            return node.arg == HELPER
        if isinstance(node, ast.alias):
            return (node.asname or node.name) == HELPER
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            return node.name == HELPER and node not in tree.body
        return False


def _refusal(finding: Finding, helper: _HelperState) -> Optional[str]:
    """Say why a call must be left alone, or return ``None`` when it can be rewritten."""
    if finding.suppressed:
        return "suppressed by '# shim: ignore'"
    if finding.refusal is not None:
        return finding.refusal
    if finding.subprocess_name == "taken":
        return "the name 'subprocess' means something else here"
    if finding.argument is None or finding.argument_span is None or finding.callee_span is None:
        return f"{finding.name} is called with unusual arguments"
    if finding.usage in (_usage.VALUE, _usage.EXIT) and helper.taken:
        return f"the status is {finding.use}, and the name {HELPER} means something else here"
    return None


_Built = Union[str, Tuple[int, int, str, Form]]


def _build(finding: Finding, form: Form, source: _Text, *, unsafe: bool) -> _Built:
    """``(start, end, replacement, form)`` for the expression to replace, or why not (a str)."""
    if finding.argument_span is None or finding.callee_span is None:
        return f"{finding.name} is called with unusual arguments"
    text = source.text
    call_start = source.offset(finding.start)
    call_end = source.offset(finding.end)
    open_paren = _open_paren(text, source.offset(finding.callee_span[1]), call_start, call_end)
    if open_paren is None:
        return "the call is laid out in a way shim fix cannot follow"
    value_start = source.offset(finding.argument_span[0])
    value_end = source.offset(finding.argument_span[1])
    head = text[open_paren:value_start]
    if finding.keyword:
        head = _KEYWORD_PREFIX.sub("", head)
    tail = text[value_end:call_end]
    if finding.name == "os.popen" and tail.strip() != ")" and not tail.strip().startswith(")"):
        if not _POPEN_MODE_TAIL.match(tail):
            return "os.popen's other arguments cannot be carried over"
        tail = ")"
    argument = form.argument if form.argument is not None else text[value_start:value_end]
    if finding.name == "os.system":
        keywords = (", shell=True" if form.shell else "") + ", check=False"
        call = f"subprocess.run{head}{argument}{keywords}{tail}"
        return _wrap_status(finding, form, source, call, (call_start, call_end))
    stream = "stdin" if finding.mode == "w" else "stdout"
    shell = ", shell=True" if form.shell else ""
    if unsafe and finding.usage == "read" and finding.reader_span is not None:
        reader_end = source.offset(finding.reader_span[1])
        if "#" in text[call_end:reader_end]:
            return "a comment inside the expression would be lost"
        run = (
            f"subprocess.run{head}{argument}{shell}, stdout=subprocess.PIPE, text=True, "
            f"check=False{tail}.stdout"
        )
        waits = Form(
            form.argument,
            with_shell=form.shell,
            changes=(*form.changes, _changes.WAITS_FOR_EXIT),
            assumption=form.assumption,
        )
        return call_start, reader_end, run, waits
    popen = f"subprocess.Popen{head}{argument}{shell}, {stream}=subprocess.PIPE, text=True{tail}"
    return call_start, call_end, f"{popen}.{stream}", form


def _wrap_status(
    finding: Finding, form: Form, source: _Text, call: str, span: Tuple[int, int]
) -> _Built:
    call_start, call_end = span
    usage = finding.usage
    if usage == _usage.STATEMENT:
        return call_start, call_end, call, form
    if usage in (_usage.TRUTH, _usage.ZERO):
        return call_start, call_end, f"{call}.returncode", form
    if usage in (_usage.VALUE, _usage.EXIT):
        return call_start, call_end, f"{HELPER}({call}.returncode)", form
    if finding.replaced_span is None:
        return "the use of the status could not be located"
    outer_start = source.offset(finding.replaced_span[0])
    outer_end = source.offset(finding.replaced_span[1])
    dropped = source.text[outer_start:call_start] + source.text[call_end:outer_end]
    if "#" in dropped:
        return "a comment inside the expression would be lost"
    if usage in (_usage.SHIFTED, _usage.EXIT_STATUS):
        return outer_start, outer_end, f"max({call}.returncode, 0)", form
    return outer_start, outer_end, f"{call}.returncode", form


def _open_paren(text: str, callee_end: int, call_start: int, call_end: int) -> Optional[int]:
    """The offset of the call's opening parenthesis: after the callee, past its own ``)``."""
    position = callee_end
    while position < call_end:
        char = text[position]
        if char == "(":
            return position
        if char in " \t\r\n\f)":
            position += 1
        elif char == "\\" and text[position + 1 : position + 2] in ("\n", "\r"):
            position += 2
        else:
            return None
    del call_start
    return None


# -- inserted lines ---------------------------------------------------------------


def _insertions(
    tree: ast.Module, source: _Text, *, needs_import: bool, helper: _HelperState
) -> List[Tuple[int, int, str]]:
    """``(offset, order, text)`` of the lines to insert: ``import subprocess``, the helper."""
    body = tree.body
    start = 1 if body and _is_docstring(body[0]) else 0
    while start < len(body) and _is_future_import(body[start]):
        start += 1
    end = start
    while end < len(body) and isinstance(body[end], (ast.Import, ast.ImportFrom)):
        end += 1
    out: List[Tuple[int, int, str]] = []
    if needs_import:
        out.append(_import_insertion(body, start, end, source))
    if helper.used and not helper.defined:
        out.append(_helper_insertion(body, start, end, source))
    return out


def _statement_first_line(statement: ast.stmt) -> int:
    decorators: Sequence[ast.expr] = getattr(statement, "decorator_list", ())
    return min([statement.lineno, *(decorator.lineno for decorator in decorators)])


def _after(statement: ast.stmt, source: _Text) -> Tuple[int, str]:
    """The offset just past the line ``statement`` ends on, and a line break to add first if any."""
    end_line = statement.end_lineno or statement.lineno
    offset = source.line_start(end_line + 1)
    if end_line >= len(source.starts):
        # The last line of the file, without a line break after it.
        return len(source.text), source.newline
    return offset, ""


def _import_insertion(
    body: List[ast.stmt], start: int, end: int, source: _Text
) -> Tuple[int, int, str]:
    names = [(index, _plain_import(body[index])) for index in range(start, end)]
    plain = [index for index, name in names if name is not None]
    before = [index for index, name in names if name is not None and name < "subprocess"]
    if before:
        offset, prefix = _after(body[before[-1]], source)
        newline = source.newline_at(source.offset((body[before[-1]].lineno, 0)))
        return offset, 0, f"{prefix}import subprocess{newline}"
    position = plain[0] if plain else start
    if position < end:
        offset = source.line_start(_statement_first_line(body[position]))
        return offset, 0, f"import subprocess{source.newline_at(offset)}"
    return _separate_block(body, position, source, ["import subprocess"], blank=1, order=0)


def _helper_insertion(
    body: List[ast.stmt], start: int, end: int, source: _Text
) -> Tuple[int, int, str]:
    del start
    return _separate_block(body, end, source, list(_HELPER_LINES), blank=2, order=1)


def _separate_block(
    body: List[ast.stmt],
    position: int,
    source: _Text,
    lines: List[str],
    *,
    blank: int,
    order: int,
) -> Tuple[int, int, str]:
    """Insert ``lines`` before ``body[position]``, ``blank`` empty lines around them."""
    if position > 0:
        offset, prefix = _after(body[position - 1], source)
    else:
        offset, prefix = source.line_start(_statement_first_line(body[0])), ""
    newline = source.newline_at(max(offset - 1, 0)) if source.text else "\n"
    text = prefix
    if position > 0:
        text += newline * blank
    text += newline.join(lines) + newline
    if position < len(body):
        following = _blank_lines_at(source, offset)
        text += newline * max(0, blank - following)
    return offset, order, text


def _blank_lines_at(source: _Text, offset: int) -> int:
    count = 0
    rest = source.text[offset:]
    for line in _LINE_BREAK.split(rest)[:-1]:
        if line.strip():
            break
        count += 1
    return count


def _apply(
    text: str, edits: List[Tuple[int, int, str]], insertions: List[Tuple[int, int, str]]
) -> str:
    pieces: List[Tuple[int, int, int, str]] = [(start, 1, end, new) for start, end, new in edits]
    pieces.extend((offset, 0 - 1 + order, offset, new) for offset, order, new in insertions)
    # From the end backwards, so that earlier offsets stay valid; at one
    # offset the import goes before the helper.
    for start, _, end, new in sorted(pieces, key=lambda item: (item[0], item[1]), reverse=True):
        text = text[:start] + new + text[end:]
    return text


def _is_docstring(statement: ast.stmt) -> bool:
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Constant)
        and isinstance(statement.value.value, str)
    )


def _is_future_import(statement: ast.stmt) -> bool:
    return isinstance(statement, ast.ImportFrom) and statement.module == "__future__"


def _plain_import(statement: ast.stmt) -> Optional[str]:
    """Return the module of ``import x`` (a single plain import), else ``None``."""
    if not isinstance(statement, ast.Import) or len(statement.names) != 1:
        return None
    return statement.names[0].name
