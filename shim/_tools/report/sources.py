"""Each call site's source: read safely, matched with the scan engine, secrets masked.

An audit record names its call site (``file``, ``line``).  The report shows
that call as the file reads now, whole even when it spans several lines,
and the replacement ``shim scan`` derives from the call's expression: never
one of the commands that ran, which pasted as code would run that one
command every time.

The file name comes from a record anyone able to write the audit file
could have crafted, so a source file is read only when it is a regular
file below one of the *source roots* (``--source-root``, the current
directory by default), opened without blocking and at most
:data:`MAX_SOURCE` bytes long.  Anything else gives no source, and the
report says why.

The source text and the suggestion go through the same masking as the
commands (:class:`shim._common.redact.Redactor`, with the ``SHIM_REDACT``
or ``--redact`` patterns): a secret written into the code is no more shown
in a report than one that ran.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Dict, Iterable, List, Optional, Sequence, Set, Tuple, final

from shim._common.redact import MASK, Redactor

if TYPE_CHECKING:
    from shim._tools.report.model import Site
    from shim._tools.scan.finding import Finding

__all__ = ["MAX_SOURCE", "SiteSource", "Sources"]

#: A source file larger than this is not read for the report.
MAX_SOURCE = 16 * 1024 * 1024


@final
class SiteSource:
    """A call as its source file reads now, and the replacement derived from it.

    ``lines`` are ``(number, text)`` for every line of the call, secrets
    masked; ``span`` is ``((first line, column), (last line, column))`` of
    the call itself within them (0-based columns, for highlighting).
    """

    __slots__ = (
        "assumption",
        "changes",
        "end",
        "finding",
        "function",
        "lines",
        "note",
        "path",
        "span",
        "start",
        "suggestion",
        "suppressed",
    )

    def __init__(self, path: str, finding: Finding, lines: List[Tuple[int, str]]) -> None:
        self.path = path
        #: The call as the scan engine found it (its baseline identity, for one).
        self.finding = finding
        self.start = finding.start[0]
        self.end = finding.end[0]
        self.function = finding.function
        self.lines = lines
        self.span = (finding.start, finding.end)
        self.suggestion = finding.suggestion
        self.changes = finding.changes
        self.assumption = finding.assumption
        self.suppressed = finding.suppressed
        #: Set when the line holds more than one call and this one was chosen.
        self.note: Optional[str] = None

    @property
    def indent(self) -> int:
        """How many leading blanks all the call's lines share (removed when shown)."""
        blanks = [len(text) - len(text.lstrip(" \t")) for _, text in self.lines if text.strip()]
        return min(blanks) if blanks else 0

    def shown_lines(self) -> List[Tuple[int, str]]:
        """The call's lines without their common indentation."""
        indent = self.indent
        return [(number, text[indent:]) for number, text in self.lines]

    @property
    def text(self) -> str:
        """The call's lines as one text, without their common indentation."""
        return "\n".join(text for _, text in self.shown_lines())


@final
class _File:
    """One source file: its lines and the calls the scan engine finds in it, or why not."""

    __slots__ = ("findings", "lines", "path", "problem", "used")

    def __init__(self, path: str) -> None:
        self.path = path
        self.lines: List[str] = []
        self.findings: List[Finding] = []
        self.problem: Optional[str] = None
        self.used: Set[int] = set()


