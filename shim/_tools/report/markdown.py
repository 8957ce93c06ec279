"""The report as Markdown (GitHub flavour), for an issue or a pull request.

Text from records and source files is either in a code span or block
(backticks counted, so none can close it early) or escaped character by
character (:func:`~shim._tools.escape.markdown_text`): no record can add
a link, an HTML tag or a table cell.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, List

from shim._tools.escape import markdown_text
from shim._tools.report.describe import (
    count_text,
    damaged_text,
    distinct_text,
    duration_text,
    free_text,
    mean_ms,
    no_suggestion_text,
    oneline,
    others_text,
    shell_text,
    shown_commands,
    skipped_text,
    states_text,
    status_text,
)

if TYPE_CHECKING:
    from shim._tools.report.model import Report

__all__ = ["render"]


def _md_code(text: str, *, table: bool = False) -> str:
    """``text`` as a Markdown code span (a table cell escapes its pipes)."""
    text = oneline(text)
    longest = current = 0
    for char in text:
        current = current + 1 if char == "`" else 0
        longest = max(longest, current)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    span = f"{fence}{pad}{text}{pad}{fence}"
    return span.replace("|", "\\|") if table else span


def _md_block(lines: List[str], language: str = "") -> List[str]:
    lines = [oneline(line) for line in lines]
    longest = current = 0
    for char in "\n".join(lines):
        current = current + 1 if char == "`" else 0
        longest = max(longest, current)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}{language}", *lines, fence]


def render(report: Report) -> str:
    """Render the report as Markdown (GitHub flavour), for an issue or a pull request."""
    summary = report.summary()
    ranked = report.ranked()
    out: List[str] = ["# shim report", ""]
    add = out.append
    add(f"- **Call sites:** {count_text(summary['sites'])} ({markdown_text(states_text(summary))})")
    add(f"- **Calls:** {count_text(summary['calls'])} ({count_text(summary['failures'])} failed)")
    add(f"- **Shell-free today:** {free_text(summary)}")
    if summary["refused_calls"]:
        add(f"- **Refused:** {count_text(summary['refused_calls'])} calls")
    if summary["not_analysed_calls"]:
        add(f"- **Not analysed:** {count_text(summary['not_analysed_calls'])} calls")
    if summary["suppressed_sites"]:
        add(f"- **Suppressed:** {count_text(summary['suppressed_sites'])} sites (`# shim: ignore`)")
    if summary["first_ts"]:
        period = f"{summary['first_ts']} to {summary['last_ts']}"
        add(f"- **Period:** {markdown_text(period)}")
    if summary["skipped_lines"]:
        add(f"- **Skipped lines:** {markdown_text(skipped_text(summary))}")
    for damaged in summary["damaged_files"]:
        add(f"- **Damaged input:** {markdown_text(damaged_text(damaged))}")
    add(f"- **Files:** {', '.join(_md_code(f) for f in summary['files'])}")
    add("")
    if ranked:
        add("| # | Site | Function | Called | Calls | Failed | Shell | Mean |")
        add("|---:|---|---|---|---:|---:|---|---:|")
        for rank, site in enumerate(ranked, 1):
            shell = "not needed" if site.shell_free == site.calls else "needed"
            if 0 < site.shell_free < site.calls:
                shell = f"needed for {count_text(site.needs_shell())}"
            if site.refused:
                shell = f"refused {count_text(site.refused)}"
            function = _md_code(site.function, table=True) if site.function else ""
            add(
                f"| {rank} | {_md_code(site.name, table=True)} | {function} | `{site.called}` "
                f"| {count_text(site.calls)} | {count_text(site.failures)} | {shell} "
                f"| {duration_text(mean_ms(site))} |"
            )
    for rank, site in enumerate(ranked, 1):
        add("")
        function = f" in {_md_code(site.function)}" if site.function else ""
        add(f"## {rank}. {_md_code(site.name)}{function}: `{site.called}`")
        add("")
        source = site.source
        if source is not None:
            out.extend(_md_block([text for _, text in source.shown_lines()], "python"))
            add("")
        add(f"- **Calls:** {count_text(site.calls)}, failed {count_text(site.failures)}")
        add(f"- **Statuses:** {markdown_text(', '.join(status_text(site, 8)))}")
        add(f"- **Shell:** {markdown_text(shell_text(site))}")
        add(
            f"- **Duration:** total {duration_text(site.total_ms)}, "
            f"mean {duration_text(mean_ms(site))}, max {duration_text(site.max_ms)}"
        )
        add(f"- **Commands** ({markdown_text(distinct_text(site))}, most frequent first):")
        shown, rest = shown_commands(site)
        for command, count, error in shown:
            about = "about " if error else ""
            add(f"  - {about}{count_text(count)} \u00d7 {_md_code(command)}")
        if rest:
            add(f"  - {markdown_text(others_text(site, rest))}")
        if source is not None and source.suggestion:
            add("- **Replace with** (derived from the source):")
            add("")
            out.extend(_md_block([source.suggestion], "python"))
            if source.changes:
                add("")
                changes = ", ".join(_md_code(code) for code in source.changes)
                assumption = f"; {markdown_text(source.assumption)}" if source.assumption else ""
                add(f"  Changes: {changes}{assumption}")
        else:
            add(f"- **Replace with:** {markdown_text(no_suggestion_text(site))}")
    return "\n".join(out) + "\n"
