"""What the calls of one installation share: settings, redaction, audit file, logging, telemetry.

The lifecycle makes a :class:`Session` for each ``install()`` (or the first
call after start-up), starts it, and retires it when the shim is switched
off or the settings change.  A call keeps the session it started with, so
a call that is still running when the settings change finishes, and
records itself, under the settings it began with.
"""

import logging
from typing import TYPE_CHECKING, Dict, Optional, Tuple

from shim._runtime import logs
from shim._runtime.audit import AuditFile

if TYPE_CHECKING:
    from shim._common.redact import Redactor
    from shim._common.settings import Settings
    from shim._runtime.call import Call
    from shim._runtime.telemetry import Telemetry

__all__ = ["Session"]


class Session:
    """The shared part of every call made under one set of settings."""

    __slots__ = ("_redactor", "audit", "masks", "settings", "telemetry")

    #: How many commands :attr:`masks` holds before it starts again.
    MASKS_KEPT = 256

    def __init__(self, settings: "Settings") -> None:
        self.settings = settings
        # Only the program's own patterns are compiled now (a ConfigError for
        # one that does not compile); the built-in rules wait for the first
        # record: a session that never publishes never loads them.
        self._redactor: Optional[Redactor] = self._make_redactor() if settings.redact else None
        self.audit: Optional[AuditFile] = (
            AuditFile(settings.audit) if settings.audit is not None else None
        )
        #: What publishing derived from a command, by command (see
        #: :func:`shim._runtime.publish.record`); plain dictionary operations
        #: only, so threads need no lock.
        self.masks: Dict[
            Tuple[bytes, Optional[Tuple[bytes, ...]], Optional[str]],
            Tuple[str, Optional[Tuple[str, ...]], Tuple[str, ...], str],
        ] = {}
        self.telemetry: Optional[Telemetry] = None
        if settings.otel:
            # Imports nothing of OpenTelemetry yet: that waits for the first call.
            from shim._runtime import telemetry

            self.telemetry = telemetry.Telemetry(settings)

    @property
    def redactor(self) -> "Redactor":
        """The masking rules of this session: the built-in ones and the configured patterns."""
        found = self._redactor
        if found is None:
            found = self._redactor = self._make_redactor()
        return found

    def _make_redactor(self) -> "Redactor":
        from shim._common import redact

        return redact.Redactor(
            redact.compile_patterns(self.settings.redact, "SHIM_REDACT / redact")
        )

    def wants_record(self) -> bool:
        """Whether a call needs a record: an audit file is set, the logger listens, or telemetry."""
        return self.telemetry is not None or self._logs_or_audits()

    def _logs_or_audits(self) -> bool:
        return self.audit is not None or logs.logger.isEnabledFor(logging.INFO)

    def publish(self, call: "Call") -> None:
        """Write the audit line, emit the log record, report to telemetry; never raises."""
        if self._logs_or_audits():
            from shim._runtime import publish

            publish.publish(call, self)
        if self.telemetry is not None:
            self.telemetry.finish(call, self)

    def start(self) -> None:
        """Become the session in force (lifecycle lock held): set up logging to stderr."""
        logs.STDERR.apply(self.settings.log)

    def retire(self, *, last: bool = False) -> None:
        """Stop being in force: close the audit file; ``last``: the shim is being switched off."""
        if self.audit is not None:
            self.audit.retire()
        if last:
            logs.STDERR.apply(None)
