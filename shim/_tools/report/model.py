"""The report's model: audit records folded into one small aggregate per call site.

Memory depends on the number of call sites in the code, never on the
number of records: the commands of a site are counted with a space-saving
counter that tracks at most :data:`TRACK_COMMANDS` of them (the busiest are
exact or nearly so; see :class:`~shim._tools.report.topk.TopK`), and status
histograms and shell reasons are capped.

A record this model does not understand (a field missing or of the wrong
type) is refused with the reason, which the reader counts as a skipped
line.  A record of a newer schema version stops the report: its fields may
mean something this version cannot know, and a silently wrong report is
worse than none.
"""

from __future__ import annotations

import importlib
import linecache
import math
import signal
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from shim._common import schema as _schema
from shim._tools.report.errors import NewerSchemaError
from shim._tools.report.topk import TopK

__all__ = ["Report", "Site"]

#: Distinct commands tracked per site, and how many of them a report shows.
TRACK_COMMANDS = 32
SHOW_COMMANDS = 10
#: Commands and suggestions longer than this are cut (and counted by their start).
MAX_TEXT = 2000
#: Distinct statuses and shell reasons kept per site; the rest count as "other".
MAX_STATUSES = 32
MAX_REASONS = 16
#: How many skipped lines the summary names.
SHOW_SKIPPED = 5
OTHER = "other"
NOT_ANALYSED = "not analysed (shell analysis unavailable)"

#: The fields :meth:`Report.add` needs in a record, in the order the writer
#: emits them (the first one missing is the one named), and those it reads
#: when they are there.  ``add`` spells them out for speed; this is where
#: they meet the schema, so that a field renamed by the writer fails the
#: import instead of turning every record into a skipped line.
REQUIRED = ("v", "command", "shell", "shell_reason", "site", "status", "duration_ms", "suggestion")
OPTIONAL = ("ts", "cwd", "exit_code", "signal", "core_dumped")
_unknown = sorted(set(REQUIRED + OPTIONAL).difference(_schema.FIELDS))
if _unknown:  # pragma: no cover - the writer's schema and this reader disagree
    raise ImportError(f"the report reads fields the audit schema does not have: {_unknown}")

_INF = math.inf
_NEG_INF = -math.inf


class Site:
    """What the records of one call site add up to."""

    __slots__ = (
        "calls",
        "commands",
        "cwd",
        "failures",
        "file",
        "first_ts",
        "function",
        "last_ts",
        "line",
        "max_ms",
        "meanings",
        "reasons",
        "shell_free",
        "statuses",
        "suggestions",
        "total_ms",
    )

    def __init__(self, file: Optional[str], line: Optional[int], function: Optional[str]) -> None:
        self.file = file
        self.line = line
        self.function = function
        self.cwd: Optional[str] = None
        self.calls = 0
        self.failures = 0
        self.shell_free = 0
        self.total_ms = 0.0
        self.max_ms = 0.0
        self.statuses: Dict[Any, int] = {}
        self.meanings: Dict[int, str] = {}
        self.reasons: Dict[str, int] = {}
        self.commands = TopK(TRACK_COMMANDS)
        self.suggestions = TopK(8)
        self.first_ts: Optional[str] = None
        self.last_ts: Optional[str] = None

    @property
    def name(self) -> str:
        if self.file is None:
            return "(unknown site)"
        return f"{self.file}:{self.line}"

    def source(self) -> str:
        """Return the line as the file reads now ('' when the file is gone).

        A relative file name is taken relative to the working directory of
        the first call recorded at this site.
        """
        if self.file is None or self.line is None or self.line < 1:
            return ""
        path = Path(self.file)
        if not path.is_absolute() and self.cwd:
            path = Path(self.cwd) / path
        try:
            return linecache.getline(str(path), self.line).strip()
        except Exception:  # a missing or odd file means no source line
            return ""

    def suggestion(self) -> str:
        top = self.suggestions.most_common(1)
        return top[0][0] if top else ""

    def needs_shell(self) -> int:
        return self.calls - self.shell_free


