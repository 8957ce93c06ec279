"""The report as one JSON document, for other programs."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Dict

from shim._tools.report.describe import (
    mean_ms,
    shown_commands,
)

if TYPE_CHECKING:
    from shim._tools.report.model import Report, Site

__all__ = ["VERSION", "render"]

#: The version of this document's layout (not of the audit records it sums up).
VERSION = 1


def _site_json(site: Site) -> Dict[str, Any]:
    shown, rest = shown_commands(site)
    return {
        "file": site.file,
        "line": site.line,
        "function": site.function,
        "source": site.source(),
        "calls": site.calls,
        "failures": site.failures,
        "statuses": [
            {
                "status": status,
                "count": count,
                "meaning": site.meanings.get(status, "") if isinstance(status, int) else "",
            }
            for status, count in sorted(site.statuses.items(), key=lambda kv: (-kv[1], str(kv[0])))
        ],
        "commands": [
            {"command": command, "count": count, "max_overcount": error}
            for command, count, error in shown
        ],
        "other_command_calls": rest,
        "commands_complete": not site.commands.evicted,
        "shell_free_calls": site.shell_free,
        "shell_reasons": dict(sorted(site.reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
        "total_duration_ms": site.total_ms,
        "mean_duration_ms": mean_ms(site),
        "max_duration_ms": site.max_ms,
        "suggestion": site.suggestion(),
        "first_ts": site.first_ts,
        "last_ts": site.last_ts,
    }


def render(report: Report) -> str:
    """Render the report as one JSON document: ``{"v": 1, "summary": {...}, "sites": [...]}``."""
    document = {
        "v": VERSION,
        "summary": report.summary(),
        "sites": [_site_json(site) for site in report.ranked()],
    }
    return json.dumps(document, indent=2) + "\n"
