"""``shim report``: the call sites an audit trail saw, busiest first.

The input is read as a stream, one line at a time, and folded into one
small aggregate per call site (``file:line``).  Memory therefore depends on
the number of call sites in the code, never on the number of records: the
commands of a site are counted with a space-saving counter that tracks at
most :data:`TRACK_COMMANDS` of them (the busiest are exact or nearly so; see
:class:`TopK`), status histograms and shell reasons are capped, and lines
longer than :data:`MAX_LINE` are skipped without being held in memory.

A line that is not a record this reader understands (not JSON, not an
object, a field missing or of the wrong type) is counted and skipped.  A
record of a newer schema version stops the report: its fields may mean
something this version cannot know, and a silently wrong report is worse
than none.
"""

from __future__ import annotations

import contextlib
import gzip
import html
import importlib
import json
import linecache
import math
import os
import signal
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple

from shim._common import schema as _schema
from shim.exceptions import ShimError

if TYPE_CHECKING:
    import argparse

__all__ = ["FORMATS", "Report", "ReportError", "TopK", "read", "register", "render"]

#: The schema version this reader understands.
SCHEMA_VERSION = _schema.VERSION
FORMATS = ("text", "markdown", "json", "html")
#: A longer line is skipped (counted as corrupt) without being read into memory.
MAX_LINE = 8 * 1024 * 1024
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

_SUFFIX_FORMATS = {
    ".html": "html",
    ".htm": "html",
    ".md": "markdown",
    ".json": "json",
    ".txt": "text",
}
_INF = math.inf
_NEG_INF = -math.inf


class ReportError(ShimError, ValueError):
    """The input cannot be reported on (unreadable file, newer schema)."""


class NewerSchemaError(ReportError):
    """A record was written by a newer shim, with a schema this one cannot read."""


class TopK:
    """The most frequent strings of a stream, in bounded memory (space-saving).

    At most ``capacity`` strings are tracked.  A new string arriving when the
    table is full replaces the least counted one and inherits its count plus
    one, remembering that inherited part as its possible overcount.  Any
    string seen more than ``total / capacity`` times is guaranteed to be in
    the table, and its count is too high by at most its ``error``.
    """

    __slots__ = ("_capacity", "_counts", "_errors", "evicted")

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._counts: Dict[str, int] = {}
        self._errors: Dict[str, int] = {}
        self.evicted = False

    def add(self, item: str) -> None:
        counts = self._counts
        if item in counts:
            counts[item] += 1
        elif len(counts) < self._capacity:
            counts[item] = 1
        else:
            victim = min(counts, key=counts.__getitem__)
            floor = counts.pop(victim)
            self._errors.pop(victim, None)
            counts[item] = floor + 1
            self._errors[item] = floor
            self.evicted = True

    def most_common(self, limit: Optional[int] = None) -> List[Tuple[str, int, int]]:
        """``(item, count, error)``, most counted first; ties in item order."""
        ranked = sorted(self._counts.items(), key=lambda kv: (-kv[1], kv[0]))
        if limit is not None:
            ranked = ranked[:limit]
        return [(item, count, self._errors.get(item, 0)) for item, count in ranked]

    def __len__(self) -> int:
        return len(self._counts)


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

    # -- input ---------------------------------------------------------------

    def read_file(self, path: str) -> None:
        """Fold every record of ``path`` (``-``: standard input) into the report."""
        self.files.append(path)
        if path == "-":
            stream = getattr(sys.stdin, "buffer", None)
            if stream is None:
                raise ReportError("-: standard input is not available")
            self.read_stream(stream, "<stdin>")
            return
        with _open(path) as stream:
            self.read_stream(stream, path)

    def read_stream(self, stream: IO[bytes], name: str) -> None:
        """Fold the records of a binary stream into the report."""
        loads = json.loads
        for number, line in _lines(stream):
            if line is None:
                self._skip(name, number, "line too long")
                continue
            try:
                # Decoding first is faster than handing json bytes (it would
                # sniff the encoding of every line).
                record = loads(line.decode("utf-8"))
            except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
                if line.strip():
                    self._skip(name, number, "not valid JSON")
                continue
            if not isinstance(record, dict):
                self._skip(name, number, "not a JSON object")
                continue
            try:
                problem = self.add(record)
            except NewerSchemaError as exc:
                raise NewerSchemaError(f"{name}:{number}: {exc}") from None
            if problem is not None:
                self._skip(name, number, problem)

    def _skip(self, name: str, number: int, reason: str) -> None:
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
        if type(version) is not int or version != SCHEMA_VERSION:
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
        if version > SCHEMA_VERSION:
            raise NewerSchemaError(
                f"record written by a newer shim (schema v{version}; this shim reads "
                f"v{SCHEMA_VERSION}): upgrade shim to report on it"
            )
        return f"unknown schema version {version}"

    # -- results -------------------------------------------------------------

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


