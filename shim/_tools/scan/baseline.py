"""The baseline: the calls a project already has, so that CI fails only on new ones.

A call is known by its file (relative to the baseline), its function, the
fingerprint of its syntax tree and how many identical calls come before it
there; never by its line number, so editing the code around a call does
not make it new.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Set, Tuple

from shim._tools.scan.files import PathError
from shim._tools.scan.finding import Finding, json_text

__all__ = [
    "BASELINE_VERSION",
    "baseline_key",
    "check_path",
    "compare",
    "load_baseline",
    "write_baseline",
]

BASELINE_VERSION = 1


def _baseline_path(path: str, base_dir: str) -> str:
    """``path`` relative to the baseline's directory, with ``/`` separators.

    Relative to the baseline rather than the current directory, so CI and a
    developer's checkout agree whichever directory they run from.
    """
    absolute = Path(path).resolve()
    try:
        relative = os.path.relpath(absolute, base_dir)
    except ValueError:  # another drive on Windows
        relative = str(absolute)
    return relative.replace(os.sep, "/")


_Key = Tuple[str, str, str, int]


def baseline_key(finding: Finding, base_dir: str) -> _Key:
    """Identify a call across edits: file, function, call, occurrence.

    No line numbers: code added above a call must not make it new.  The
    call is compared by its syntax tree, so reformatting it changes nothing;
    ``occurrence`` counts identical calls in the same function.
    """
    return (
        _baseline_path(finding.path, base_dir),
        finding.function,
        finding.fingerprint,
        finding.occurrence,
    )


def _baseline_entry(finding: Finding, base_dir: str) -> Dict[str, Any]:
    path, function, fingerprint, occurrence = baseline_key(finding, base_dir)
    return {
        "path": path,
        "function": function,
        "fingerprint": fingerprint,
        "occurrence": occurrence,
        "call": json_text(_stable_text(finding)),
    }


def _stable_text(finding: Finding) -> str:
    # For people reading the baseline.  Built from the syntax tree, not the
    # source text, so reformatting a call does not rewrite its entry.
    if finding.command is None:
        return f"{finding.name}(...)"
    return f"{finding.name}({finding.command!r})"


def write_baseline(path: str, findings: Iterable[Finding]) -> int:
    """Write the baseline file (sorted, stable JSON); return the number of calls."""
    base_dir = _base_dir(path)
    entries = sorted(
        (_baseline_entry(finding, base_dir) for finding in findings),
        key=lambda entry: (
            entry["path"],
            entry["function"],
            entry["fingerprint"],
            entry["occurrence"],
        ),
    )
    document = {"version": BASELINE_VERSION, "tool": "shim scan", "calls": entries}
    text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=True) + "\n"
    Path(path).write_bytes(text.encode("utf-8"))
    return len(entries)


def _base_dir(baseline: str) -> str:
    return str(Path(baseline).resolve().parent)


def load_baseline(path: str) -> Set[_Key]:
    """Read the keys recorded in a baseline file; raise :class:`PathError` if unusable."""
    check_path(path)
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise PathError(f"cannot read baseline {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise PathError(f"baseline {path} is not valid JSON: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("calls"), list):
        raise PathError(f"baseline {path} is not a shim scan baseline")
    version = document.get("version")
    if not isinstance(version, int) or version > BASELINE_VERSION:
        raise PathError(
            f"baseline {path} has version {version!r}; this shim reads up to "
            f"{BASELINE_VERSION} (upgrade shim)"
        )
    keys = {_entry_key(entry) for entry in document["calls"]}
    if None in keys:
        raise PathError(f"baseline {path} has a malformed entry")
    return {key for key in keys if key is not None}


def _entry_key(entry: Any) -> Optional[_Key]:
    try:
        return (
            str(entry["path"]),
            str(entry["function"]),
            str(entry["fingerprint"]),
            int(entry["occurrence"]),
        )
    except (KeyError, TypeError, ValueError):
        return None


def check_path(path: str) -> None:
    """Refuse a baseline path that names a directory."""
    if Path(path).is_dir():
        raise PathError(f"baseline is a directory, not a file: {path}")


def compare(
    findings: List[Finding], files: List[str], known: Set[_Key], baseline: str
) -> Tuple[List[Finding], int]:
    """Return the findings not in the baseline, and how many of its calls are gone.

    Only baseline entries of the files scanned can be gone: a baseline for
    the whole project also works for a scan of one directory.
    """
    base_dir = _base_dir(baseline)
    keys = [baseline_key(finding, base_dir) for finding in findings]
    new = [finding for finding, key in zip(findings, keys) if key not in known]
    scanned = {_baseline_path(path, base_dir) for path in files}
    gone = len({key for key in known if key[0] in scanned} - set(keys))
    return new, gone
