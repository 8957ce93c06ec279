"""``shim fix``: rewrite ``os.system`` and ``os.popen`` calls as ``subprocess``, in tiers.

``command`` is the subcommand; ``rewrite`` replaces the expressions that
``shim scan`` finds, in the file's own text, with the form the tier allows
(:mod:`shim._tools.scan.replace`), and adds the lines they need.
"""