def _lines(stream: IO[bytes]) -> Iterator[Tuple[int, Optional[bytes]]]:
    """``(line number, line)``; ``None`` for a line over :data:`MAX_LINE`, never kept whole."""
    number = 0
    readline = stream.readline
    while True:
        line = readline(MAX_LINE)
        if not line:
            return
        number += 1
        if len(line) >= MAX_LINE and not line.endswith(b"\n"):
            while True:
                rest = readline(MAX_LINE)
                if not rest or rest.endswith(b"\n"):
                    break
            yield number, None
            continue
        yield number, line


@contextlib.contextmanager
def _open(path: str) -> Iterator[IO[bytes]]:
    """Open an audit file for reading (gzip-compressed files too), or say why not."""
    if Path(path).is_dir():
        raise ReportError(f"{path}: is a directory, not an audit file")
    try:
        raw = Path(path).open("rb")  # noqa: SIM115 - the with below closes it
    except FileNotFoundError:
        raise ReportError(f"{path}: no such file") from None
    except OSError as exc:
        raise ReportError(f"{path}: cannot read: {exc.strerror or exc}") from None
    with raw:
        if raw.peek(2)[:2] == b"\x1f\x8b":
            with gzip.GzipFile(fileobj=raw, mode="rb") as unpacked:
                yield unpacked  # type: ignore[misc]
        else:
            yield raw


def check_inputs(paths: Iterable[str]) -> None:
    """Fail before reading anything when one of the inputs cannot be read."""
    for path in paths:
        if path == "-":
            continue
        if Path(path).is_dir():
            raise ReportError(f"{path}: is a directory, not an audit file")
        if not Path(path).exists():
            raise ReportError(f"{path}: no such file")
        if not os.access(path, os.R_OK):
            raise ReportError(f"{path}: permission denied")


def read(paths: Iterable[str]) -> Report:
    """Build a report over the records of ``paths``, read in turn.

    Every path is checked before any is read, so a typo in the last name
    fails at once.  Raises :class:`ReportError` for an unreadable input or
    a record of a newer schema.
    """
    paths = list(paths)
    check_inputs(paths)
    report = Report()
    for path in paths:
        _read_one(report, path)
    return report


def _read_one(report: Report, path: str) -> None:
    try:
        report.read_file(path)
    except (EOFError, gzip.BadGzipFile) as exc:
        raise ReportError(f"{path}: damaged gzip file: {exc}") from None
    except OSError as exc:
        raise ReportError(f"{path}: cannot read: {exc.strerror or exc}") from None


# -- rendering -----------------------------------------------------------------

_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}


def oneline(text: str) -> str:
    """Return ``text`` on one line, control characters escaped (safe for a terminal).

    Text without control characters is returned as it is.  Otherwise
    backslashes are doubled as well, so that an escaped newline cannot be
    mistaken for a backslash and an ``n`` in the command.
    """
    if text.isprintable():
        return text
    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif char.isprintable() or char == " ":
            out.append(char)
        else:
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
    return "".join(out)


def _count(number: int) -> str:
    return f"{number:,}"


def _percent(part: int, whole: int) -> str:
    if not whole:
        return "0%"
    value = 100.0 * part / whole
    if 0 < value < 1:
        return "<1%"
    if 99 < value < 100:
        return ">99%"
    return f"{value:.0f}%"


def _duration(ms: float) -> str:
    if ms < 1000:
        return f"{ms:.1f} ms"
    seconds = ms / 1000
    if seconds < 600:
        return f"{seconds:.2f} s"
    return f"{seconds / 60:.1f} min"


def _status_text(site: Site, limit: Optional[int] = None) -> List[str]:
    items = sorted(site.statuses.items(), key=lambda kv: (-kv[1], str(kv[0])))
    if limit is not None:
        items = items[:limit]
    parts = []
    for status, count in items:
        meaning = site.meanings.get(status, "") if isinstance(status, int) else ""
        label = f"{status} ({meaning})" if meaning else str(status)
        parts.append(f"{label} \u00d7 {_count(count)}")
    return parts


