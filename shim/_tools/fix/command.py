"""The ``shim fix`` subcommand: its options, each file in turn, and a diff, the rewrite, or JSON.

The rewriting, and the scan it builds on, are imported inside the
functions that use them: every other subcommand starts without them.
"""

from __future__ import annotations

import difflib
import json
import re
import sys
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Optional

from shim._tools.escape import oneline, write_text

if TYPE_CHECKING:
    import argparse

    from shim._tools.fix.rewrite import FileResult

__all__ = ["DOCS", "register", "run", "unified_diff"]

#: Where the differences every rewrite of os.system has are explained.
DOCS = "https://os-system-shim.github.io/os-system-shim/cli/fix/#what-every-rewrite-changes"
#: Source files larger than this are not read (none of a real project's is).
MAX_SOURCE = 16 * 1024 * 1024


def register(subparsers: Any) -> None:
    """Add the ``fix`` subcommand to an ``argparse`` subparsers object."""
    parser = subparsers.add_parser(
        "fix",
        help="rewrite os.system and os.popen calls as subprocess, safe fixes first",
        description=(
            "Rewrite os.system and os.popen calls as subprocess. By default only safe fixes: "
            "the command keeps its shell and the program gets the same status or output in "
            "every case. --unsafe-fixes also turns commands that need no shell into argument "
            "lists (and os.popen(...).read() into subprocess.run); each such rewrite is listed "
            "with the behaviours it changes. Calls that cannot be rewritten are left alone "
            "and the reason is printed; a '# shim: ignore' comment on a call's line keeps it "
            "as it is."
        ),
        epilog=(
            "exit status: 0 nothing to rewrite, or --write rewrote the files; "
            "1 --diff shows changes; 2 bad input, or a file could not be written "
            "(changed since it was read, owner cannot be kept). Files that do not parse are "
            "reported and skipped."
        ),
    )
    parser.add_argument(
        "paths", nargs="*", metavar="PATH", help="files or directories ([tool.shim] paths)"
    )
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
        help="rewrite the files (each through a temporary file renamed over it)",
    )
    parser.add_argument(
        "--unsafe-fixes",
        action="store_true",
        help="also apply the rewrites that change behaviour (each listed with its changes)",
    )
    parser.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="json: one document listing every call and what was done to it, "
        "instead of the diff",
    )
    parser.add_argument(
        "--exclude",
        action="append",
        default=None,
        metavar="PATTERN",
        help="skip files and directories matching PATTERN (a glob; repeatable)",
    )
    parser.set_defaults(func=run, write=False)


def run(args: argparse.Namespace) -> int:
    """Run ``shim fix``; return the exit status."""
    from shim._tools.config import ConfigError, load_config
    from shim._tools.scan.files import PathError, collect_files

    try:
        config = load_config()
    except ConfigError as exc:
        _say(str(exc))
        return 2
    paths = list(args.paths) or config.paths
    if not paths:
        _say("fix: no PATH given (and no paths in [tool.shim] of pyproject.toml)")
        return 2
    excludes = [*config.exclude, *(args.exclude or ())]
    try:
        files = collect_files(paths, exclude=excludes)
    except PathError as exc:
        _say(str(exc))
        return 2
    results: List[FileResult] = []
    failed = False
    for path in files:
        result = _fix_file(path, unsafe=args.unsafe_fixes)
        if result is None:
            continue
        results.append(result)
        if result.new is not None and args.write and not _write(result):
            failed = True
    if args.format == "json":
        write_text(json.dumps(_document(results, args), indent=2) + "\n")
    else:
        _notes(results)
        if not args.write:
            for result in results:
                if result.new is not None:
                    write_text(unified_diff(result))
    _summary(results, args)
    if failed:
        return 2
    changed = any(result.new is not None for result in results)
    return 1 if changed and not args.write else 0


def _say(message: str) -> None:
    write_text(f"shim: {message}\n", sys.stderr)


def _fix_file(path: str, *, unsafe: bool) -> Optional[FileResult]:
    from shim._tools.files import read_regular
    from shim._tools.fix.rewrite import FixError, fix_source

    shown = oneline(path)
    try:
        data, status = read_regular(path, MAX_SOURCE)
    except OSError as exc:
        _say(f"skipped {shown}: cannot read: {oneline(str(exc.strerror or exc))}")
        return None
    try:
        result = fix_source(data, path, unsafe=unsafe)
    except SyntaxError as exc:
        where = f"{shown}:{exc.lineno}" if exc.lineno else shown
        _say(f"skipped {where}: cannot parse: {oneline(str(exc.msg))}")
        return None
    except FixError as exc:
        _say(f"skipped {shown}: {oneline(str(exc))}")
        return None
    except (ValueError, UnicodeDecodeError, LookupError, RecursionError) as exc:
        _say(f"skipped {shown}: cannot parse: {oneline(str(exc))}")
        return None
    result.status = status
    return result


