"""The pytest plugin: run a test session with the shim on, see every call, keep new ones out.

pytest finds it through the ``pytest11`` entry point ``shim`` of the
``os-system-shim`` distribution.  It does nothing unless asked:

``--shim`` / ``--shim=SETTINGS``
    install the shim for the whole session (SETTINGS are keyword arguments
    of :func:`shim.install`, comma-separated: ``--shim=shell=auto,capture=tee``),
    write an audit file, and end with a summary: call sites, calls, how many
    could drop the shell, how many failed.
``--shim-audit FILE``
    where the audit goes (default: ``.pytest_cache/d/shim/audit.jsonl``, or
    a private temporary directory without the cache).  ``shim report FILE``
    shows it in full.
``--shim-baseline FILE``
    a ``shim scan`` baseline: the session fails when a call site the tests
    ran is not in it (sites outside the baseline's directory are not checked,
    nor ``# shim: ignore`` ones).  Implies ``--shim``.

The ``shim_calls`` fixture records the calls a test makes, as the audit
records the shim logs, for assertions; it installs the shim for the test
when the session did not.

Under pytest-xdist every worker installs the shim and appends to the one
audit file; the controller reads it for the summary and the baseline.
Nothing of the shim is imported until one of these options or the fixture
is used.
"""

import logging
import os
import sys
import tempfile
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional

import pytest

#: What the summary and the baseline need: shim report's and shim scan's engine.
_TOOLS_NEED = (3, 8)

if TYPE_CHECKING:
    from shim._tools.report.model import Report, Site

__all__ = ["ShimCalls", "pytest_addoption", "pytest_configure", "shim_calls"]

_PLUGIN_NAME = "shim-session"
_SETTINGS = ("capture", "capture_limit", "shell", "log", "redact", "audit")


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--shim``, ``--shim-audit`` and ``--shim-baseline``."""
    group = parser.getgroup("shim", "os.system through the shim (os-system-shim)")
    group.addoption(
        "--shim",
        action="store",
        nargs="?",
        const="",
        default=None,
        metavar="SETTINGS",
        help="run the session with the shim installed and audited; SETTINGS: "
        "comma-separated install() options, e.g. --shim=shell=auto,capture=tee",
    )
    group.addoption(
        "--shim-audit",
        action="store",
        default=None,
        metavar="FILE",
        help="write the session's audit records to FILE (implies --shim)",
    )
    group.addoption(
        "--shim-baseline",
        action="store",
        default=None,
        metavar="FILE",
        help="fail the session on a call site not in this shim scan baseline (implies --shim)",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Install the shim for the session when asked; otherwise do nothing at all."""
    wanted: Optional[str] = config.getoption("shim")
    audit: Optional[str] = config.getoption("shim_audit")
    baseline: Optional[str] = config.getoption("shim_baseline")
    if wanted is None and audit is None and baseline is None:
        return
    if baseline is not None and sys.version_info < _TOOLS_NEED:
        raise pytest.UsageError(
            "--shim-baseline: comparing with a baseline needs Python 3.8 or later "
            "(shim scan's engine); --shim and --shim-audit work here"
        )
    options = _parse_settings(wanted or "")
    session = _Session(config, options, audit, baseline)
    config.pluginmanager.register(session, _PLUGIN_NAME)
    session.start()


def _parse_settings(text: str) -> Dict[str, Any]:
    """``shell=auto,capture=tee`` -> ``{"shell": "auto", "capture": "tee"}``."""
    options: Dict[str, Any] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep:
            raise pytest.UsageError(
                f"--shim: {item!r} is not a setting (key=value). Write the settings with '=' "
                "(--shim=shell=auto) and the test paths after the options, or use --shim alone."
            )
        if key not in _SETTINGS:
            raise pytest.UsageError(
                f"--shim: unknown setting {key!r}; accepted: {', '.join(_SETTINGS)}"
            )
        value = value.strip()
        if key == "capture_limit":
            try:
                options[key] = int(value)
            except ValueError:
                raise pytest.UsageError(
                    f"--shim: capture_limit must be a number, not {value!r}"
                ) from None
        elif key == "redact":
            options[key] = [pattern for pattern in value.split(";") if pattern]
        else:
            options[key] = value
    return options