def _shell_text(site: Site) -> str:
    if site.shell_free == site.calls:
        return "not needed"
    reasons = sorted(site.reasons.items(), key=lambda kv: (-kv[1], kv[0]))
    listed = ", ".join(f"{oneline(r)} \u00d7 {_count(n)}" for r, n in reasons)
    if site.shell_free:
        return f"needed for {_count(site.needs_shell())} of {_count(site.calls)} calls: {listed}"
    return f"needed: {listed}"


def _mean(site: Site) -> float:
    return site.total_ms / site.calls if site.calls else 0.0


def _commands(site: Site) -> Tuple[List[Tuple[str, int, int]], int]:
    """Return the commands to show, and how many calls the others made.

    A command whose count is mostly inherited from the ones it displaced in
    the counter (see :class:`TopK`) is not shown: at a site that runs a
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


def _others(site: Site, rest: int) -> str:
    many = f", more than {TRACK_COMMANDS} distinct" if site.commands.evicted else ""
    return f"{_count(rest)} \u00d7 other commands{many}"


def _free_text(summary: Dict[str, Any]) -> str:
    return (
        f"{_count(summary['shell_free_calls'])} of {_count(summary['calls'])} calls "
        f"({_percent(summary['shell_free_calls'], summary['calls'])}), "
        f"{_count(summary['shell_free_sites'])} of {_count(summary['sites'])} sites"
    )


def _skipped_text(summary: Dict[str, Any]) -> str:
    reasons = "; ".join(f"{r}: {_count(n)}" for r, n in summary["skipped_reasons"].items())
    return f"{_count(summary['skipped_lines'])} ({reasons})"


def render_text(report: Report) -> str:
    """Render the report for a terminal."""
    summary = report.summary()
    out: List[str] = []
    add = out.append
    add(
        f"shim report: {_count(summary['sites'])} call sites, {_count(summary['calls'])} calls "
        f"({_count(summary['failures'])} failed) from {len(summary['files'])} file(s)"
    )
    add(f"  shell-free today: {_free_text(summary)}")
    if summary["not_analysed_calls"]:
        unknown = _count(summary["not_analysed_calls"])
        add(f"  not analysed: {unknown} calls (shell analysis unavailable)")
    if summary["first_ts"]:
        add(f"  period: {summary['first_ts']} to {summary['last_ts']}")
    if summary["skipped_lines"]:
        add(f"  skipped lines: {_skipped_text(summary)}")
        for example in summary["skipped_examples"]:
            add(f"    {oneline(example)}")
    for rank, site in enumerate(report.ranked(), 1):
        add("")
        function = f" in {_function(site.function)}" if site.function else ""
        add(f"{rank}. {oneline(site.name)}{function}")
        source = site.source()
        if source:
            add(f"   source:     {oneline(source)}")
        add(
            f"   calls:      {_count(site.calls)}, failed {_count(site.failures)}; "
            f"duration total {_duration(site.total_ms)}, mean {_duration(_mean(site))}, "
            f"max {_duration(site.max_ms)}"
        )
        add(f"   statuses:   {', '.join(_status_text(site, 8))}")
        add(f"   shell:      {_shell_text(site)}")
        shown, rest = _commands(site)
        add("   commands:")
        for command, count, error in shown:
            mark = "~" if error else ""
            add(f"     {mark}{_count(count):>9}  {oneline(command)}")
        if rest:
            add(f"     {_others(site, rest)}")
        suggestion = site.suggestion()
        if suggestion:
            add(f"   replace:    {oneline(suggestion)}")
    return "\n".join(out) + "\n"


def _function(name: str) -> str:
    """``name()`` for a function, ``<module>`` and the like as they are."""
    return oneline(name) if name.startswith("<") else f"{oneline(name)}()"


def _md_code(text: str, *, table: bool = False) -> str:
    """``text`` as a Markdown code span (a table cell escapes its pipes)."""
    text = oneline(text)
    longest = current = 0
    for char in text:
        current = current + 1 if char == "`" else 0
        longest = max(longest, current)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    span = f"{fence}{pad}{text}{pad}{fence}"
    return span.replace("|", "\\|") if table else span


def _md_block(text: str, language: str = "") -> List[str]:
    longest = current = 0
    for char in text:
        current = current + 1 if char == "`" else 0
        longest = max(longest, current)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}{language}", oneline(text), fence]


def render_markdown(report: Report) -> str:
    """Render the report as Markdown (GitHub flavour), for an issue or a pull request."""
    summary = report.summary()
    ranked = report.ranked()
    out: List[str] = ["# shim report", ""]
    add = out.append
    add(f"- **Call sites:** {_count(summary['sites'])}")
    add(f"- **Calls:** {_count(summary['calls'])} ({_count(summary['failures'])} failed)")
    add(f"- **Shell-free today:** {_free_text(summary)}")
    if summary["not_analysed_calls"]:
        add(f"- **Not analysed:** {_count(summary['not_analysed_calls'])} calls")
    if summary["first_ts"]:
        add(f"- **Period:** {summary['first_ts']} to {summary['last_ts']}")
    if summary["skipped_lines"]:
        add(f"- **Skipped lines:** {_skipped_text(summary)}")
    add(f"- **Files:** {', '.join(_md_code(f) for f in summary['files'])}")
    add("")
    if ranked:
        add("| # | Site | Function | Calls | Failed | Shell | Mean |")
        add("|---:|---|---|---:|---:|---|---:|")
        for rank, site in enumerate(ranked, 1):
            shell = "not needed" if site.shell_free == site.calls else "needed"
            if 0 < site.shell_free < site.calls:
                shell = f"needed for {_count(site.needs_shell())}"
            function = _md_code(site.function, table=True) if site.function else ""
            add(
                f"| {rank} | {_md_code(site.name, table=True)} | {function} | {_count(site.calls)} "
                f"| {_count(site.failures)} | {shell} | {_duration(_mean(site))} |"
            )
    for rank, site in enumerate(ranked, 1):
        add("")
        function = f" in {_md_code(site.function)}" if site.function else ""
        add(f"## {rank}. {_md_code(site.name)}{function}")
        add("")
        source = site.source()
        if source:
            out.extend(_md_block(source, "python"))
            add("")
        add(f"- **Calls:** {_count(site.calls)}, failed {_count(site.failures)}")
        add(f"- **Statuses:** {', '.join(_status_text(site, 8))}")
        add(f"- **Shell:** {_shell_text(site)}")
        add(
            f"- **Duration:** total {_duration(site.total_ms)}, mean {_duration(_mean(site))}, "
            f"max {_duration(site.max_ms)}"
        )
        add("- **Commands** (most frequent first):")
        shown, rest = _commands(site)
        for command, count, error in shown:
            about = "about " if error else ""
            add(f"  - {about}{_count(count)} \u00d7 {_md_code(command)}")
        if rest:
            add(f"  - {_others(site, rest)}")
        suggestion = site.suggestion()
        if suggestion:
            add("- **Replace with:**")
            add("")
            out.extend(_md_block(suggestion, "python"))
    return "\n".join(out) + "\n"


def _site_json(site: Site) -> Dict[str, Any]:
    shown, rest = _commands(site)
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
        "mean_duration_ms": _mean(site),
        "max_duration_ms": site.max_ms,
        "suggestion": site.suggestion(),
        "first_ts": site.first_ts,
        "last_ts": site.last_ts,
    }


def render_json(report: Report) -> str:
    """Render the report as one JSON document: ``{"v": 1, "summary": {...}, "sites": [...]}``."""
    document = {
        "v": 1,
        "summary": report.summary(),
        "sites": [_site_json(site) for site in report.ranked()],
    }
    return json.dumps(document, indent=2) + "\n"


_HTML_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em}
dl.summary{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}
dl.summary dt{font-weight:600}
dl.summary dd{margin:0}
table{border-collapse:collapse;width:100%}
th,td{border:1px solid #ccc;padding:.3em .5em;vertical-align:top;text-align:left}
th{background:#f3f3f3;position:sticky;top:0}
th button{all:unset;cursor:pointer;font-weight:600}
th[aria-sort=ascending] button::after{content:" \\25b2"}
th[aria-sort=descending] button::after{content:" \\25bc"}
td.n{text-align:right;white-space:nowrap}
code{font:12px/1.3 ui-monospace,monospace;white-space:pre-wrap;overflow-wrap:anywhere}
ol.cmds{margin:.3em 0;padding-left:1.5em}
.bad{color:#a00}
.ok{color:#060}
"""

