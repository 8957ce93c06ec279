"""The report for a terminal: one block per call site, busiest first."""

from __future__ import annotations

from typing import TYPE_CHECKING, List

from shim._tools.report.describe import (
    count_text,
    damaged_text,
    distinct_text,
    duration_text,
    free_text,
    functions_text,
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


def render(report: Report) -> str:
    """Render the report for a terminal.

    Every text that comes from a record or a source file is escaped
    (:func:`~shim._tools.escape.oneline`): no control character reaches
    the terminal.
    """
    summary = report.summary()
    out: List[str] = []
    add = out.append
    add(
        f"shim report: {count_text(summary['sites'])} call sites, "
        f"{count_text(summary['calls'])} calls ({count_text(summary['failures'])} failed) "
        f"from {len(summary['files'])} file(s)"
    )
    add(f"  shell-free today: {free_text(summary)}")
    add(f"  sites: {states_text(summary)}")
    add(f"  functions: {functions_text(summary)}")
    if summary["refused_calls"]:
        add(f"  refused: {count_text(summary['refused_calls'])} calls (SHIM_SHELL=never)")
    if summary["not_analysed_calls"]:
        unknown = count_text(summary["not_analysed_calls"])
        add(f"  not analysed: {unknown} calls (shell analysis unavailable)")
    if summary["suppressed_sites"]:
        add(
            f"  suppressed: {count_text(summary['suppressed_sites'])} sites "
            f"({count_text(summary['suppressed_calls'])} calls) by '# shim: ignore'"
        )
    if summary["first_ts"]:
        add(f"  period: {oneline(summary['first_ts'])} to {oneline(summary['last_ts'])}")
    if summary["skipped_lines"]:
        add(f"  skipped lines: {oneline(skipped_text(summary))}")
        for example in summary["skipped_examples"]:
            add(f"    {oneline(example)}")
    for damaged in summary["damaged_files"]:
        add(f"  damaged input: {oneline(damaged_text(damaged))}")
    for rank, site in enumerate(report.ranked(), 1):
        add("")
        function = f" in {_function(site.function)}" if site.function else ""
        add(f"{rank}. {oneline(site.name)}{function}: {site.called}")
        source = site.source
        if source is not None:
            for index, (_, text) in enumerate(source.shown_lines()):
                label = "source:" if index == 0 else ""
                add(f"   {label:<12}{oneline(text)}")
        add(
            f"   calls:      {count_text(site.calls)}, failed {count_text(site.failures)}; "
            f"duration total {duration_text(site.total_ms)}, mean {duration_text(mean_ms(site))}, "
            f"max {duration_text(site.max_ms)}"
        )
        add(f"   statuses:   {oneline(', '.join(status_text(site, 8)))}")
        add(f"   shell:      {oneline(shell_text(site))}")
        shown, rest = shown_commands(site)
        add(f"   commands:   {distinct_text(site)}")
        for command, count, error in shown:
            mark = "~" if error else ""
            add(f"     {mark}{count_text(count):>9}  {oneline(command)}")
        if rest:
            add(f"     {others_text(site, rest)}")
        if source is not None and source.suggestion:
            add(f"   replace:    {oneline(source.suggestion)}")
            if source.changes:
                changes = "changes " + ", ".join(source.changes)
                if source.assumption:
                    changes += f"; {source.assumption}"
                add(f"               {oneline(changes)}")
            if source.note:
                add(f"               ({oneline(source.note)})")
        else:
            add(f"   replace:    {oneline(no_suggestion_text(site))}")
    return "\n".join(out) + "\n"


def _function(name: str) -> str:
    """``name()`` for a function, ``<module>`` and the like as they are."""
    return oneline(name) if name.startswith("<") else f"{oneline(name)}()"
