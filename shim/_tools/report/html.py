"""The report as one self-contained HTML page: by file, filterable, sortable, with a picture.

The page opens with where the migration stands, drawn as inline SVG (call
sites by state: could drop the shell, need a shell, refused, not run),
then the call sites grouped by file, busiest file first, each with its
source (the call highlighted), its calls and statuses, and the
replacement derived from the source.  Failed calls and calls that needed
a shell are marked; a site that needs no shell is marked as done, never
as a red zero.  A filter box and a sort menu work offline.

The page's style and script are real files, ``assets/report.css`` and
``assets/report.js``, shipped as package data and read when a page is
rendered.  Everything is inline and a Content-Security-Policy forbids
loading anything, so the file opens the same from a CI artifact or an
e-mail.  Every text from records and sources is escaped.
"""

from __future__ import annotations

import html
import pkgutil
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple

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
    state_count_text,
    status_text,
)
from shim._tools.report.errors import ReportError
from shim._tools.report.model import DROP_SHELL, NEEDS_SHELL, NOT_RUN, REFUSED_STATE, STATES

if TYPE_CHECKING:
    from shim._tools.report.model import Report, Site

__all__ = ["CSP", "SORT_KEYS", "render"]

_PACKAGE = __name__.rpartition(".")[0]

#: The page's Content-Security-Policy: nothing is loaded, only inline style and script run.
CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'"

#: The sort menu: (key, label).  ``#sort=KEY`` in the address picks one on load.
SORT_KEYS = (
    ("calls", "busiest first"),
    ("failures", "most failures first"),
    ("duration", "longest total time first"),
    ("name", "file and line"),
)

_STATE_CLASS = {
    DROP_SHELL: "drop",
    NEEDS_SHELL: "shell",
    REFUSED_STATE: "refused",
    NOT_RUN: "notrun",
}
_STATE_COLOUR = {
    DROP_SHELL: "#2e7d32",
    NEEDS_SHELL: "#b26a00",
    REFUSED_STATE: "#6a1b9a",
    NOT_RUN: "#8a8a8a",
}
_UNKNOWN_FILE = "(unknown site)"


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _path_html(path: str) -> str:
    """A file name that may break after each ``/`` (never in the middle of a name)."""
    parts = oneline(path).split("/")
    return "/<wbr>".join(_e(part) for part in parts)


def render(report: Report) -> str:
    """Render the report as one self-contained HTML page.

    The script marks ``<main id="sites">`` with ``data-ready="yes"`` once it
    has run; ``#sort=KEY`` and ``#filter=TEXT`` in the address set the sort
    and the filter on load.
    """
    summary = report.summary()
    sites = [*report.ranked(), *report.not_run]
    groups = _groups(sites)
    body = "\n".join(_section(path, members) for path, members in groups)
    total = len(sites)
    options = "".join(f'<option value="{key}">{_e(label)}</option>' for key, label in SORT_KEYS)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        "<title>shim report</title>\n"
        f"<style>\n{_asset('report.css')}</style></head>\n<body>\n"
        "<header>\n<h1>shim report</h1>\n"
        f'<section class="overview" aria-label="where the migration stands">\n'
        f"{_picture(summary)}\n{_facts(summary)}\n</section>\n"
        '<div class="controls" role="search">\n'
        '<label>Filter <input id="filter" type="search" autocomplete="off" '
        'placeholder="file, function, command, source, state"></label>\n'
        f'<label>Sort <select id="sort">{options}</select></label>\n'
        f'<output id="shown" aria-live="polite">{total} of {total} sites</output>\n'
        "</div>\n</header>\n"
        f'<main id="sites" data-ready="no" data-total="{total}">\n{body}\n</main>\n'
        f"<script>\n{_asset('report.js')}</script>\n</body></html>\n"
    )


def _groups(sites: Sequence[Site]) -> List[Tuple[str, List[Site]]]:
    """Sites by file, busiest file first, busiest site first within it."""
    groups: Dict[str, List[Site]] = {}
    for site in sites:
        groups.setdefault(site.file or _UNKNOWN_FILE, []).append(site)
    ordered = sorted(
        groups.items(),
        key=lambda item: (-sum(s.calls for s in item[1]), item[0] == _UNKNOWN_FILE, item[0]),
    )
    return [
        (path, sorted(members, key=lambda s: (-s.calls, s.line or 0))) for path, members in ordered
    ]


