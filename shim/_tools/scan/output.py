"""What ``shim scan`` prints: one entry per call and a summary, as text or as JSON."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, List, Optional

from shim._tools.scan.source import collapse

if TYPE_CHECKING:
    from shim._tools.scan.files import Skipped
    from shim._tools.scan.finding import Finding

__all__ = ["print_json", "print_text"]


def _shell_text(finding: Finding) -> str:
    if finding.shell is None:
        if finding.command is None:
            return "shell unknown"
        return f"shell unknown ({finding.shell_reason})"
    if finding.shell:
        return f"needs a shell ({finding.shell_reason or 'unknown reason'})"
    return "no shell needed"


def _describe_text(finding: Finding) -> str:
    if finding.command is not None:
        command = f"command {finding.command_text!r}"
    else:
        command = f"non-literal command {collapse(finding.argument or '?', 60)}"
    where = f"{finding.path}:{finding.line}:{finding.col}"
    return (
        f"{where}: {finding.spelling} in {finding.function}, {command}, {_shell_text(finding)}\n"
        f"    {finding.suggestion}"
    )


def print_text(
    findings: List[Finding],
    nfiles: int,
    new: Optional[List[Finding]],
    gone: int,
    baseline: Optional[str],
) -> None:
    """Print each finding (only the new ones, with a baseline), then a summary line."""
    shown = findings if new is None else new
    for finding in shown:
        print(_describe_text(finding))
    literal = [finding for finding in findings if finding.shell is not None]
    shell_free = sum(1 for finding in literal if not finding.shell)
    files = len({finding.path for finding in findings})
    summary = (
        f"{len(findings)} call{'s' if len(findings) != 1 else ''} in {files} of {nfiles} "
        f"file{'s' if nfiles != 1 else ''}; {shell_free} could run without a shell, "
        f"{len(literal) - shell_free} need one, {len(findings) - len(literal)} unknown"
    )
    if new is not None:
        summary += f"; {len(new)} not in the baseline {baseline}"
    if gone:
        summary += f"; {gone} of its calls are gone (--write-baseline drops them)"
    print(summary)


def print_json(
    findings: List[Finding],
    skipped: List[Skipped],
    nfiles: int,
    new: Optional[List[Finding]],
    gone: int,
) -> None:
    """Print one JSON document: every call (``new`` when there is a baseline), skips, totals."""
    new_ids = {id(finding) for finding in new} if new is not None else None
    calls = []
    for finding in findings:
        entry = finding.to_json()
        entry["new"] = None if new_ids is None else id(finding) in new_ids
        calls.append(entry)
    document = {
        "calls": calls,
        "skipped": [{"path": item.path, "error": item.message} for item in skipped],
        "summary": {
            "files": nfiles,
            "calls": len(findings),
            "new": None if new is None else len(new),
            "gone": None if new is None else gone,
        },
    }
    print(json.dumps(document, indent=2))
