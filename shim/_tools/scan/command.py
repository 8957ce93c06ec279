"""The ``shim scan`` subcommand: options, the scan, the baseline, the output, the exit status."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from shim._tools.escape import oneline, write_text

if TYPE_CHECKING:
    import argparse

__all__ = ["FORMATS", "SUFFIX_FORMATS", "register", "run"]

#: The output formats.
FORMATS = ("text", "json", "sarif", "github")
#: Output file suffixes and the format each means; any other suffix is refused.
SUFFIX_FORMATS = {".txt": "text", ".log": "text", ".json": "json", ".sarif": "sarif"}


def register(subparsers: Any) -> None:
    """Add the ``scan`` subcommand to an ``argparse`` subparsers object."""
    parser = subparsers.add_parser(
        "scan",
        help="find os.system and os.popen calls in source code",
        description=(
            "Find os.system and os.popen calls in Python source, through every "
            "import spelling, and print where they are, the command when it is "
            "a literal, whether it needs a shell, and the subprocess call that "
            "replaces it (with what it changes).  Exit 1 when a call is found "
            "(with --baseline: a call not in the baseline) or a file cannot be "
            "read or parsed, so CI stops new calls.  A '# shim: ignore' comment "
            "on a call's line leaves it out.  Defaults come from [tool.shim] in "
            "pyproject.toml."
        ),
        epilog=(
            "exit status: 0 no calls (with --baseline: none that is not in it; with "
            "--write-baseline: the baseline was written), 1 calls found or files that "
            "could not be read or parsed, 2 bad usage or input."
        ),
    )
    parser.add_argument(
        "paths", nargs="*", metavar="PATH", help="files or directories ([tool.shim] paths)"
    )
    parser.add_argument(
        "--baseline",
        metavar="FILE",
        help="known calls; only calls not in it fail the check ([tool.shim] baseline)",
    )
    parser.add_argument(
        "--no-baseline",
        action="store_true",
        help="ignore the baseline of [tool.shim]: every call fails the check",
    )
    parser.add_argument(
        "--write-baseline",
        action="store_true",
        help="record every call found in the baseline FILE, and exit 0",
    )
    parser.add_argument(
        "--format",
        default=None,
        metavar="{" + ",".join(FORMATS) + "}",
        help="output format (default: from the -o suffix .txt/.json/.sarif, "
        "else [tool.shim] format, else text)",
    )
    parser.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        default=None,
        help="write the output to OUT instead of standard output",
    )
    parser.add_argument(
        "--exclude",
        action="append",
        default=None,
        metavar="PATTERN",
        help="skip files and directories matching PATTERN (a glob; repeatable; "
        "added to [tool.shim] exclude)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``shim scan``; return the exit status."""
    # The scan itself is imported only here: every other subcommand
    # (``shim run`` above all) starts without the parser and its analyses.
    from shim._tools.config import ConfigError, load_config
    from shim._tools.scan.baseline import check_path, compare, load_baseline
    from shim._tools.scan.files import PathError, scan
    from shim._tools.scan.output import Outcome

    try:
        config = load_config()
    except ConfigError as exc:
        return _fail(str(exc))
    paths = list(args.paths) or config.paths
    if not paths:
        return _fail("scan: no PATH given (and no paths in [tool.shim] of pyproject.toml)")
    baseline: Optional[str] = args.baseline
    if baseline is None and not args.no_baseline:
        baseline = config.baseline
    output: Optional[str] = args.output if args.output != "-" else None
    fmt = _format(args.format, output, config.format)
    if fmt is None:
        return 2
    if args.write_baseline and not baseline:
        return _fail("scan: --write-baseline needs --baseline FILE (or baseline in [tool.shim])")
    excludes = [*config.exclude, *((pattern, ".") for pattern in args.exclude or ())]
    try:
        if output is not None:
            _check_output(output)
        known = load_baseline(baseline) if baseline and not args.write_baseline else None
        if args.write_baseline and baseline:
            check_path(baseline)
        findings, skipped, files = scan(paths, exclude=excludes)
    except PathError as exc:
        return _fail(str(exc))
    outcome = Outcome(findings, skipped, files, baseline=baseline)
    for item in skipped:
        write_text(f"shim: skipped {item}\n", sys.stderr)
    if args.write_baseline and baseline:
        return _write_baseline(outcome, baseline)
    if known is not None and baseline is not None:
        outcome.new, outcome.gone = compare(outcome.findings, files, known, baseline)
    text = _render(outcome, fmt)
    if output is None:
        write_text(text)
    else:
        try:
            Path(output).write_text(text, encoding="utf-8", errors="backslashreplace")
        except OSError as exc:
            return _fail(f"cannot write {oneline(output)}: {exc.strerror or exc}")
        if fmt != "text":
            write_text(_summary(outcome) + "\n", sys.stderr)
    return 1 if outcome.failing or skipped else 0


def _write_baseline(outcome: Any, baseline: str) -> int:
    from shim._tools.scan.baseline import write_baseline

    try:
        count = write_baseline(baseline, outcome.findings)
    except OSError as exc:
        return _fail(f"cannot write baseline {baseline}: {exc.strerror or exc}")
    write_text(f"shim: wrote {count} calls to {oneline(baseline)}\n", sys.stderr)
    if outcome.skipped:
        write_text(
            f"shim: {len(outcome.skipped)} file(s) could not be read or parsed; "
            "their calls are not in the baseline\n",
            sys.stderr,
        )
        return 1
    return 0


def _summary(outcome: Any) -> str:
    from shim._tools.scan.output import summary_text

    return str(summary_text(outcome))


def _format(
    given: Optional[str], output: Optional[str], configured: Optional[str]
) -> Optional[str]:
    """The output format: --format, else the -o suffix, else [tool.shim], else text."""
    if given is not None:
        if given not in FORMATS:
            _fail(f"scan: --format must be one of {', '.join(FORMATS)}, not {given!r}")
            return None
        return given
    if output is not None:
        suffix = Path(output).suffix.lower()
        if suffix in SUFFIX_FORMATS:
            return SUFFIX_FORMATS[suffix]
        if suffix:
            _fail(
                f"scan: cannot tell the format of {oneline(output)} from its suffix "
                f"{oneline(suffix)!r}: use --format ({', '.join(FORMATS)}) or a name ending "
                + ", ".join(SUFFIX_FORMATS)
            )
            return None
    if configured is not None:
        if configured not in FORMATS:
            _fail(
                f"[tool.shim] format must be one of {', '.join(FORMATS)}, not {configured!r}"
            )
            return None
        return configured
    return "text"


def _check_output(output: str) -> None:
    from shim._tools.scan.files import PathError

    path = Path(output)
    if path.is_dir():
        raise PathError(f"{oneline(output)}: is a directory; -o needs a file name")
    if not path.absolute().parent.is_dir():
        raise PathError(f"{oneline(output)}: its directory does not exist")


def _render(outcome: Any, fmt: str) -> str:
    if fmt == "json":
        from shim._tools.scan.output import render_json

        return str(render_json(outcome))
    if fmt == "sarif":
        from shim._tools.scan import sarif

        return sarif.render(outcome)
    if fmt == "github":
        from shim._tools.scan import github

        return github.render(outcome)
    from shim._tools.scan.output import render_text

    return str(render_text(outcome))


def _fail(message: str) -> int:
    write_text(f"shim: {oneline(message)}\n", sys.stderr)
    return 2
