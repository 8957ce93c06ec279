"""The ``shim scan`` subcommand: its options, the scan, the baseline and the exit status."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, List, Optional

if TYPE_CHECKING:
    import argparse

    from shim._tools.scan.finding import Finding

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    """Add the ``scan`` subcommand to an ``argparse`` subparsers object."""
    parser = subparsers.add_parser(
        "scan",
        help="find os.system and os.popen calls in source code",
        description=(
            "Find os.system and os.popen calls in Python source, through every "
            "import spelling, and print where they are, the command when it is "
            "a literal, whether it needs a shell, and the subprocess call that "
            "replaces it.  With --baseline, exit 1 when a call is not in the "
            "baseline (for CI)."
        ),
        epilog=(
            "exit status: 0 no new calls (or no baseline given), 1 calls not in "
            "the baseline, 2 bad input.  Files that do not parse are reported "
            "and skipped."
        ),
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files or directories")
    parser.add_argument(
        "--baseline",
        metavar="FILE",
        help="known calls; exit 1 when a call is not in it",
    )
    parser.add_argument(
        "--write-baseline",
        action="store_true",
        help="record every call found in the --baseline FILE, and exit 0",
    )
    parser.add_argument(
        "--format",
        default="text",
        metavar="{text,json}",
        help="output format (default: text)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``shim scan``; return the exit status."""
    # The scan itself is imported only here: every other subcommand
    # (``shim run`` above all) starts without the parser and its analyses.
    from shim._tools.scan.baseline import check_path, compare, load_baseline, write_baseline
    from shim._tools.scan.files import PathError, scan
    from shim._tools.scan.output import print_json, print_text

    output_format = args.format
    if output_format not in ("text", "json"):
        return _fail(f"scan: --format must be text or json, not {output_format!r}")
    if args.write_baseline and not args.baseline:
        return _fail("scan: --write-baseline needs --baseline FILE")
    try:
        known = load_baseline(args.baseline) if args.baseline and not args.write_baseline else None
        if args.write_baseline:
            check_path(args.baseline)
        findings, skipped, files = scan(args.paths)
    except PathError as exc:
        return _fail(str(exc))
    for item in skipped:
        print(f"shim: skipped {item}", file=sys.stderr)
    if args.write_baseline:
        try:
            count = write_baseline(args.baseline, findings)
        except OSError as exc:
            return _fail(f"cannot write baseline {args.baseline}: {exc.strerror or exc}")
        print(f"shim: wrote {count} calls to {args.baseline}", file=sys.stderr)
        return 0
    new: Optional[List[Finding]] = None
    gone = 0
    if known is not None:
        new, gone = compare(findings, files, known, args.baseline)
    if output_format == "json":
        print_json(findings, skipped, len(files), new, gone)
    else:
        print_text(findings, len(files), new, gone, args.baseline)
    return 1 if new else 0


def _fail(message: str) -> int:
    print(f"shim: {message}", file=sys.stderr)
    return 2