SiteKey = Tuple[Optional[str], Optional[int]]


class _ShellCheck:
    """Whether a recorded command needs ``/bin/sh``, for records that did not say.

    Records made with ``shell="always"`` were never analysed (their
    ``shell_reason`` is null).  The shell analysis of ``shell="auto"`` runs
    here on the recorded text instead; it is redacted and rendered as text,
    so the answer errs towards "needs a shell", never the other way.
    """

    _CACHE_SIZE = 4096
    _CACHE_TEXT = 1024

    def __init__(self) -> None:
        self._analyze: Optional[Callable[[bytes], Any]]
        try:
            self._analyze = importlib.import_module("shim._common.syntax").analyze
        except ImportError:
            self._analyze = None
        self._cache: Dict[str, Optional[str]] = {}

    def reason(self, command: str) -> Optional[str]:
        """``None`` when no shell is needed, else why (or :data:`NOT_ANALYSED`)."""
        if self._analyze is None:
            return NOT_ANALYSED
        cache = self._cache
        if command in cache:
            return cache[command]
        try:
            data = command.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            data = command.encode("utf-8", "backslashreplace")
        try:
            analysis = self._analyze(data)
            found = None if analysis.argv is not None else str(analysis.reason or "needs a shell")
        except Exception:  # one odd command must not stop the report
            found = "could not be analysed"
        if len(command) <= self._CACHE_TEXT:
            if len(cache) >= self._CACHE_SIZE:
                cache.clear()
            cache[command] = found
        return found


