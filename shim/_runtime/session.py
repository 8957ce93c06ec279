"""What the calls of one installation share: settings, redaction, audit file, logging, telemetry.

The lifecycle makes a :class:`Session` for each ``install()`` (or the first
call after start-up), starts it, and retires it when the shim is switched
off or the settings change.  A call keeps the session it started with, so
a call that is still running when the settings change finishes, and
records itself, under the settings it began with.
"""

import logging
from typing import TYPE_CHECKING, Optional

from shim._common import redact
from shim._runtime import logs, publish
from shim._runtime.audit import AuditFile

if TYPE_CHECKING:
    from shim._common.settings import Settings
    from shim._runtime.call import Call
    from shim._runtime.telemetry import Telemetry

__all__ = ["Session"]


class Session:
    """The shared part of every call made under one set of settings."""

    __slots__ = ("audit", "redactor", "settings", "telemetry")

    def __init__(self, settings: "Settings") -> None:
        self.settings = settings
        #: Raises ConfigError for a pattern that does not compile.
        self.redactor = redact.Redactor(
            redact.compile_patterns(settings.redact, "SHIM_REDACT / redact")
        )
        self.audit: Optional[AuditFile] = (
            AuditFile(settings.audit) if settings.audit is not None else None
        )
        self.telemetry: Optional[Telemetry] = None
        if settings.otel:
            # Imports nothing of OpenTelemetry yet: that waits for the first call.
            from shim._runtime import telemetry

            self.telemetry = telemetry.Telemetry(settings)

    def wants_record(self) -> bool:
        """Whether a call needs a record: an audit file is set, the logger listens, or telemetry."""
        return self.telemetry is not None or self._logs_or_audits()

    def _logs_or_audits(self) -> bool:
        return self.audit is not None or logs.logger.isEnabledFor(logging.INFO)

    def publish(self, call: "Call") -> None:
        """Write the audit line, emit the log record, report to telemetry; never raises."""
        if self._logs_or_audits():
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
