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
worse than none.  Fields a record has beyond those read here are ignored;
a call the shim refused (``"outcome": "refused"``, no status) counts as
refused, and an ``os.popen`` command still running when its program
exited (``"outcome": "unfinished"``, no status) as unfinished.

Records name the function called (``"function"``: ``os.system`` or
``os.popen``; older records, without the field, are ``os.system``): a site
is one function called at one line, so the ``os.popen`` sites are listed
beside the ``os.system`` ones, each with its own replacement.

The record's own ``suggestion`` is never shown: it is built from one
command that ran, and pasted as code it would run that one command every
time.  The suggestion comes from the call's source instead
(:mod:`shim._tools.report.sources`).
"""

from __future__ import annotations

import importlib
import math
import signal
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple

from shim._common import schema as _schema
from shim._tools.report.errors import NewerSchemaError
from shim._tools.report.topk import TopK

if TYPE_CHECKING:
    from shim._tools.report.sources import SiteSource, Sources

__all__ = ["STATES", "Report", "Site"]

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
REQUIRED = ("v", "command", "shell", "shell_reason", "site", "status", "duration_ms")
OPTIONAL = ("ts", "cwd", "exit_code", "signal", "core_dumped", "suggestion", "function")
#: A refused call (shell="never") has "outcome": "refused" and no status.
REFUSED = "refused"
#: An os.popen command still running at exit has "outcome": "unfinished" and no status.
UNFINISHED = "unfinished"
#: The functions a record can name, and the one a record without the field called.
FUNCTIONS = ("os.system", "os.popen")
SYSTEM = "os.system"

#: The states of a call site, for the summary picture, most advanced first.
DROP_SHELL = "could drop the shell"
NEEDS_SHELL = "needs a shell"
REFUSED_STATE = "refused"
NOT_RUN = "not run"
STATES = (DROP_SHELL, NEEDS_SHELL, REFUSED_STATE, NOT_RUN)
_unknown = sorted(set(REQUIRED + OPTIONAL).difference(_schema.FIELDS))
if _unknown:  # pragma: no cover - the writer's schema and this reader disagree
    raise ImportError(f"the report reads fields the audit schema does not have: {_unknown}")

_INF = math.inf
_NEG_INF = -math.inf


class Site:
    """What the records of one call site add up to."""

    __slots__ = (
        "called",
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
        "refused",
        "shell_free",
        "shells",
        "source",
        "source_reason",
        "statuses",
        "total_ms",
    )

    def __init__(
        self,
        file: Optional[str],
        line: Optional[int],
        function: Optional[str],
        called: str = SYSTEM,
    ) -> None:
        self.file = file
        self.line = line
        #: The function the call was made from.
        self.function = function
        #: The function called: ``os.system`` or ``os.popen``.
        self.called = called
        self.cwd: Optional[str] = None
        self.calls = 0
        self.failures = 0
        self.shell_free = 0
        self.total_ms = 0.0
        self.max_ms = 0.0
        self.statuses: Dict[Any, int] = {}
        self.meanings: Dict[int, str] = {}
        self.reasons: Dict[str, int] = {}
        #: What /bin/sh was ("dash", "bash 5.2.37", ...), with how many calls saw it.
        self.shells: Dict[str, int] = {}
        self.commands = TopK(TRACK_COMMANDS)
        self.refused = 0
        self.first_ts: Optional[str] = None
        self.last_ts: Optional[str] = None
        #: The call in the source, when the file could be read and the call found.
        self.source: Optional[SiteSource] = None
        #: Why there is no source (and so no suggestion).
        self.source_reason = "the source was not looked up"

    @property
    def name(self) -> str:
        if self.file is None:
            return "(unknown site)"
        return f"{self.file}:{self.line}"

    def source_text(self) -> str:
        """The call as the file reads now, all its lines, secrets masked ('' without source)."""
        return self.source.text if self.source is not None else ""

    def suggestion(self) -> str:
        """The replacement derived from the source ('' without source)."""
        return self.source.suggestion if self.source is not None else ""

    def needs_shell(self) -> int:
        return self.calls - self.shell_free - self.refused

    @property
    def suppressed(self) -> bool:
        return self.source is not None and self.source.suppressed

    @property
    def state(self) -> str:
        """Where the migration of this site stands (one of :data:`STATES`)."""
        if self.calls == 0:
            return NOT_RUN
        if self.refused:
            return REFUSED_STATE
        if self.shell_free == self.calls:
            return DROP_SHELL
        return NEEDS_SHELL


SiteKey = Tuple[Optional[str], Optional[int], str]


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
        self.damaged: List[Tuple[str, str]] = []
        #: Calls found in the source files of the report that no record shows.
        self.not_run: List[Site] = []
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
        refused = unfinished = False
        if type(status) is not int:
            outcome = record.get("outcome")
            refused = status is None and outcome == REFUSED
            unfinished = status is None and outcome == UNFINISHED
            if not refused and not unfinished:
                return 'invalid field "status"'
        called = record.get("function", SYSTEM)
        if called not in FUNCTIONS:
            return 'invalid field "function"'
        if type(duration) is not float and type(duration) is not int:
            return 'invalid field "duration_ms"'
        if not _NEG_INF < duration < _INF:  # also refuses NaN
            return 'invalid field "duration_ms"'
        if where is None:
            key: SiteKey = (None, None, called)
            function = None
        else:
            if type(where) is not dict:
                return 'invalid field "site"'
            file = where.get("file")
            line = where.get("line")
            function = where.get("function")
            if type(file) is not str or type(line) is not int or type(function) is not str:
                return 'invalid field "site"'
            key = (file, line, called)
        ts = record.get("ts")
        if ts is not None and type(ts) is not str:
            return 'invalid field "ts"'

        site = self.sites.get(key)
        if site is None:
            site = self.sites[key] = Site(key[0], key[1], function, called)
            cwd = record.get("cwd")
            site.cwd = cwd if type(cwd) is str else None
        self.calls += 1
        site.calls += 1
        if refused:
            status = REFUSED
            site.refused += 1
        elif unfinished:
            status = UNFINISHED
        statuses = site.statuses
        if status in statuses:
            statuses[status] += 1
        elif len(statuses) < MAX_STATUSES:
            statuses[status] = 1
            if not refused and not unfinished:
                site.meanings[status] = _meaning(record, status)
        else:
            statuses[OTHER] = statuses.get(OTHER, 0) + 1
        if status != 0 and not refused and not unfinished:
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

        if refused:
            reasons = site.reasons
            refusal = f"refused: {reason}" if reason else "refused"
            if refusal in reasons or len(reasons) < MAX_REASONS:
                reasons[refusal] = reasons.get(refusal, 0) + 1
        elif not shell:
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
        sh = record.get("sh")
        if type(sh) is str:
            shells = site.shells
            if sh in shells:
                shells[sh] += 1
            elif len(shells) < MAX_REASONS:
                shells[sh] = 1
        site.commands.add(command if len(command) <= MAX_TEXT else _cut(command))
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

    def damage(self, name: str, reason: str) -> None:
        """Count an input file that could not be read to its end."""
        self.damaged.append((name, reason))

    def attach_sources(self, sources: Sources) -> None:
        """Find each site's call in its source file; add the calls of those files that never ran."""
        for site in list(self.sites.values()):
            sources.attach(site)
        self.not_run = sources.not_run(self.sites.values())

    def ranked(self) -> List[Site]:
        """Return the sites, busiest first (then by file and line); suppressed ones left out."""
        return sorted(
            (site for site in self.sites.values() if not site.suppressed),
            key=lambda s: (-s.calls, s.file is None, s.file or "", s.line or 0, s.called),
        )

    def suppressed_sites(self) -> List[Site]:
        return [site for site in self.sites.values() if site.suppressed]

    @property
    def incomplete(self) -> bool:
        """Whether some input could not be read: skipped lines or damaged files."""
        return bool(self.skipped or self.damaged)

    def summary(self) -> Dict[str, Any]:
        sites = self.ranked()
        calls = sum(s.calls for s in sites)
        free_calls = sum(s.shell_free for s in sites)
        refused = sum(s.refused for s in sites)
        unknown = sum(s.reasons.get(NOT_ANALYSED, 0) for s in sites)
        stamps = [s.first_ts for s in sites if s.first_ts] + [s.last_ts for s in sites if s.last_ts]
        states = dict.fromkeys(STATES, 0)
        for site in [*sites, *self.not_run]:
            states[site.state] += 1
        suppressed = self.suppressed_sites()
        return {
            "files": list(self.files),
            "sites": len(sites),
            "calls": calls,
            "functions": {
                name: {
                    "sites": sum(1 for s in sites if s.called == name),
                    "calls": sum(s.calls for s in sites if s.called == name),
                }
                for name in FUNCTIONS
            },
            "failures": sum(s.failures for s in sites),
            "refused_calls": refused,
            "shell_free_calls": free_calls,
            "shell_free_sites": sum(1 for s in sites if s.calls and s.shell_free == s.calls),
            "needs_shell_calls": calls - free_calls - unknown - refused,
            "not_analysed_calls": unknown,
            "states": states,
            "not_run_sites": len(self.not_run),
            "suppressed_sites": len(suppressed),
            "suppressed_calls": sum(s.calls for s in suppressed),
            "total_duration_ms": sum((s.total_ms for s in sites), 0.0),
            "first_ts": min(stamps) if stamps else None,
            "last_ts": max(stamps) if stamps else None,
            "skipped_lines": self.skipped,
            "skipped_reasons": dict(sorted(self.skipped_reasons.items(), key=lambda kv: -kv[1])),
            "skipped_examples": list(self.skipped_examples),
            "damaged_files": [{"file": name, "reason": why} for name, why in self.damaged],
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
