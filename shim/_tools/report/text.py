"""The report for a terminal: one block per call site, busiest first."""

from __future__ import annotations

from typing import TYPE_CHECKING, List

from shim._tools.report.describe import (
    count_text,
    duration_text,
    free_text,
    mean_ms,
    oneline,
    others_text,
    shell_text,
    shown_commands,
    skipped_text,
    status_text,
)

if TYPE_CHECKING:
    from shim._tools.report.model import Report

__all__ = ["render"]


def render(report: Report) -> str:
    """Render the report for a terminal."""
    summary = report.summary()
    out: List[str] = []
    add = out.append
    add(
        f"shim report: {count_text(summary['sites'])} call sites, "
        f"{count_text(summary['calls'])} calls ({count_text(summary['failures'])} failed) "
        f"from {len(summary['files'])} file(s)"
    )
    add(f"  shell-free today: {free_text(summary)}")
    if summary["not_analysed_calls"]:
        unknown = count_text(summary["not_analysed_calls"])
        add(f"  not analysed: {unknown} calls (shell analysis unavailable)")
    if summary["first_ts"]:
        add(f"  period: {summary['first_ts']} to {summary['last_ts']}")
    if summary["skipped_lines"]:
        add(f"  skipped lines: {skipped_text(summary)}")
        for example in summary["skipped_examples"]:
            add(f"    {oneline(example)}")
    for rank, site in enumerate(report.ranked(), 1):
        add("")
        function = f" in {_function(site.function)}" if site.function else ""
        add(f"{rank}. {oneline(site.name)}{function}")
        source = site.source()
        if source:
            add(f"   source:     {oneline(source)}")
        add(
            f"   calls:      {count_text(site.calls)}, failed {count_text(site.failures)}; "
            f"duration total {duration_text(site.total_ms)}, mean {duration_text(mean_ms(site))}, "
            f"max {duration_text(site.max_ms)}"
        )
        add(f"   statuses:   {', '.join(status_text(site, 8))}")
        add(f"   shell:      {shell_text(site)}")
        shown, rest = shown_commands(site)
        add("   commands:")
        for command, count, error in shown:
            mark = "~" if error else ""
            add(f"     {mark}{count_text(count):>9}  {oneline(command)}")
        if rest:
            add(f"     {others_text(site, rest)}")
        suggestion = site.suggestion()
        if suggestion:
            add(f"   replace:    {oneline(suggestion)}")
    return "\n".join(out) + "\n"


def _function(name: str) -> str:
    """``name()`` for a function, ``<module>`` and the like as they are."""
    return oneline(name) if name.startswith("<") else f"{oneline(name)}()"
