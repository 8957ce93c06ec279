"""Rewriting the ``os.system`` calls that ``subprocess.run`` can replace as is.

Which calls, and how the program uses their status, comes from the same
analysis as ``shim scan`` (:func:`shim._tools.scan.calls.find_calls`); this
module only edits the source, with ``libcst`` so that comments and
formatting survive.  A call is rewritten only when the program cannot tell
the difference in the value it gets:

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

import warnings
from typing import TYPE_CHECKING, Dict, List, Optional, Set, Tuple, final

from shim._common import suggest as _suggest
from shim._tools.fix.imports import add_import
from shim._tools.scan.calls import argv_items, find_calls
from shim._tools.scan.source import decode_source

if TYPE_CHECKING:
    import libcst as cst

    from shim._tools.scan.finding import Finding

__all__ = ["FileResult", "fix_source"]

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
        new_module = add_import(new_module)
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