def _write(result: FileResult) -> bool:
    from shim._tools.files import replace_file

    if result.new is None or result.status is None:
        return True
    try:
        replace_file(result.path, result.new, result.old, result.status)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        _say(f"cannot write {oneline(result.path)}: {oneline(reason)}")
        result.new = None
        result.rewritten = []
        return False
    return True


def _notes(results: Iterable[FileResult]) -> None:
    """Per call, on stderr: what was left alone and why; the unsafe rewrites and their changes."""
    lines = []
    for result in results:
        path = oneline(result.path)
        entries = [(finding.start, f"left alone: {reason}") for finding, reason in result.left]
        for applied in result.rewritten:
            if applied.changes:
                text = "unsafe fix: changes " + ", ".join(applied.changes)
                if applied.assumption:
                    text += f"; {applied.assumption}"
                entries.append((applied.finding.start, text))
            if applied.note:
                entries.append((applied.finding.start, f"note: {applied.note}"))
        for (line, column), text in sorted(entries, key=lambda item: item[0]):
            lines.append(f"{path}:{line}:{column + 1}: {oneline(text)}\n")
    if lines:
        write_text("".join(lines), sys.stderr)


def _summary(results: List[FileResult], args: argparse.Namespace) -> None:
    rewritten = [applied for result in results for applied in result.rewritten]
    unsafe = sum(1 for applied in rewritten if applied.changes)
    free = sum(1 for applied in rewritten if applied.shell_free)
    left = sum(len(result.left) for result in results)
    changed = sum(1 for result in results if result.new is not None)
    verb = "rewrote" if args.write else "would rewrite"
    count = len(rewritten)
    text = (
        f"{verb} {count} call{'s' if count != 1 else ''} in {changed} "
        f"file{'s' if changed != 1 else ''} ({count - unsafe} safe, {unsafe} unsafe; "
        f"{free} without a shell), left {left} alone"
    )
    _say(text)
    available = sum(len(result.unsafe_available) for result in results)
    if available and not args.unsafe_fixes:
        _say(
            f"{available} more call{'s' if available != 1 else ''} can drop the shell with "
            "--unsafe-fixes (listed with what each changes)"
        )
    if any(applied.finding.name == "os.system" for applied in rewritten):
        _say(f"every rewrite of os.system also changes what subprocess cannot keep: {DOCS}")


def _document(results: List[FileResult], args: argparse.Namespace) -> Dict[str, Any]:
    from shim._tools.escape import json_safe

    calls: List[Dict[str, Any]] = []
    for result in results:
        available = {id(finding): form for finding, form in result.unsafe_available}
        entries: List[Dict[str, Any]] = []
        for applied in result.rewritten:
            finding = applied.finding
            entries.append(
                {
                    "action": "rewritten",
                    "tier": applied.tier,
                    "shell_free": applied.shell_free,
                    "changes": list(applied.changes),
                    "assumption": applied.assumption,
                    "note": applied.note,
                    **_where(finding, available),
                }
            )
        for finding, reason in result.left:
            entries.append({"action": "left", "reason": reason, **_where(finding, available)})
        for entry in entries:
            entry["path"] = json_safe(result.path)
        calls.extend(sorted(entries, key=lambda entry: (entry["line"], entry["col"])))
    rewritten = [entry for entry in calls if entry["action"] == "rewritten"]
    return {
        "unsafe_fixes": bool(args.unsafe_fixes),
        "calls": calls,
        "summary": {
            "files": len(results),
            "files_changed": sum(1 for result in results if result.new is not None),
            "calls": len(calls),
            "rewritten": len(rewritten),
            "safe": sum(1 for entry in rewritten if entry["tier"] == "safe"),
            "unsafe": sum(1 for entry in rewritten if entry["tier"] == "unsafe"),
            "shell_free": sum(1 for entry in rewritten if entry["shell_free"]),
            "left": len(calls) - len(rewritten),
            # Calls of os.system whose rewrite could drop the shell, and the
            # program's subprocess calls with shell=True that could too.
            "unsafe_available": sum(len(result.unsafe_available) for result in results),
        },
    }


def _where(finding: Any, available: Dict[int, Any]) -> Dict[str, Any]:
    form = available.get(id(finding))
    return {
        "line": finding.line,
        "col": finding.col,
        "call": finding.name,
        "usage": finding.usage,
        "unsafe_available": form is not None,
        "unsafe_changes": list(form.changes) if form is not None else [],
    }


def unified_diff(result: FileResult) -> str:
    """Render the change to one file as a unified diff (``patch -p0`` applies it)."""
    if result.new is None:
        return ""
    from shim._tools.scan.source import decode_source

    old = _lines(decode_source(result.old))
    new = _lines(decode_source(result.new))
    # Control characters in a name would reach the terminal raw; patch(1)
    # could not apply a diff naming such a file anyway.
    name = oneline(result.path)
    lines = difflib.unified_diff(old, new, fromfile=name, tofile=name)
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