class Sources:
    """The source files of a report, read once each, below the given roots only."""

    def __init__(self, roots: Sequence[str], redactor: Optional[Redactor] = None) -> None:
        self.roots = [os.path.realpath(root) for root in roots] or [os.path.realpath(".")]
        self.redactor = redactor or Redactor()
        self._files: Dict[str, _File] = {}

    def attach(self, site: Site) -> None:
        """Find ``site``'s call in its file and set ``site.source`` (or ``site.source_reason``)."""
        if site.file is None or site.line is None:
            site.source_reason = "the record does not say where the call is"
            return
        if site.file.startswith("<") and site.file.endswith(">"):
            site.source_reason = f"the call was made from {site.file}, which has no file"
            return
        path = site.file
        if not os.path.isabs(path):
            if not site.cwd:
                site.source_reason = "a relative file name and no working directory"
                return
            path = os.path.join(site.cwd, path)
        loaded = self._load(path)
        if loaded.problem is not None:
            site.source_reason = loaded.problem
            return
        finding, note = _match(loaded.findings, site.line, site.function, site.called)
        if finding is None:
            site.source_reason = (
                f"no os.system or os.popen call on line {site.line} of the file now "
                "(it changed since the calls were recorded?)"
            )
            return
        loaded.used.add(id(finding))
        site.source = self._site_source(loaded, finding)
        site.source.note = note

    def not_run(self, sites: Iterable[Site]) -> List[Site]:
        """The calls of the files read that no record shows, as sites without calls."""
        from shim._tools.report.model import Site as SiteClass

        del sites
        out: List[Site] = []
        for loaded in self._files.values():
            for finding in loaded.findings:
                if id(finding) in loaded.used or finding.suppressed:
                    continue
                site = SiteClass(loaded.path, finding.line, finding.function, finding.name)
                site.source = self._site_source(loaded, finding)
                out.append(site)
        return out

    def _load(self, path: str) -> _File:
        real = os.path.realpath(path)
        cached = self._files.get(real)
        if cached is not None:
            return cached
        loaded = self._files[real] = _File(path)
        if not any(_below(real, root) for root in self.roots):
            loaded.problem = (
                "the file is outside the source roots (give its directory with --source-root)"
            )
            return loaded
        from shim._tools.files import read_regular
        from shim._tools.scan.calls import find_calls
        from shim._tools.scan.source import decode_source, split_lines

        try:
            data, _ = read_regular(real, MAX_SOURCE)
        except FileNotFoundError:
            loaded.problem = "the file is gone"
            return loaded
        except OSError as exc:
            loaded.problem = f"the file cannot be read: {exc.strerror or exc}"
            return loaded
        try:
            text = decode_source(data)
            loaded.findings = find_calls(text, path)
        except (SyntaxError, ValueError, LookupError, RecursionError) as exc:
            message = getattr(exc, "msg", None) or str(exc)
            loaded.problem = f"the file does not parse now: {message}"
            return loaded
        loaded.lines = split_lines(text)
        return loaded

    def _site_source(self, loaded: _File, finding: Finding) -> SiteSource:
        first, last = finding.start[0], finding.end[0]
        numbers = [n for n in range(first, last + 1) if 0 < n <= len(loaded.lines)]
        raw = [loaded.lines[number - 1] for number in numbers]
        # What the masking finds: in the call's text as a whole (a rule can
        # need the words of an earlier line), and in the command itself when
        # the source spells it (a literal, or the literal parts of a
        # template), where it sees the words as the shell will.
        secrets: List[str] = []
        self.redactor.command("\n".join(raw), secrets)
        for text in _command_texts(finding):
            self.redactor.command(text, secrets)
        lines = [
            (number, _mask(self.redactor.command(text), secrets))
            for number, text in zip(numbers, raw)
        ]
        source = SiteSource(loaded.path, finding, lines)
        source.suggestion = _mask(self.redactor.command(source.suggestion), secrets)
        if source.assumption:
            source.assumption = _mask(source.assumption, secrets)
        return source


def _command_texts(finding: Finding) -> List[str]:
    """The command as the source spells it: a literal, or a template's literal parts joined."""
    texts = []
    if finding.command_text is not None:
        texts.append(finding.command_text)
    template = finding.template
    if template is not None:
        parts = [
            part.decode("utf-8", "replace") if isinstance(part, bytes) else part
            for part in template.parts
            if not isinstance(part, int)
        ]
        texts.append(" x ".join(parts))
    return texts


def _below(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _mask(text: str, secrets: Sequence[str]) -> str:
    """Hide in ``text`` every secret found in the source, also as a literal writes it."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        if not secret:
            continue
        for form in {secret, repr(secret)[1:-1], secret.strip("'\"")}:
            if form and form != MASK:
                text = text.replace(form, MASK)
    return text


def _match(
    findings: Sequence[Finding], line: int, function: Optional[str], called: Optional[str] = None
) -> Tuple[Optional[Finding], Optional[str]]:
    """The call a record's line points at: the one starting there, else one spanning it.

    ``called`` (``os.system`` or ``os.popen``) picks among calls of both on one line.
    """
    spanning = [f for f in findings if f.start[0] <= line <= f.end[0]]
    if called is not None:
        spanning = [f for f in spanning if f.name == called] or spanning
    if not spanning:
        return None, None
    starting = [f for f in spanning if f.start[0] == line] or spanning
    if function:
        named = [f for f in starting if f.function.rsplit(".", 1)[-1] == function]
        starting = named or starting
    # Nested calls (os.system(os.popen(...).read())): the innermost spans least.
    starting = sorted(starting, key=lambda f: (f.end[0] - f.start[0], f.start[1]))
    note = None
    if len(starting) > 1:
        note = f"{len(starting)} calls on this line; the report shows the first"
    return starting[0], note
