"""The words and numbers every format shows: counts, durations, statuses, shell needs.

Every human-readable format (text, Markdown, HTML) says the same thing the
same way; only the markup differs.  :func:`oneline` makes any recorded text
safe to print on one line.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from shim._tools.escape import oneline
from shim._tools.report.model import SHOW_COMMANDS, STATES, TRACK_COMMANDS, Site

__all__ = [
    "count_text",
    "damaged_text",
    "distinct_text",
    "duration_text",
    "free_text",
    "mean_ms",
    "no_suggestion_text",
    "oneline",
    "others_text",
    "percent_text",
    "shell_text",
    "shown_commands",
    "skipped_text",
    "state_count_text",
    "states_text",
    "status_text",
]

def functions_text(summary: Dict[str, Any]) -> str:
    """``os.system 12 sites (340 calls), os.popen 2 sites (9 calls)``."""
    return ", ".join(
        f"{name} {count_text(part['sites'])} sites ({count_text(part['calls'])} calls)"
        for name, part in summary["functions"].items()
    )


def count_text(number: int) -> str:
    """``1,234``: a count with thousands separators."""
    return f"{number:,}"


def percent_text(part: int, whole: int) -> str:
    """``part`` of ``whole`` in whole percent, never rounded to 0% or 100% when it is not."""
    if not whole:
        return "0%"
    value = 100.0 * part / whole
    if 0 < value < 1:
        return "<1%"
    if 99 < value < 100:
        return ">99%"
    return f"{value:.0f}%"


def duration_text(ms: float) -> str:
    """A duration in milliseconds, seconds or minutes, whichever reads best."""
    if ms < 1000:
        return f"{ms:.1f} ms"
    seconds = ms / 1000
    if seconds < 600:
        return f"{seconds:.2f} s"
    return f"{seconds / 60:.1f} min"


def status_text(site: Site, limit: Optional[int] = None) -> List[str]:
    """``status (meaning) \u00d7 count`` for the site's statuses, most frequent first."""
    items = sorted(site.statuses.items(), key=lambda kv: (-kv[1], str(kv[0])))
    if limit is not None:
        items = items[:limit]
    parts = []
    for status, count in items:
        meaning = site.meanings.get(status, "") if isinstance(status, int) else ""
        label = f"{status} ({meaning})" if meaning else str(status)
        parts.append(f"{label} \u00d7 {count_text(count)}")
    return parts


def shell_text(site: Site) -> str:
    """Whether the site's calls needed a shell, and why, most frequent reason first.

    Ends with what ``/bin/sh`` was where the records say (``(/bin/sh: bash 5.2.37)``).
    """
    shells = ""
    if site.shells:
        seen = sorted(site.shells, key=lambda sh: (-site.shells[sh], sh))
        shells = " (/bin/sh: " + ", ".join(oneline(sh) for sh in seen) + ")"
    if site.shell_free == site.calls:
        return "not needed" + shells
    reasons = sorted(site.reasons.items(), key=lambda kv: (-kv[1], kv[0]))
    listed = ", ".join(f"{oneline(r)} \u00d7 {count_text(n)}" for r, n in reasons)
    if site.shell_free:
        needed = f"{count_text(site.needs_shell())} of {count_text(site.calls)} calls"
        return f"needed for {needed}: {listed}{shells}"
    return f"needed: {listed}{shells}"


def mean_ms(site: Site) -> float:
    """The mean duration of the site's calls, in milliseconds."""
    return site.total_ms / site.calls if site.calls else 0.0


def shown_commands(site: Site) -> Tuple[List[Tuple[str, int, int]], int]:
    """Return the commands to show, and how many calls the others made.

    A command whose count is mostly inherited from the ones it displaced in
    the counter (see :class:`~shim._tools.report.topk.TopK`) is not shown: at a site that runs a
    different command every time, those counts are noise.
    """
    shown: List[Tuple[str, int, int]] = []
    for command, count, error in site.commands.most_common():
        if len(shown) == SHOW_COMMANDS:
            break
        if error and count - error <= error:
            continue
        shown.append((command, count, error))
    rest = site.calls - sum(count for _, count, _ in shown)
    return shown, max(rest, 0)


def others_text(site: Site, rest: int) -> str:
    """The line that stands for the ``rest`` calls of commands not shown."""
    many = f", more than {TRACK_COMMANDS} distinct" if site.commands.evicted else ""
    return f"{count_text(rest)} \u00d7 other commands{many}"


def free_text(summary: Dict[str, Any]) -> str:
    """How many calls and sites ran (or could run) without a shell."""
    return (
        f"{count_text(summary['shell_free_calls'])} of {count_text(summary['calls'])} calls "
        f"({percent_text(summary['shell_free_calls'], summary['calls'])}), "
        f"{count_text(summary['shell_free_sites'])} of {count_text(summary['sites'])} sites"
    )


def skipped_text(summary: Dict[str, Any]) -> str:
    """How many lines were skipped, and why."""
    reasons = "; ".join(f"{r}: {count_text(n)}" for r, n in summary["skipped_reasons"].items())
    return f"{count_text(summary['skipped_lines'])} ({reasons})"


def distinct_text(site: Site) -> str:
    """How many distinct commands the site ran."""
    count = len(site.commands)
    if site.commands.evicted:
        return f"more than {TRACK_COMMANDS} distinct"
    return f"{count_text(count)} distinct"


def no_suggestion_text(site: Site) -> str:
    """Why a site has no suggestion (the commands that ran are never turned into code)."""
    return f"no suggestion: {site.source_reason}; the commands above are what ran"


#: A count of sites in each state, as words ("2 need a shell").
STATE_COUNTS = {"needs a shell": "need a shell"}


def state_count_text(state: str, count: int) -> str:
    """``2 need a shell``: a number of sites in one state."""
    return f"{count_text(count)} {STATE_COUNTS.get(state, state) if count != 1 else state}"


def states_text(summary: Dict[str, Any]) -> str:
    """``3 could drop the shell, 2 need a shell, ...``: sites by migration state."""
    states = summary["states"]
    return ", ".join(state_count_text(state, states[state]) for state in STATES)


def damaged_text(damaged: Dict[str, str]) -> str:
    """One damaged input file and why."""
    return f"{damaged['file']}: {damaged['reason']}"
