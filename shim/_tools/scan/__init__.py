"""``shim scan``: find ``os.system`` and ``os.popen`` calls in source code.

``command`` is the subcommand.  ``files`` collects the Python files of a
tree and scans each (``progress`` says how far it got); ``calls`` finds the
calls in one module, with ``binding`` resolving names, ``usage`` judging
how the status is used, ``source`` and ``fingerprint`` giving each
``finding`` its text and identity.  ``baseline`` keeps the known calls,
``output`` prints the result.
"""
