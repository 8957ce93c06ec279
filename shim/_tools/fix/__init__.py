"""``shim fix``: rewrite the ``os.system`` calls that ``subprocess.run`` can replace as is."""
