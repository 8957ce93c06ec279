"""The report as one self-contained HTML page with a sortable table.

The page's style and script are real files, ``assets/report.css`` and
``assets/report.js``, shipped as package data and read when a page is
rendered.
"""

from __future__ import annotations

import html
import pkgutil
from typing import TYPE_CHECKING

from shim._tools.report.describe import (
    count_text,
    duration_text,
    free_text,
    mean_ms,
    oneline,
    others_text,
    shown_commands,
    skipped_text,
    status_text,
)
from shim._tools.report.errors import ReportError

if TYPE_CHECKING:
    from shim._tools.report.model import Report, Site

__all__ = ["COLUMNS", "render"]

_PACKAGE = __name__.rpartition(".")[0]

#: (key, title, numeric) of the table's columns, in order.
COLUMNS = (
    ("rank", "#", True),
    ("site", "Site", False),
    ("function", "Function", False),
    ("calls", "Calls", True),
    ("failures", "Failed", True),
    ("statuses", "Statuses", False),
    ("shell_free", "Shell-free", True),
    ("shell", "Shell needed because", False),
    ("total_ms", "Total", True),
    ("mean_ms", "Mean", True),
    ("commands", "Commands", False),
    ("suggestion", "Replace with", False),
)


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _row(rank: int, site: Site) -> str:
    shown, rest = shown_commands(site)
    items = "".join(
        f'<li>{"~" if error else ""}{count_text(count)}\u00d7 '
        f"<code>{_e(oneline(command))}</code></li>"
        for command, count, error in shown
    )
    if rest:
        items += f"<li>{_e(others_text(site, rest))}</li>"
    top = oneline(shown[0][0]) if shown else ""
    if len(top) > 60:
        top = top[:60] + "\u2026"
    more = len(site.commands) - 1
    label = f"{top} (+{more} more)" if more > 0 else top
    source = site.source_text()
    source_html = f"<br><code>{_e(oneline(source))}</code>" if source else ""
    reasons = sorted(site.reasons.items(), key=lambda kv: (-kv[1], kv[0]))
    shell = "; ".join(f"{oneline(r)} \u00d7 {count_text(n)}" for r, n in reasons)
    free_class = "ok" if site.shell_free == site.calls else "bad"
    cells = [
        f'<td class="n" data-v="{rank}">{rank}</td>',
        f'<td data-v="{_e(site.name)}"><code>{_e(oneline(site.name))}</code>{source_html}</td>',
        f"<td><code>{_e(oneline(site.function or ''))}</code></td>",
        f'<td class="n" data-v="{site.calls}">{count_text(site.calls)}</td>',
        f'<td class="n" data-v="{site.failures}">{count_text(site.failures)}</td>',
        f"<td>{_e(', '.join(status_text(site, 8)))}</td>",
        f'<td class="n {free_class}" data-v="{site.shell_free}">{count_text(site.shell_free)}</td>',
        f"<td>{_e(shell)}</td>",
        f'<td class="n" data-v="{site.total_ms!r}">{_e(duration_text(site.total_ms))}</td>',
        f'<td class="n" data-v="{mean_ms(site)!r}">{_e(duration_text(mean_ms(site)))}</td>',
        (
            f'<td data-v="{len(site.commands)}"><details><summary><code>{_e(label)}</code>'
            f'</summary><ol class="cmds">{items}</ol></details></td>'
        ),
        f"<td><code>{_e(oneline(site.suggestion()))}</code></td>",
    ]
    return (
        f'<tr data-rank="{rank}" data-site="{_e(site.name)}" data-calls="{site.calls}">'
        + "".join(cells)
        + "</tr>"
    )


def render(report: Report) -> str:
    """Render the report as one self-contained HTML page with a sortable table.

    Everything is inline (style and script, read from the package's
    ``assets``) and a Content-Security-Policy forbids loading anything, so
    the file opens the same offline.  The
    script marks the table ``data-sortable="ready"``; ``#sort=KEY[:desc]``
    in the address sorts it on load.
    """
    style = _asset("report.css")
    script = _asset("report.js")
    summary = report.summary()
    facts = [
        ("Call sites", count_text(summary["sites"])),
        ("Calls", f"{count_text(summary['calls'])} ({count_text(summary['failures'])} failed)"),
        ("Shell-free today", free_text(summary)),
    ]
    if summary["not_analysed_calls"]:
        facts.append(("Not analysed", f"{count_text(summary['not_analysed_calls'])} calls"))
    if summary["first_ts"]:
        facts.append(("Period", f"{summary['first_ts']} to {summary['last_ts']}"))
    if summary["skipped_lines"]:
        facts.append(("Skipped lines", skipped_text(summary)))
    facts.append(("Files", ", ".join(summary["files"])))
    summary_html = "".join(f"<dt>{_e(k)}</dt><dd>{_e(oneline(v))}</dd>" for k, v in facts)
    heads = "".join(
        f'<th data-key="{key}" data-type="{"num" if numeric else "text"}" scope="col">'
        f'<button type="button">{_e(title)}</button></th>'
        for key, title, numeric in COLUMNS
    )
    rows = "\n".join(_row(rank, site) for rank, site in enumerate(report.ranked(), 1))
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">\n'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        "<title>shim report</title>\n"
        f"<style>\n{style}</style></head>\n<body>\n<h1>shim report</h1>\n"
        f'<dl class="summary">{summary_html}</dl>\n'
        '<table id="sites" data-sortable="no">\n'
        f"<thead><tr>{heads}</tr></thead>\n<tbody>\n{rows}\n</tbody></table>\n"
        f"<script>\n{script}</script>\n</body></html>\n"
    )


def _asset(name: str) -> str:
    """Return one of the files in ``assets/`` beside this module (from a wheel or a checkout)."""
    data = pkgutil.get_data(_PACKAGE, f"assets/{name}")
    if data is None:  # pragma: no cover - a loader that cannot read package data
        raise ReportError(f"cannot read assets/{name} from the installed shim")
    return data.decode("utf-8")
