"""``shim fix``: rewrite the ``os.system`` calls that ``subprocess.run`` can replace as is.

Which calls, and how the program uses their status, comes from the same
analysis as ``shim scan`` (:func:`shim._tools.scan.calls.find_calls`); this module only
edits the source, with ``libcst`` so that comments and formatting survive.
A call is rewritten only when the program cannot tell the difference in
the value it gets:

- a call whose value is discarded (an expression statement) becomes
  ``subprocess.run(..., check=False)``;
- a call whose value is only tested for truth, or compared with ``0`` by
  ``==`` or ``!=``, becomes ``subprocess.run(..., check=False).returncode``:
  a wait status is 0 exactly when the return code is.

The command becomes an argv list when it is a literal that needs no shell,
and stays as it is with ``shell=True`` otherwise.  Every other use of the
status (stored, returned, shifted, passed on, compared with another number)
is left alone and reported with the reason.

``libcst`` is an optional dependency (the ``fix`` extra): it is imported
inside the functions that need it, so ``shim`` and its other commands work
without it.
"""

from __future__ import annotations

import difflib
import re
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Optional, Set, Tuple, final

from shim._common import suggest as _suggest
from shim._tools.scan.calls import argv_items, find_calls
from shim._tools.scan.files import PathError, collect_files
from shim._tools.scan.source import decode_source

if TYPE_CHECKING:
    import argparse

    import libcst as cst

    from shim._tools.scan.finding import Finding

__all__ = ["FileResult", "fix_source", "register", "run"]

_INSTALL_HINT = "shim fix needs libcst: pip install 'shim[fix]'"

_Position = Tuple[int, int, int, int]


@final
class FileResult:
    """What ``shim fix`` did to, or would do to, one file.

    ``new`` is the rewritten source (``None`` when nothing changes),
    ``rewritten`` the findings replaced, ``left`` the findings left alone
    with the reason for each.
    """

    __slots__ = ("left", "new", "old", "path", "rewritten")

    def __init__(self, path: str, old: bytes) -> None:
        self.path = path
        self.old = old
        self.new: Optional[bytes] = None
        self.rewritten: List[Finding] = []
        self.left: List[Tuple[Finding, str]] = []


def _refusal(finding: Finding) -> Optional[str]:
    """Say why a call must be left alone, or return ``None`` when it can be rewritten."""
    if finding.refusal is not None:
        return finding.refusal
    if finding.subprocess_name == "taken":
        return "the name 'subprocess' means something else here"
    if finding.argument is None:
        return "os.system is called with unusual arguments"
    return None


