"""Griffe extension: render the Sphinx roles of shim's docstrings in Markdown.

The docstrings use reStructuredText roles (``:class:`ValueError```, ``:func:`install```)
so that they read well in ``help()``; Markdown would show the role names
literally. A role whose target is in the ``shim`` package becomes a link to
its entry in the API reference (a target missing there fails the strict
build, which is the point); any other target becomes inline code.
"""

from __future__ import annotations

import re
from typing import Any

from griffe import Extension, Object

ROLE = re.compile(r":(?:py:)?(?:class|func|meth|exc|mod|attr|data|obj):`(~?)([^`]+)`")


def _replace(match: re.Match[str]) -> str:
    short, target = match.group(1), match.group(2).rstrip("()")
    shown = target.rsplit(".", 1)[-1] if short else target
    if target == "shim" or target.startswith("shim."):
        return f"[`{shown}`][{target}]"
    return f"`{shown}`"


class SphinxRoles(Extension):
    """Rewrite Sphinx roles in every docstring once the object tree is complete."""

    def on_object(self, *, obj: Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = ROLE.sub(_replace, obj.docstring.value)

    # Older griffe releases call this hook instead.
    on_instance = on_object