class _Session:
    """The shim installed for one pytest session: its audit file, summary and baseline check."""

    def __init__(
        self,
        config: pytest.Config,
        options: Dict[str, Any],
        audit: Optional[str],
        baseline: Optional[str],
    ) -> None:
        self.config = config
        self.options = options
        self.baseline = baseline
        self.worker = hasattr(config, "workerinput")
        self.audit = self._audit_path(audit or options.pop("audit", None))
        self.report: Optional[Report] = None
        self.new_sites: List[str] = []

    def _audit_path(self, given: Optional[str]) -> str:
        if self.worker:
            inherited = getattr(self.config, "workerinput", {}).get("shim_audit")
            if inherited:
                return str(inherited)
        if given:
            return os.path.abspath(given)
        cache = getattr(self.config, "cache", None)
        if cache is not None:
            return str(cache.mkdir("shim") / "audit.jsonl")
        # A directory of our own: nobody else can plant a file or a link there.
        return os.path.join(tempfile.mkdtemp(prefix="pytest-shim-"), "audit.jsonl")

    def start(self) -> None:
        import shim

        if not self.worker:
            # A fresh audit for each session; the workers append to it.
            try:
                os.unlink(self.audit)
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise pytest.UsageError(f"--shim: cannot reset {self.audit}: {exc}") from None
        try:
            shim.install(audit=self.audit, **self.options)
        except ValueError as exc:
            raise pytest.UsageError(f"--shim: {exc}") from None

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """pytest-xdist: every worker writes to the controller's audit file."""
        node.workerinput["shim_audit"] = self.audit

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        import shim

        del config
        shim.uninstall()

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.worker or sys.version_info < _TOOLS_NEED:
            return
        self.report = _read(self.audit, str(self.config.rootpath))
        if self.baseline is not None and self.report is not None:
            self.new_sites = _not_in_baseline(self.report, self.baseline)
            if self.new_sites and exitstatus == pytest.ExitCode.OK:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.worker:
            return
        write = terminalreporter.write_line
        terminalreporter.section("shim: os.system calls")
        report = self.report
        if sys.version_info < _TOOLS_NEED:
            write(
                f"the summary needs Python 3.8 or later (shim report's engine); the calls are "
                f"in the audit file {self.audit}: read it with a newer Python's shim report"
            )
            return
        if report is None:
            write(f"no call of os.system was recorded (audit file {self.audit})")
            return
        summary = report.summary()
        write(
            f"{summary['sites']} call sites, {summary['calls']} calls "
            f"({summary['failures']} failed); could drop the shell: "
            f"{summary['shell_free_sites']} of {summary['sites']} sites, "
            f"{summary['shell_free_calls']} of {summary['calls']} calls"
        )
        from shim._tools.escape import oneline

        for site in report.ranked()[:10]:
            write(f"  {_site_line(site)}")
        if summary["sites"] > 10:
            write(f"  ... and {summary['sites'] - 10} more sites")
        write(f"audit: {oneline(self.audit)} (shim report {oneline(self.audit)} shows it all)")
        if self.baseline is not None:
            if self.new_sites:
                write(
                    f"{len(self.new_sites)} call site(s) not in the baseline {self.baseline}:",
                    red=True,
                )
                for line in self.new_sites:
                    write(f"  {line}", red=True)
            else:
                write(f"every call site is in the baseline {self.baseline}", green=True)


def _read(audit: str, root: str) -> "Optional[Report]":
    if not os.path.exists(audit):
        return None
    from shim._tools.report.reader import read
    from shim._tools.report.sources import Sources

    report = read([audit])
    report.attach_sources(Sources([root]))
    return report


def _site_line(site: "Site") -> str:
    from shim._tools.escape import oneline

    state = site.state
    failed = f", {site.failures} failed" if site.failures else ""
    return oneline(f"{site.name}: {site.calls} call(s){failed}; {state}")


def _not_in_baseline(report: "Report", baseline: str) -> List[str]:
    """The call sites the tests ran that a ``shim scan`` baseline does not list."""
    from shim._tools.escape import oneline
    from shim._tools.scan.baseline import baseline_key, load_baseline
    from shim._tools.scan.files import PathError

    try:
        known = load_baseline(baseline)
    except PathError as exc:
        raise pytest.UsageError(f"--shim-baseline: {exc}") from None
    base_dir = os.path.dirname(os.path.abspath(baseline))
    new = []
    for site in report.ranked():
        if site.file is None:
            continue
        path = site.file if os.path.isabs(site.file) else os.path.join(site.cwd or "", site.file)
        if not os.path.realpath(path).startswith(os.path.realpath(base_dir) + os.sep):
            continue  # not the project's code: a library, the standard library
        source = site.source
        if source is None:
            new.append(oneline(f"{site.name}: cannot be checked: {site.source_reason}"))
            continue
        if baseline_key(source.finding, base_dir) not in known:
            new.append(oneline(f"{site.name}: {source.suggestion}"))
    return new


class ShimCalls:
    """The calls of ``os.system`` and ``os.popen`` a test made, as audit records, oldest first.

    A record's ``function`` says which was called.  An ``os.popen`` call is
    recorded when its stream is closed (or garbage-collected).
    """

    def __init__(self) -> None:
        self.records: List[Dict[str, Any]] = []

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[Dict[str, Any]]:
        return iter(self.records)

    def __getitem__(self, index: int) -> Dict[str, Any]:
        return self.records[index]

    @property
    def commands(self) -> List[str]:
        """The commands, as recorded (secrets masked)."""
        return [record["command"] for record in self.records]

    @property
    def statuses(self) -> List[Optional[int]]:
        """Each call's wait status (``None`` for a refused call, or an unfinished ``os.popen``)."""
        return [record.get("status") for record in self.records]

    def clear(self) -> None:
        """Forget the calls recorded so far."""
        self.records.clear()


class _Recorder(logging.Handler):
    def __init__(self, calls: ShimCalls) -> None:
        super().__init__(logging.INFO)
        self.calls = calls

    def emit(self, record: logging.LogRecord) -> None:
        data = getattr(record, "shim", None)
        if isinstance(data, dict):
            self.calls.records.append(dict(data))


@pytest.fixture
def shim_calls() -> Iterator[ShimCalls]:
    """The calls of ``os.system`` and ``os.popen`` this test makes, recorded by the shim.

    The shim is installed for the test unless the session already runs
    with it (``--shim``).  Each item is the call's audit record:
    ``command``, ``status``, ``site`` and the rest of its fields.
    """
    import shim

    calls = ShimCalls()
    handler = _Recorder(calls)
    logger = logging.getLogger("shim")
    level = logger.level
    if not logger.isEnabledFor(logging.INFO):
        logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    ours = not shim.is_installed()
    if ours:
        shim.install()
    try:
        yield calls
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        if ours:
            shim.uninstall()
