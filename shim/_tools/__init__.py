"""The ``shim`` command: run, report, scan and fix.

Nothing here runs inside a shimmed program, and nothing here imports
``shim._runtime``: what both need lives in ``shim._common``.
"""