_HTML_SCRIPT = """
(function () {
  "use strict";
  var table = document.getElementById("sites");
  if (!table || !table.tHead || !table.tBodies.length) { return; }
  var heads = table.tHead.rows[0].cells;
  var body = table.tBodies[0];
  function key(row, index, numeric) {
    var cell = row.cells[index];
    var value = cell.getAttribute("data-v");
    if (value === null) { value = cell.textContent; }
    return numeric ? parseFloat(value) : value.toLowerCase();
  }
  function sortBy(index, descending) {
    var numeric = heads[index].getAttribute("data-type") === "num";
    var rows = Array.prototype.slice.call(body.rows);
    var sign = descending ? -1 : 1;
    rows.sort(function (a, b) {
      var x = key(a, index, numeric), y = key(b, index, numeric);
      var order = x < y ? -1 : (x > y ? 1 : 0);
      if (order === 0) {
        return Number(a.getAttribute("data-rank")) - Number(b.getAttribute("data-rank"));
      }
      return sign * order;
    });
    for (var i = 0; i < rows.length; i++) { body.appendChild(rows[i]); }
    for (var j = 0; j < heads.length; j++) { heads[j].removeAttribute("aria-sort"); }
    heads[index].setAttribute("aria-sort", descending ? "descending" : "ascending");
    table.setAttribute("data-sorted", heads[index].getAttribute("data-key") + ":" +
      (descending ? "desc" : "asc"));
  }
  function find(name) {
    for (var i = 0; i < heads.length; i++) {
      if (heads[i].getAttribute("data-key") === name) { return i; }
    }
    return -1;
  }
  Array.prototype.forEach.call(heads, function (head, index) {
    var button = head.querySelector("button");
    if (!button) { return; }
    button.addEventListener("click", function () {
      var descending = head.getAttribute("aria-sort") === "ascending" ||
        (head.getAttribute("aria-sort") === null && head.getAttribute("data-type") === "num");
      sortBy(index, descending);
    });
  });
  var wanted = /^#sort=([a-z_]+)(?::(asc|desc))?$/.exec(window.location.hash);
  if (wanted && find(wanted[1]) >= 0) { sortBy(find(wanted[1]), wanted[2] === "desc"); }
  table.setAttribute("data-sortable", "ready");
}());
"""

