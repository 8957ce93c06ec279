r"""The report as one JSON document, for other programs.

The document is always valid JSON, whatever the records held: no ``NaN``
or ``Infinity`` (a sum that overflows is written as ``null``), and no lone
surrogate (the undecodable bytes of a file name are written ``\\xNN``).
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any, Dict, Optional

from shim._tools.escape import json_safe
from shim._tools.report.describe import (
    mean_ms,
    no_suggestion_text,
    shown_commands,
)

if TYPE_CHECKING:
    from shim._tools.report.model import Report, Site

__all__ = ["VERSION", "render"]

#: The version of this document's layout (not of the audit records it sums up).
VERSION = 2


def _source_json(site: Site) -> Dict[str, Any]:
    source = site.source
    if source is None:
        return {
            "source": None,
            "source_lines": None,
            "source_unavailable": site.source_reason,
            "suggestion": None,
            "suggestion_changes": [],
            "suggestion_assumption": None,
            "no_suggestion": no_suggestion_text(site),
        }
    return {
        "source": source.text,
        "source_lines": {"start": source.start, "end": source.end},
        "source_unavailable": None,
        "suggestion": source.suggestion,
        "suggestion_changes": list(source.changes),
        "suggestion_assumption": source.assumption,
        "no_suggestion": None,
    }


def _site_json(site: Site) -> Dict[str, Any]:
    shown, rest = shown_commands(site)
    return {
        "file": site.file,
        "line": site.line,
        "function": site.function,
        "called": site.called,
        "state": site.state,
        **_source_json(site),
        "calls": site.calls,
        "failures": site.failures,
        "refused_calls": site.refused,
        "statuses": [
            {
                "status": status,
                "count": count,
                "meaning": site.meanings.get(status, "") if isinstance(status, int) else "",
            }
            for status, count in sorted(site.statuses.items(), key=lambda kv: (-kv[1], str(kv[0])))
        ],
        "distinct_commands": len(site.commands),
        "commands": [
            {"command": command, "count": count, "max_overcount": error}
            for command, count, error in shown
        ],
        "other_command_calls": rest,
        "commands_complete": not site.commands.evicted,
        "shell_free_calls": site.shell_free,
        "shell_reasons": dict(sorted(site.reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
        "shells": dict(sorted(site.shells.items(), key=lambda kv: (-kv[1], kv[0]))),
        "total_duration_ms": site.total_ms,
        "mean_duration_ms": mean_ms(site),
        "max_duration_ms": site.max_ms,
        "first_ts": site.first_ts,
        "last_ts": site.last_ts,
    }


def _not_run_json(site: Site) -> Dict[str, Any]:
    return {
        "file": site.file,
        "line": site.line,
        "function": site.function,
        "called": site.called,
        **_source_json(site),
    }


def _clean(value: Any) -> Any:
    """The value with non-finite numbers as ``None`` and strings JSON readers accept."""
    if isinstance(value, str):
        return json_safe(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {_key(key): _clean(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(item) for item in value]
    return value


def _key(key: Any) -> Optional[str]:
    return json_safe(key) if isinstance(key, str) else str(key)


def render(report: Report) -> str:
    """Render the report as one JSON document: ``{"v": 2, "summary": {...}, "sites": [...]}``."""
    document = {
        "v": VERSION,
        "summary": report.summary(),
        "sites": [_site_json(site) for site in report.ranked()],
        "not_run": [_not_run_json(site) for site in report.not_run],
        "suppressed": [_not_run_json(site) for site in report.suppressed_sites()],
    }
    return json.dumps(_clean(document), indent=2, allow_nan=False) + "\n"
