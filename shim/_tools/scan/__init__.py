"""``shim scan``: find ``os.system`` and ``os.popen`` calls in source code."""
