"""``shim fix``: rewrite the ``os.system`` calls that ``subprocess.run`` can replace as is.

``command`` is the subcommand; ``rewrite`` turns the calls ``shim scan``
finds into ``subprocess.run`` with libcst, and ``imports`` adds the
``import subprocess`` they need.
"""
