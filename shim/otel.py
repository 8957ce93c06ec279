"""OpenTelemetry's zero-code entry point: ``opentelemetry-instrument`` switches the shim on.

The package registers :class:`ShimInstrumentor` as the ``shim`` entry point
of the ``opentelemetry_instrumentor`` group, so ``opentelemetry-instrument
python app.py`` installs the shim with ``otel=True`` along with the rest of
the program's instrumentation (``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=shim``
leaves it out).  The other settings come from the ``SHIM_*`` variables, as
for :func:`shim.install`.  Spans and metrics go to the global providers
that ``opentelemetry-instrument`` sets up.

Needs ``opentelemetry-instrumentation``, which ``opentelemetry-instrument``
comes with; without it, importing this module raises :class:`ImportError`.
"""

from typing import Any, Collection

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor

import shim

__all__ = ["ShimInstrumentor"]


class ShimInstrumentor(BaseInstrumentor):  # type: ignore[misc]  # Any to mypy: see pyproject
    """Report every ``os.system`` call to OpenTelemetry: ``shim.install(otel=True)``.

    ``uninstrument()`` puts back what was there before: the shim without
    telemetry if it was installed already (``SHIM_ENABLE=1``), no shim
    otherwise.
    """

    _was_installed = False

    def instrumentation_dependencies(self) -> Collection[str]:
        """Nothing to check: ``os.system`` is in every Python."""
        return ()

    def _instrument(self, **kwargs: Any) -> None:
        ShimInstrumentor._was_installed = shim.is_installed()
        shim.install(otel=True)

    def _uninstrument(self, **kwargs: Any) -> None:
        if ShimInstrumentor._was_installed:
            shim.install(otel=False)
        else:
            shim.uninstall()