def _picture(summary: Dict[str, Any]) -> str:
    """Call sites by state, as one stacked bar of inline SVG, with its legend."""
    states: Dict[str, int] = summary["states"]
    total = sum(states.values())
    width = 1000.0
    x = 0.0
    bars = []
    legend = []
    for state in STATES:
        count = states[state]
        share = width * count / total if total else 0.0
        label = state_count_text(state, count)
        if count:
            bars.append(
                f'<rect class="s-{_STATE_CLASS[state]}" x="{x:.2f}" y="0" width="{share:.2f}" '
                f'height="40" fill="{_STATE_COLOUR[state]}"><title>{_e(label)}</title></rect>'
            )
        x += share
        legend.append(
            f'<li class="s-{_STATE_CLASS[state]}"><span class="swatch" '
            f'style="background:{_STATE_COLOUR[state]}"></span>{_e(label)}</li>'
        )
    if not total:
        bars.append('<rect x="0" y="0" width="1000" height="40" fill="#e0e0e0"></rect>')
    title = ", ".join(state_count_text(state, states[state]) for state in STATES)
    return (
        '<figure class="states">'
        '<svg role="img" aria-labelledby="states-title" viewBox="0 0 1000 40" '
        'preserveAspectRatio="none" width="100%" height="40">'
        f'<title id="states-title">Call sites by state: {_e(title)}</title>{"".join(bars)}</svg>'
        f'<figcaption><ul class="legend">{"".join(legend)}</ul></figcaption></figure>'
    )


def _facts(summary: Dict[str, Any]) -> str:
    facts: List[Tuple[str, str]] = [
        ("Call sites", count_text(summary["sites"])),
        ("Calls", f"{count_text(summary['calls'])} ({count_text(summary['failures'])} failed)"),
        ("Shell-free today", free_text(summary)),
    ]
    if summary["refused_calls"]:
        facts.append(("Refused", f"{count_text(summary['refused_calls'])} calls"))
    if summary["not_analysed_calls"]:
        facts.append(("Not analysed", f"{count_text(summary['not_analysed_calls'])} calls"))
    if summary["suppressed_sites"]:
        suppressed = count_text(summary["suppressed_sites"])
        facts.append(("Suppressed", f"{suppressed} sites (# shim: ignore)"))
    if summary["first_ts"]:
        facts.append(("Period", f"{summary['first_ts']} to {summary['last_ts']}"))
    if summary["skipped_lines"]:
        facts.append(("Skipped lines", skipped_text(summary)))
    facts.extend(("Damaged input", damaged_text(damaged)) for damaged in summary["damaged_files"])
    facts.append(("Audit files", ", ".join(summary["files"])))
    items = "".join(f"<dt>{_e(k)}</dt><dd>{_e(oneline(v))}</dd>" for k, v in facts)
    return f'<dl class="facts">{items}</dl>'


def _section(path: str, members: List[Site]) -> str:
    calls = sum(site.calls for site in members)
    failures = sum(site.failures for site in members)
    duration = sum(site.total_ms for site in members)
    heading = (
        f'<h2><span class="path">{_path_html(path)}</span> '
        f'<span class="counts">{len(members)} site{"s" if len(members) != 1 else ""} '
        f"\u00b7 {count_text(calls)} call{'s' if calls != 1 else ''}"
        + (f' \u00b7 <span class="bad">{count_text(failures)} failed</span>' if failures else "")
        + "</span></h2>"
    )
    articles = "\n".join(_site(site) for site in members)
    return (
        f'<section class="file" data-name="{_e(path)}" data-calls="{calls}" '
        f'data-failures="{failures}" data-duration="{duration!r}">\n'
        f"{heading}\n{articles}\n</section>"
    )


def _badges(site: Site) -> List[str]:
    badges = []
    if site.calls:
        plural = "s" if site.calls != 1 else ""
        badges.append(f'<span class="badge calls">{count_text(site.calls)} call{plural}</span>')
    if site.failures:
        badges.append(f'<span class="badge failed">{count_text(site.failures)} failed</span>')
    state = site.state
    if state == DROP_SHELL:
        badges.append('<span class="badge drop">\u2713 no shell needed</span>')
    elif state == NEEDS_SHELL:
        top = sorted(site.reasons.items(), key=lambda kv: (-kv[1], kv[0]))
        why = f": {oneline(top[0][0])}" if top else ""
        badges.append(f'<span class="badge shell">needs a shell{_e(why)}</span>')
    elif state == REFUSED_STATE:
        badges.append(f'<span class="badge refused">{count_text(site.refused)} refused</span>')
    else:
        badges.append('<span class="badge notrun">not run</span>')
    if site.source is not None and site.source.note:
        badges.append(f'<span class="badge note">{_e(site.source.note)}</span>')
    return badges


