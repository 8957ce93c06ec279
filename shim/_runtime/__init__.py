"""What runs inside the shimmed program.

One lifecycle (:mod:`shim._runtime.lifecycle`) owns the state of the shim
and is the only code that changes ``os.system``.  Nothing here imports
``shim._tools``: what both need lives in ``shim._common``.
"""
