"""``shim report``: the call sites an audit trail saw, busiest first.

``command`` is the subcommand.  ``reader`` streams audit files into the
``model``, one small aggregate per call site (``topk`` keeps the commands
of a site in bounded memory).  One module per output format renders it:
``text``, ``markdown``, ``json`` and ``html``, whose style and script are
the files in ``assets/``; the human-readable ones share the wording of
``describe``.
"""
