"""Pure, stateless code that both the runtime and the tools use.

Everything here is safe to import at interpreter start-up and in the
``shim`` command alike: settings and their validation, platform facts,
wait-status arithmetic, the audit schema, shell syntax, redaction and the
suggested ``subprocess`` replacement.  Nothing here imports
``shim._runtime`` or ``shim._tools``.
"""