def fix_source(data: bytes, path: str) -> FileResult:
    """Rewrite the calls in one file's source; nothing is written.

    Raises :class:`SyntaxError` (or :class:`ValueError`,
    :class:`UnicodeDecodeError`) when the source does not parse, and
    :class:`ImportError` when libcst is not installed.
    """
    import libcst

    result = FileResult(path, data)
    source = decode_source(data)
    findings = find_calls(source, path)
    plans: Dict[_Position, Finding] = {}
    for finding in findings:
        reason = _refusal(finding)
        if reason is None:
            plans[finding.start + finding.end] = finding
        else:
            result.left.append((finding, reason))
    if not plans:
        return result
    try:
        module = libcst.parse_module(data)
    except libcst.ParserSyntaxError as exc:
        raise SyntaxError(f"libcst cannot parse it: {exc.message}") from None
    new_module, done = _transform(module, plans)
    for position, finding in sorted(plans.items()):
        if position in done:
            result.rewritten.append(finding)
        else:
            result.left.append((finding, "the call could not be located for rewriting"))
    result.left.sort(key=lambda item: item[0].start)
    if not result.rewritten:
        return result
    new_code: str = new_module.code
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(new_code, path, "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        # Would be a bug here, never the user's: refuse to write it rather
        # than break their file.
        reason = "the rewrite would not compile (a bug in shim fix)"
        result.left = sorted(
            [*result.left, *((finding, reason) for finding in result.rewritten)],
            key=lambda item: item[0].start,
        )
        result.rewritten = []
        return result
    result.new = new_module.bytes
    return result


def _transform(
    module: cst.Module, plans: Dict[_Position, Finding]
) -> Tuple[cst.Module, Set[_Position]]:
    import libcst
    from libcst.metadata import MetadataWrapper, PositionProvider

    done: Set[_Position] = set()
    needs_import = False

    # Subclassing libcst's class is Any to mypy when libcst is not installed.
    class Rewriter(libcst.CSTTransformer):  # type: ignore[misc,unused-ignore]
        METADATA_DEPENDENCIES = (PositionProvider,)

        def leave_Call(  # noqa: N802 - libcst's name
            self, original: cst.Call, updated: cst.Call
        ) -> cst.BaseExpression:
            nonlocal needs_import
            where = self.get_metadata(PositionProvider, original)
            position = (where.start.line, where.start.column, where.end.line, where.end.column)
            finding = plans.get(position)
            if finding is None:
                return updated
            done.add(position)
            needs_import = needs_import or finding.subprocess_name == "free"
            return _replacement(updated, finding)

    new_module = MetadataWrapper(module).visit(Rewriter())
    if needs_import:
        new_module = _add_import(new_module)
    return new_module, done


def _replacement(call: cst.Call, finding: Finding) -> cst.BaseExpression:
    """Build ``subprocess.run(...)`` (and ``.returncode``) from an ``os.system`` call node."""
    import libcst as cst

    nothing = cst.SimpleWhitespace("")
    original = call.args[0]
    items = argv_items(finding)
    if items is not None and _has_comment(original.value):
        # An argv list has nowhere to keep comments written between the
        # parts of a concatenated literal; the shell form keeps them.
        items = None
    extra: List[cst.Arg] = []
    if items is not None:
        rendered = _suggest.render_list(items, double_quotes=finding.double_quotes)
        value = cst.parse_expression(rendered)
    else:
        value = original.value
        extra.append(_keyword("shell", "True"))
    # The original argument's own trailing comma and whatever follows it (a
    # comment, the line break before ")") move to the last new argument.
    first = cst.Arg(
        value=value,
        comma=cst.Comma(whitespace_before=nothing, whitespace_after=cst.SimpleWhitespace(" ")),
        whitespace_after_arg=nothing,
    )
    last = _keyword("check", "False").with_changes(
        comma=original.comma, whitespace_after_arg=original.whitespace_after_arg
    )
    new_call = call.with_changes(
        func=cst.Attribute(value=cst.Name("subprocess"), attr=cst.Name("run")),
        args=[first, *extra, last],
    )
    if finding.usage == "statement":
        return new_call
    # Parentheses around the old call now go around the whole attribute.
    return cst.Attribute(
        value=new_call.with_changes(lpar=[], rpar=[]),
        attr=cst.Name("returncode"),
        lpar=call.lpar,
        rpar=call.rpar,
    )


def _has_comment(node: cst.CSTNode) -> bool:
    import libcst.matchers as m

    return bool(m.findall(node, m.Comment()))


def _keyword(name: str, value: str) -> cst.Arg:
    import libcst as cst

    nothing = cst.SimpleWhitespace("")
    return cst.Arg(
        keyword=cst.Name(name),
        equal=cst.AssignEqual(whitespace_before=nothing, whitespace_after=nothing),
        value=cst.Name(value),
        comma=cst.Comma(whitespace_before=nothing, whitespace_after=cst.SimpleWhitespace(" ")),
    )


def _add_import(module: cst.Module) -> cst.Module:
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


# ---------------------------------------------------------------------------
# The command


def register(subparsers: Any) -> None:
    """Add the ``fix`` subcommand to an ``argparse`` subparsers object."""
    parser = subparsers.add_parser(
        "fix",
        help="rewrite os.system calls as subprocess.run where behaviour is kept",
        description=(
            "Rewrite the os.system calls whose behaviour subprocess.run keeps: "
            "calls used as statements, as truth values, or compared with 0. "
            "Other calls are left alone and the reason is printed.  Needs "
            "libcst (pip install 'shim[fix]')."
        ),
        epilog=(
            "exit status: 0 nothing to rewrite, or --write rewrote the files; "
            "1 --diff shows changes; 2 bad input or libcst missing.  Files "
            "that do not parse are reported and skipped."
        ),
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files or directories")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--diff",
        dest="write",
        action="store_false",
        help="print a unified diff of the rewrite (the default)",
    )
    mode.add_argument(
        "--write",
        dest="write",
        action="store_true",
        help="rewrite the files in place",
    )
    parser.set_defaults(func=run, write=False)


def run(args: argparse.Namespace) -> int:
    """Run ``shim fix``; return the exit status."""
    try:
        files = collect_files(args.paths)
    except PathError as exc:
        print(f"shim: {exc}", file=sys.stderr)
        return 2
    try:
        import libcst  # noqa: F401 - optional dependency, checked up front
    except ImportError:
        print(f"shim: {_INSTALL_HINT}", file=sys.stderr)
        return 2
    changed = rewritten = left = 0
    for path in files:
        result = _fix_file(path)
        if result is None:
            continue
        for finding, reason in result.left:
            print(f"{path}:{finding.line}:{finding.col}: left alone: {reason}", file=sys.stderr)
        left += len(result.left)
        if result.new is None:
            continue
        changed += 1
        rewritten += len(result.rewritten)
        if args.write:
            try:
                Path(path).write_bytes(result.new)
            except OSError as exc:
                print(f"shim: cannot write {path}: {exc.strerror or exc}", file=sys.stderr)
                return 2
        else:
            sys.stdout.write(unified_diff(result))
    verb = "rewrote" if args.write else "would rewrite"
    print(
        f"shim: {verb} {rewritten} call{'s' if rewritten != 1 else ''} in {changed} "
        f"file{'s' if changed != 1 else ''}, left {left} alone",
        file=sys.stderr,
    )
    return 1 if changed and not args.write else 0


def _fix_file(path: str) -> Optional[FileResult]:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        print(f"shim: skipped {path}: cannot read: {exc.strerror or exc}", file=sys.stderr)
        return None
    try:
        return fix_source(data, path)
    except SyntaxError as exc:
        where = f"{path}:{exc.lineno}" if exc.lineno else path
        print(f"shim: skipped {where}: cannot parse: {exc.msg}", file=sys.stderr)
    except (ValueError, UnicodeDecodeError, LookupError, RecursionError) as exc:
        print(f"shim: skipped {path}: cannot parse: {exc}", file=sys.stderr)
    return None


def unified_diff(result: FileResult) -> str:
    """Render the change to one file as a unified diff (``patch -p0`` applies it)."""
    if result.new is None:
        return ""
    old = _lines(decode_source(result.old))
    new = _lines(decode_source(result.new))
    lines = difflib.unified_diff(old, new, fromfile=result.path, tofile=result.path)
    return "".join(_terminated(lines))


_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


def _lines(text: str) -> List[str]:
    # The parser's lines: str.splitlines() would also break at form feeds.
    return _LINE.findall(text)


def _terminated(lines: Iterable[str]) -> List[str]:
    # difflib leaves a last line without "\n" unterminated; diff(1) marks it.
    out = []
    for line in lines:
        if line.endswith(("\n", "\r")):
            out.append(line)
        else:
            out.append(line + "\n\\ No newline at end of file\n")
    return out