#: (key, title, numeric) of the table's columns, in order.
HTML_COLUMNS = (
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


def _html_row(rank: int, site: Site) -> str:
    shown, rest = _commands(site)
    items = "".join(
        f'<li>{"~" if error else ""}{_count(count)}\u00d7 <code>{_e(oneline(command))}</code></li>'
        for command, count, error in shown
    )
    if rest:
        items += f"<li>{_e(_others(site, rest))}</li>"
    top = oneline(shown[0][0]) if shown else ""
    if len(top) > 60:
        top = top[:60] + "\u2026"
    more = len(site.commands) - 1
    label = f"{top} (+{more} more)" if more > 0 else top
    source = site.source()
    source_html = f"<br><code>{_e(oneline(source))}</code>" if source else ""
    reasons = sorted(site.reasons.items(), key=lambda kv: (-kv[1], kv[0]))
    shell = "; ".join(f"{oneline(r)} \u00d7 {_count(n)}" for r, n in reasons)
    free_class = "ok" if site.shell_free == site.calls else "bad"
    cells = [
        f'<td class="n" data-v="{rank}">{rank}</td>',
        f'<td data-v="{_e(site.name)}"><code>{_e(oneline(site.name))}</code>{source_html}</td>',
        f"<td><code>{_e(oneline(site.function or ''))}</code></td>",
        f'<td class="n" data-v="{site.calls}">{_count(site.calls)}</td>',
        f'<td class="n" data-v="{site.failures}">{_count(site.failures)}</td>',
        f"<td>{_e(', '.join(_status_text(site, 8)))}</td>",
        f'<td class="n {free_class}" data-v="{site.shell_free}">{_count(site.shell_free)}</td>',
        f"<td>{_e(shell)}</td>",
        f'<td class="n" data-v="{site.total_ms!r}">{_e(_duration(site.total_ms))}</td>',
        f'<td class="n" data-v="{_mean(site)!r}">{_e(_duration(_mean(site)))}</td>',
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


def render_html(report: Report) -> str:
    """Render the report as one self-contained HTML page with a sortable table.

    Everything is inline (style, script) and a Content-Security-Policy
    forbids loading anything, so the file opens the same offline.  The
    script marks the table ``data-sortable="ready"``; ``#sort=KEY[:desc]``
    in the address sorts it on load.
    """
    summary = report.summary()
    facts = [
        ("Call sites", _count(summary["sites"])),
        ("Calls", f"{_count(summary['calls'])} ({_count(summary['failures'])} failed)"),
        ("Shell-free today", _free_text(summary)),
    ]
    if summary["not_analysed_calls"]:
        facts.append(("Not analysed", f"{_count(summary['not_analysed_calls'])} calls"))
    if summary["first_ts"]:
        facts.append(("Period", f"{summary['first_ts']} to {summary['last_ts']}"))
    if summary["skipped_lines"]:
        facts.append(("Skipped lines", _skipped_text(summary)))
    facts.append(("Files", ", ".join(summary["files"])))
    summary_html = "".join(f"<dt>{_e(k)}</dt><dd>{_e(oneline(v))}</dd>" for k, v in facts)
    heads = "".join(
        f'<th data-key="{key}" data-type="{"num" if numeric else "text"}" scope="col">'
        f'<button type="button">{_e(title)}</button></th>'
        for key, title, numeric in HTML_COLUMNS
    )
    rows = "\n".join(_html_row(rank, site) for rank, site in enumerate(report.ranked(), 1))
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">\n'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        "<title>shim report</title>\n"
        f"<style>{_HTML_STYLE}</style></head>\n<body>\n<h1>shim report</h1>\n"
        f'<dl class="summary">{summary_html}</dl>\n'
        '<table id="sites" data-sortable="no">\n'
        f"<thead><tr>{heads}</tr></thead>\n<tbody>\n{rows}\n</tbody></table>\n"
        f"<script>{_HTML_SCRIPT}</script>\n</body></html>\n"
    )


_RENDERERS: Dict[str, Callable[[Report], str]] = {
    "text": render_text,
    "markdown": render_markdown,
    "json": render_json,
    "html": render_html,
}


def render(report: Report, fmt: str) -> str:
    """Render the report in ``fmt`` (one of :data:`FORMATS`)."""
    try:
        renderer = _RENDERERS[fmt]
    except KeyError:
        raise ReportError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}") from None
    return renderer(report)


