"""Why a report cannot be made: the errors ``shim report`` turns into one line and status 2."""

from __future__ import annotations

from shim.exceptions import ShimError

__all__ = ["NewerSchemaError", "ReportError"]


class ReportError(ShimError, ValueError):
    """The input cannot be reported on (unreadable file, newer schema)."""


class NewerSchemaError(ReportError):
    """A record was written by a newer shim, with a schema this one cannot read."""
