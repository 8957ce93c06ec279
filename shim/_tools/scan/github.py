"""The scan as GitHub Actions workflow commands: an annotation on each call that fails the check.

``::error file=...,line=...,col=...,endLine=...,endColumn=...,title=...::message``
puts the message on the line of the pull request's diff.  Without a
baseline every call is an error; with one, only the calls not in it.  A
file that could not be read or parsed is an error too.  The summary line
closes the output, as in the text format.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, List

from shim._tools.escape import oneline
from shim._tools.scan.output import summary_text

if TYPE_CHECKING:
    from shim._tools.scan.output import Outcome

__all__ = ["render"]


def _data(text: str) -> str:
    # The escapes GitHub's runner decodes in a command's message; every line
    # of it escaped first, so no control character from a file name or the
    # source reaches the log.
    lines = [oneline(line) for line in text.split("\n")]
    return "%0A".join(line.replace("%", "%25") for line in lines)


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def render(outcome: Outcome) -> str:
    """The workflow commands, one per failing call and skipped file, then the summary."""
    out: List[str] = []
    for finding in outcome.failing:
        title = f"{finding.name} call" + (" not in the baseline" if outcome.new is not None else "")
        message = f"{finding.name} in {finding.function}: replace with {finding.suggestion}"
        if finding.changes:
            message += f"\nchanges: {', '.join(finding.changes)}"
            if finding.assumption:
                message += f"; {finding.assumption}"
        properties = ",".join(
            (
                f"file={_property(finding.path)}",
                f"line={finding.start[0]}",
                f"col={finding.start[1] + 1}",
                f"endLine={finding.end[0]}",
                f"endColumn={finding.end[1] + 1}",
                f"title={_property(title)}",
            )
        )
        out.append(f"::error {properties}::{_data(message)}")
    for item in outcome.skipped:
        where = f"file={_property(item.path)}" + (f",line={item.line}" if item.line else "")
        out.append(f"::error {where},title=shim scan::{_data(item.message)}")
    out.append(_data(summary_text(outcome)))
    return "\n".join(out) + "\n"