# -- command line ----------------------------------------------------------------


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``report`` subcommand."""
    parser = subparsers.add_parser(
        "report",
        help="summarise audit files: call sites, busiest first",
        description=(
            "Read audit files (SHIM_AUDIT, one JSON record per line; gzip-compressed files "
            "too; '-' reads standard input) and list every call site with its calls, "
            "commands, statuses, why it needed a shell, and the subprocess call to "
            "replace it with. Corrupt lines are counted and skipped."
        ),
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="audit file(s) to read")
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default=None,
        help="output format (default: from the -o suffix .html/.md/.json, else text)",
    )
    parser.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        default=None,
        help="write the report to OUT (default: standard output)",
    )
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    """``shim report``: read, render, write; exit status 0."""
    fmt: Optional[str] = args.format
    output: Optional[str] = args.output
    if output == "-":
        output = None
    if fmt is None:
        suffix = Path(output).suffix.lower() if output else ""
        fmt = _SUFFIX_FORMATS.get(suffix, "text")
    try:
        _check_output(output)
        report = read(args.files)
        text = render(report, fmt)
        write(text, output)
    except ReportError as exc:
        raise type(exc)(f"report: {exc}") from None
    return 0


def _check_output(output: Optional[str]) -> None:
    """Fail before the (possibly long) reading when the report cannot be written."""
    if output is None:
        return
    path = Path(output)
    if path.is_dir():
        raise ReportError(f"{output}: is a directory; -o needs a file name")
    if not path.absolute().parent.is_dir():
        raise ReportError(f"{output}: directory {path.absolute().parent} does not exist")


def write(text: str, output: Optional[str]) -> None:
    """Write ``text`` to the file ``output``, or to standard output when ``None``."""
    if output is None:
        stream = sys.stdout
        buffer = getattr(stream, "buffer", None)
        if buffer is None:
            stream.write(text)
        else:
            stream.flush()
            data = memoryview(text.encode(stream.encoding or "utf-8", "backslashreplace"))
            # A pipe whose reader leaves mid-write can take part of the data
            # and report it as a short write; writing the rest raises
            # BrokenPipeError instead of losing it silently.
            while data:
                written = buffer.write(data)
                if not written:
                    raise ReportError("standard output takes no more data")
                data = data[written:]
            buffer.flush()
        return
    try:
        with Path(output).open(
            "w", encoding="utf-8", errors="backslashreplace", newline="\n"
        ) as file:
            file.write(text)
    except OSError as exc:
        raise ReportError(f"{output}: cannot write: {exc.strerror or exc}") from None
