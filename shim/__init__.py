"""shim: route every ``os.system`` call through ``subprocess.Popen``, unchanged.

Switch it on with ``SHIM_ENABLE=1`` in the environment, ``import shim.auto``,
or :func:`install`.  What the program observes (return value, output,
signals) stays exactly what plain ``os.system`` gives.

The start-up hook often imports this package before pytest starts, so
pytest must not try to rewrite its assertions (it has none):
PYTEST_DONT_REWRITE.
"""

from shim._runtime.api import install, installed, is_installed, uninstall
from shim._version import __version__
from shim.exceptions import ConfigError, ShellRequiredError, ShimError, ShimWarning

__all__ = [
    "ConfigError",
    "ShellRequiredError",
    "ShimError",
    "ShimWarning",
    "__version__",
    "install",
    "installed",
    "is_installed",
    "uninstall",
]
