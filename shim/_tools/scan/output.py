"""What a scan found, and its text and JSON renderings.

:class:`Outcome` is everything a format needs: the calls, the ones not in
the baseline, the suppressed ones, the files that could not be read or
parsed.  Every text this module writes escapes control characters and
undecodable bytes of file names (:func:`~shim._tools.escape.oneline`), so
a hostile file name or source line cannot reach the terminal raw.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Dict, List, Optional, final

from shim._tools.escape import json_safe, oneline
from shim._tools.scan.source import collapse

if TYPE_CHECKING:
    from shim._tools.scan.files import Skipped
    from shim._tools.scan.finding import Finding

__all__ = ["Outcome", "describe_text", "render_json", "render_text"]


@final
class Outcome:
    """The result of one scan, for the formats and the exit status.

    ``findings`` are the calls (suppressed ones excluded, they are in
    ``suppressed``); ``new`` the findings not in the baseline (``None``
    without a baseline); ``gone`` how many baseline entries of the scanned
    files no longer have a call.
    """

    __slots__ = ("baseline", "files", "findings", "gone", "new", "skipped", "suppressed")

    def __init__(
        self,
        findings: List[Finding],
        skipped: List[Skipped],
        files: List[str],
        *,
        baseline: Optional[str] = None,
    ) -> None:
        self.findings = [finding for finding in findings if not finding.suppressed]
        self.suppressed = [finding for finding in findings if finding.suppressed]
        self.skipped = skipped
        self.files = files
        self.baseline = baseline
        self.new: Optional[List[Finding]] = None
        self.gone = 0

    @property
    def failing(self) -> List[Finding]:
        """The findings that fail the check: all of them, or those not in the baseline."""
        return self.findings if self.new is None else self.new

    def is_new(self, finding: Finding) -> bool:
        """Whether the finding fails the check (every finding does without a baseline)."""
        if self.new is None:
            return True
        return any(finding is other for other in self.new)


def _shell_text(finding: Finding) -> str:
    if finding.shell is None:
        if finding.command is None:
            if finding.words is not None:
                return "no shell needed if its values are plain words"
            if finding.template_reason:
                return f"needs a shell ({finding.template_reason})"
            return "shell unknown"
        return f"shell unknown ({finding.shell_reason})"
    if finding.shell:
        return f"needs a shell ({finding.shell_reason or 'unknown reason'})"
    return "no shell needed"


def describe_text(finding: Finding) -> str:
    """One line: where the call is, what it runs, whether it needs a shell."""
    if finding.command is not None:
        command = f"command {finding.command_text!r}"
    else:
        command = f"non-literal command {collapse(finding.argument or '?', 60)}"
    where = f"{finding.path}:{finding.line}:{finding.col}"
    return oneline(
        f"{where}: {finding.spelling} in {finding.function}, {command}, {_shell_text(finding)}"
    )


def render_text(outcome: Outcome) -> str:
    """Each failing finding with its suggestion and what it changes, then a summary line."""
    out: List[str] = []
    for finding in outcome.failing:
        out.append(describe_text(finding))
        out.append(f"    {oneline(finding.suggestion)}")
        if finding.changes:
            label = "changes: " + ", ".join(finding.changes)
            if finding.assumption:
                label += f"; {finding.assumption}"
            out.append(f"    {oneline(label)}")
    out.append(summary_text(outcome))
    return "\n".join(out) + "\n"


def summary_text(outcome: Outcome) -> str:
    """``12 calls in 3 of 41 files; ...``: what the scan found, and what it could not read."""
    findings = outcome.findings
    literal_free = sum(1 for finding in findings if finding.shell is False)
    template_free = sum(1 for finding in findings if finding.words is not None)
    need = sum(
        1 for finding in findings if finding.shell is True or finding.template_reason is not None
    )
    unknown = len(findings) - literal_free - template_free - need
    files = len({finding.path for finding in findings})
    nfiles = len(outcome.files)
    free = f"{literal_free + template_free} could run without a shell"
    if template_free:
        free += f" ({template_free} if their values are plain words)"
    summary = (
        f"{len(findings)} call{'s' if len(findings) != 1 else ''} in {files} of {nfiles} "
        f"file{'s' if nfiles != 1 else ''}; {free}, {need} need one, {unknown} unknown"
    )
    if outcome.suppressed:
        summary += f"; {len(outcome.suppressed)} suppressed by '# shim: ignore'"
    if outcome.skipped:
        count = len(outcome.skipped)
        summary += (
            f"; {count} file{'s' if count != 1 else ''} could not be read or parsed "
            "(their calls are not counted)"
        )
    if outcome.new is not None:
        summary += f"; {len(outcome.new)} not in the baseline {outcome.baseline}"
    if outcome.gone:
        summary += f"; {outcome.gone} of its calls are gone (--write-baseline drops them)"
    return oneline(summary)


def render_json(outcome: Outcome) -> str:
    """One JSON document: every call (``new`` when there is a baseline), skips, totals."""
    calls: List[Dict[str, Any]] = []
    for finding in outcome.findings:
        entry = finding.to_json()
        entry["new"] = None if outcome.new is None else outcome.is_new(finding)
        calls.append(entry)
    document = {
        "calls": calls,
        "suppressed": [finding.to_json() for finding in outcome.suppressed],
        "skipped": [
            {"path": json_safe(item.path), "error": json_safe(item.message)}
            for item in outcome.skipped
        ],
        "summary": {
            "files": len(outcome.files),
            "calls": len(outcome.findings),
            "suppressed": len(outcome.suppressed),
            "skipped_files": len(outcome.skipped),
            "new": None if outcome.new is None else len(outcome.new),
            "gone": None if outcome.new is None else outcome.gone,
        },
    }
    return json.dumps(document, indent=2) + "\n"
