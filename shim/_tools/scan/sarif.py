"""The scan as SARIF 2.1.0, for code scanning services (GitHub's upload-sarif action and others).

One run of one tool, ``shim``, with two rules: ``SHIM001`` a call of
``os.system``, ``SHIM002`` a call of ``os.popen``.  Each call is a result
at its file, line and columns, with the suggested replacement in its
message and a ``partialFingerprints`` entry built from the baseline
identity (file, function, syntax tree, occurrence), so a service tracks a
call across edits the way ``--baseline`` does.  With a baseline,
``baselineState`` says whether a call is new; a suppressed call carries an
``inSource`` suppression; a file that could not be read or parsed is a
tool execution notification, and makes ``executionSuccessful`` false.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional
from urllib.parse import quote

from shim._tools.escape import json_safe
from shim._version import __version__

if TYPE_CHECKING:
    from shim._tools.scan.finding import Finding
    from shim._tools.scan.output import Outcome

__all__ = ["RULES", "SCHEMA", "render"]

#: The OASIS schema this output follows (SARIF 2.1.0, errata 01).
SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
_DOCS = "https://os-system-shim.github.io/os-system-shim/"
_ROOT = "SRCROOT"

#: (id, name, call, description) of each rule.
RULES = (
    (
        "SHIM001",
        "os-system-call",
        "os.system",
        (
            "os.system runs its command through /bin/sh and returns a wait status; "
            "subprocess.run says what it runs and returns the exit code."
        ),
    ),
    (
        "SHIM002",
        "os-popen-call",
        "os.popen",
        (
            "os.popen runs its command through /bin/sh; subprocess.Popen or subprocess.run "
            "says what it runs."
        ),
    ),
)


def _uri(path: str) -> Dict[str, str]:
    """An artifact location: relative to the current directory when below it."""
    absolute = Path(os.path.abspath(path))
    try:
        relative = absolute.relative_to(Path.cwd())
    except ValueError:
        return {"uri": absolute.as_uri()}
    return {"uri": quote(json_safe(relative.as_posix()), safe="/"), "uriBaseId": _ROOT}


def _skipped_location(path: str, line: Optional[int]) -> Dict[str, Any]:
    location: Dict[str, Any] = {"artifactLocation": _uri(path)}
    if line:
        location["region"] = {"startLine": line}
    return location


def _result(finding: Finding, outcome: Outcome, rule_index: int) -> Dict[str, Any]:
    rule_id = RULES[rule_index][0]
    text = f"{finding.name} in {finding.function}: replace with {finding.suggestion}"
    if finding.changes:
        text += f" (changes: {', '.join(finding.changes)})"
    result: Dict[str, Any] = {
        "ruleId": rule_id,
        "ruleIndex": rule_index,
        "level": "error" if outcome.is_new(finding) and not finding.suppressed else "warning",
        "message": {"text": json_safe(text)},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": _uri(finding.path),
                    "region": {
                        "startLine": finding.start[0],
                        "startColumn": finding.start[1] + 1,
                        "endLine": finding.end[0],
                        "endColumn": finding.end[1] + 1,
                    },
                }
            }
        ],
        "partialFingerprints": {
            "shimCall/v1": f"{finding.function}:{finding.fingerprint}:{finding.occurrence}"
        },
    }
    if outcome.new is not None and not finding.suppressed:
        result["baselineState"] = "new" if outcome.is_new(finding) else "unchanged"
    if finding.suppressed:
        result["suppressions"] = [
            {"kind": "inSource", "justification": "a '# shim: ignore' comment on the call"}
        ]
    return result


def render(outcome: Outcome) -> str:
    """The SARIF log, as JSON text."""
    rule_of = {call: index for index, (_, _, call, _) in enumerate(RULES)}
    findings: List[Finding] = sorted(
        [*outcome.findings, *outcome.suppressed], key=lambda f: (f.path, f.start)
    )
    notifications = [
        {
            "level": "error",
            "message": {"text": json_safe(item.message)},
            "locations": [{"physicalLocation": _skipped_location(item.path, item.line)}],
        }
        for item in outcome.skipped
    ]
    log = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "shim",
                        "version": __version__,
                        "informationUri": _DOCS,
                        "rules": [
                            {
                                "id": rule_id,
                                "name": name,
                                "shortDescription": {"text": f"a call of {call}"},
                                "fullDescription": {"text": description},
                                "helpUri": f"{_DOCS}cli/scan/",
                                "defaultConfiguration": {"level": "error"},
                            }
                            for rule_id, name, call, description in RULES
                        ],
                    }
                },
                "originalUriBaseIds": {_ROOT: {"uri": Path.cwd().as_uri() + "/"}},
                "columnKind": "unicodeCodePoints",
                "invocations": [
                    {
                        "executionSuccessful": not outcome.skipped,
                        "toolExecutionNotifications": notifications,
                    }
                ],
                "results": [_result(f, outcome, rule_of[f.name]) for f in findings],
            }
        ],
    }
    return json.dumps(log, indent=2) + "\n"
