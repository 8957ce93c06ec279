"""``import shim.auto``: install the shim with the settings of the environment.

The import does what ``SHIM_ENABLE=1`` does at start-up, without needing
the variable: the ``SHIM_*`` variables give the settings, a bad value prints
one line on stderr and leaves ``os.system`` alone.
"""

from shim._runtime import startup

startup.arm()