class Report:
    """Call sites and totals, fed one record at a time."""

    def __init__(self) -> None:
        self.sites: Dict[SiteKey, Site] = {}
        self.files: List[str] = []
        self.calls = 0
        self.skipped = 0
        self.skipped_reasons: Dict[str, int] = {}
        self.skipped_examples: List[str] = []
        self._shell = _ShellCheck()

    def skip(self, name: str, number: int, reason: str) -> None:
        """Count a line that is not a record, ``name:number`` telling where it was."""
        self.skipped += 1
        reasons = self.skipped_reasons
        if reason in reasons or len(reasons) < MAX_REASONS:
            reasons[reason] = reasons.get(reason, 0) + 1
        else:
            reasons[OTHER] = reasons.get(OTHER, 0) + 1
        if len(self.skipped_examples) < SHOW_SKIPPED:
            self.skipped_examples.append(f"{name}:{number}: {reason}")

    def add(self, record: Dict[str, Any]) -> Optional[str]:
        """Fold one parsed record in; return why it was refused, if it was.

        Raises :class:`NewerSchemaError` for a record of a newer schema.
        """
        # This runs once per record, millions of times: plain lookups and
        # ``type() is`` checks, no helper calls on the common path.
        try:
            version = record["v"]
            command = record["command"]
            shell = record["shell"]
            reason = record["shell_reason"]
            where = record["site"]
            status = record["status"]
            duration = record["duration_ms"]
            suggestion = record["suggestion"]
        except KeyError as exc:
            return f'missing field "{exc.args[0]}"'
        if type(version) is not int or version != _schema.VERSION:
            return self._version_problem(version)
        if type(command) is not str:
            return 'invalid field "command"'
        if type(shell) is not bool:
            return 'invalid field "shell"'
        if reason is not None and type(reason) is not str:
            return 'invalid field "shell_reason"'
        if type(status) is not int:
            return 'invalid field "status"'
        if type(duration) is not float and type(duration) is not int:
            return 'invalid field "duration_ms"'
        if not _NEG_INF < duration < _INF:  # also refuses NaN
            return 'invalid field "duration_ms"'
        if suggestion is not None and type(suggestion) is not str:
            return 'invalid field "suggestion"'
        if where is None:
            key: SiteKey = (None, None)
            function = None
        else:
            if type(where) is not dict:
                return 'invalid field "site"'
            file = where.get("file")
            line = where.get("line")
            function = where.get("function")
            if type(file) is not str or type(line) is not int or type(function) is not str:
                return 'invalid field "site"'
            key = (file, line)
        ts = record.get("ts")
        if ts is not None and type(ts) is not str:
            return 'invalid field "ts"'

        site = self.sites.get(key)
        if site is None:
            site = self.sites[key] = Site(key[0], key[1], function)
            cwd = record.get("cwd")
            site.cwd = cwd if type(cwd) is str else None
        self.calls += 1
        site.calls += 1
        statuses = site.statuses
        if status in statuses:
            statuses[status] += 1
        elif len(statuses) < MAX_STATUSES:
            statuses[status] = 1
            site.meanings[status] = _meaning(record, status)
        else:
            statuses[OTHER] = statuses.get(OTHER, 0) + 1
        if status != 0:
            site.failures += 1
        site.total_ms += duration
        if duration > site.max_ms:  # noqa: PLR1730 - max() costs a call per record
            site.max_ms = duration
        if ts is not None:
            first = site.first_ts
            if first is None:
                site.first_ts = site.last_ts = ts
            elif ts < first:
                site.first_ts = ts
            elif ts > site.last_ts:  # type: ignore[operator]
                site.last_ts = ts

        if not shell:
            site.shell_free += 1
        else:
            why = reason if reason is not None else self._shell.reason(command)
            if why is None:
                site.shell_free += 1
            else:
                reasons = site.reasons
                if why in reasons:
                    reasons[why] += 1
                elif len(reasons) < MAX_REASONS:
                    reasons[why] = 1
                else:
                    reasons[OTHER] = reasons.get(OTHER, 0) + 1
        site.commands.add(command if len(command) <= MAX_TEXT else _cut(command))
        if suggestion:
            site.suggestions.add(suggestion if len(suggestion) <= MAX_TEXT else _cut(suggestion))
        return None

    @staticmethod
    def _version_problem(version: object) -> str:
        if type(version) is not int:
            return 'invalid field "v"'
        if version > _schema.VERSION:
            raise NewerSchemaError(
                f"record written by a newer shim (schema v{version}; this shim reads "
                f"v{_schema.VERSION}): upgrade shim to report on it"
            )
        return f"unknown schema version {version}"

    def ranked(self) -> List[Site]:
        """Return the sites, busiest first (then by file and line)."""
        return sorted(
            self.sites.values(),
            key=lambda s: (-s.calls, s.file is None, s.file or "", s.line or 0),
        )

    def summary(self) -> Dict[str, Any]:
        sites = list(self.sites.values())
        free_calls = sum(s.shell_free for s in sites)
        unknown = sum(s.reasons.get(NOT_ANALYSED, 0) for s in sites)
        stamps = [s.first_ts for s in sites if s.first_ts] + [s.last_ts for s in sites if s.last_ts]
        return {
            "files": list(self.files),
            "sites": len(sites),
            "calls": self.calls,
            "failures": sum(s.failures for s in sites),
            "shell_free_calls": free_calls,
            "shell_free_sites": sum(1 for s in sites if s.calls and s.shell_free == s.calls),
            "needs_shell_calls": self.calls - free_calls - unknown,
            "not_analysed_calls": unknown,
            "total_duration_ms": sum((s.total_ms for s in sites), 0.0),
            "first_ts": min(stamps) if stamps else None,
            "last_ts": max(stamps) if stamps else None,
            "skipped_lines": self.skipped,
            "skipped_reasons": dict(sorted(self.skipped_reasons.items(), key=lambda kv: -kv[1])),
            "skipped_examples": list(self.skipped_examples),
        }


def _meaning(record: Dict[str, Any], status: int) -> str:
    """Say what a status meant, from the record's own ``exit_code``/``signal`` fields."""
    code = record.get("exit_code")
    sig = record.get("signal")
    if type(code) is int:
        return f"exit {code}"
    if type(sig) is int:
        text = f"killed by {_signal_name(sig) or f'signal {sig}'}"
        if record.get("core_dumped") is True:
            text += ", core dumped"
        return text
    if status == -1:
        return "status not collected"
    return ""


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return ""


def _cut(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "\u2026"