def _source_html(site: Site) -> str:
    source = site.source
    if source is None:
        return f'<p class="nosource">{_e(no_suggestion_text(site))}</p>'
    (start_line, start_col), (end_line, end_col) = source.span
    indent = source.indent
    rows = []
    for number, text in source.shown_lines():
        begin = max(start_col - indent, 0) if number == start_line else 0
        finish = max(end_col - indent, 0) if number == end_line else len(text)
        before, inside, after = text[:begin], text[begin:finish], text[finish:]
        rows.append(
            f'<span class="ln">{number}</span>{_e(oneline(before))}'
            f"<mark>{_e(oneline(inside))}</mark>{_e(oneline(after))}"
        )
    return f'<pre class="source" aria-label="source">{chr(10).join(rows)}</pre>'


def _commands_html(site: Site) -> str:
    shown, rest = shown_commands(site)
    if not shown:
        return ""
    items = "".join(
        f"<li>{'~' if error else ''}{count_text(count)}\u00d7 "
        f"<code>{_e(oneline(command))}</code></li>"
        for command, count, error in shown
    )
    if rest:
        items += f"<li>{_e(others_text(site, rest))}</li>"
    return (
        f"<details><summary>{_e(distinct_text(site))} command"
        f"{'s' if len(site.commands) != 1 else ''}</summary><ol class=\"commands\">{items}</ol>"
        "</details>"
    )


def _fix_html(site: Site) -> str:
    source = site.source
    if source is None or not source.suggestion:
        return ""
    changes = ""
    if source.changes:
        codes = ", ".join(f"<code>{_e(code)}</code>" for code in source.changes)
        assumption = f"; {_e(oneline(source.assumption))}" if source.assumption else ""
        changes = f'<p class="changes">Changes {codes}{assumption}</p>'
    return (
        '<div class="fix"><h4>Replace with (derived from the source)</h4>'
        f'<pre class="suggestion">{_e(oneline(source.suggestion))}</pre>{changes}</div>'
    )


def _details(site: Site) -> str:
    if not site.calls:
        return '<p class="notrun-text">No record shows this call: it did not run while audited.</p>'
    rows: List[Tuple[str, str]] = [
        ("Statuses", ", ".join(status_text(site, 8))),
        ("Shell", shell_text(site)),
        ("Duration", _duration(site)),
    ]
    if site.first_ts:
        same = site.first_ts == site.last_ts
        rows.append(("Seen", site.first_ts if same else f"{site.first_ts} to {site.last_ts}"))
    items = "".join(f"<dt>{_e(k)}</dt><dd>{_e(oneline(v))}</dd>" for k, v in rows)
    return f'<dl class="details">{items}</dl>{_commands_html(site)}'


def _duration(site: Site) -> str:
    return (
        f"total {duration_text(site.total_ms)}, mean {duration_text(mean_ms(site))}, "
        f"max {duration_text(site.max_ms)}"
    )


def _searchable(site: Site) -> str:
    parts: List[Optional[str]] = [
        site.file,
        f"{site.name}",
        site.function,
        site.called,
        site.state,
        site.source_text(),
        site.suggestion(),
        *(command for command, _, _ in site.commands.most_common()),
        *site.reasons,
    ]
    return " ".join(oneline(part) for part in parts if part).lower()


def _site(site: Site) -> str:
    classes = ["site", f"state-{_STATE_CLASS[site.state]}"]
    if site.failures:
        classes.append("has-failures")
    function = (
        f' <code class="function">{_e(oneline(site.function))}'
        f"{'' if site.function.startswith('<') else '()'}</code>"
        if site.function
        else ""
    )
    where = f"line {site.line}" if site.line is not None else "unknown line"
    return (
        f'<article class="{" ".join(classes)}" data-name="{_e(site.name)}" '
        f'data-line="{site.line or 0}" data-calls="{site.calls}" data-failures="{site.failures}" '
        f'data-duration="{site.total_ms!r}" data-state="{_e(site.state)}" '
        f'data-text="{_e(_searchable(site))}">\n'
        f'<h3><span class="where">{_e(where)}</span>{function} '
        f'<code class="called">{_e(site.called)}</code> '
        f'<span class="badges">{"".join(_badges(site))}</span></h3>\n'
        f"{_source_html(site)}\n{_details(site)}\n{_fix_html(site)}\n</article>"
    )


def _asset(name: str) -> str:
    """Return one of the files in ``assets/`` beside this module (from a wheel or a checkout)."""
    data = pkgutil.get_data(_PACKAGE, f"assets/{name}")
    if data is None:  # pragma: no cover - a loader that cannot read package data
        raise ReportError(f"cannot read assets/{name} from the installed shim")
    return data.decode("utf-8")
