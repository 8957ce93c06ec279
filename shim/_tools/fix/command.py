"""The ``shim fix`` subcommand: its options, each file in turn, and a diff or the rewrite.

The rewriting, and the scan it builds on, are imported inside the
functions that use them: every other subcommand starts without them, and
without libcst, which ``fix`` alone needs.
"""

from __future__ import annotations

import difflib
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, List, Optional

if TYPE_CHECKING:
    import argparse

    from shim._tools.fix.rewrite import FileResult

__all__ = ["register", "run", "unified_diff"]

_INSTALL_HINT = "shim fix needs libcst: pip install 'os-system-shim[fix]'"


def register(subparsers: Any) -> None:
    """Add the ``fix`` subcommand to an ``argparse`` subparsers object."""
    parser = subparsers.add_parser(
        "fix",
        help="rewrite os.system calls as subprocess.run where behaviour is kept",
        description=(
            "Rewrite the os.system calls whose behaviour subprocess.run keeps: "
            "calls used as statements, as truth values, or compared with 0. "
            "Other calls are left alone and the reason is printed.  Needs "
            "libcst (pip install 'os-system-shim[fix]')."
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
    from shim._tools.scan.files import PathError, collect_files

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
    from shim._tools.fix.rewrite import fix_source

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
    from shim._tools.scan.source import decode_source

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
