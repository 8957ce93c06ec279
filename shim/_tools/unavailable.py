"""Subcommands this Python cannot run: the migration tools on Python 3.6 and 3.7.

``shim scan`` and ``report`` read Python source with the ``ast`` of
Python 3.8 and later (end positions of nodes, every literal an
``ast.Constant``), ``fix`` with libcst 1.x (3.8 and later); the runtime,
``shim run`` and ``shim doctor`` work on 3.6 and 3.7.  There the tools' names stay in
``shim --help`` and answer with one line naming what to do, and exit 2.
Audit files and sources do not depend on the Python that wrote them, so a
newer Python's ``shim`` reads them.
"""

import argparse
import sys

from shim._tools.exits import EXIT_USAGE, say

__all__ = ["TOOLS", "TOOLS_NEED", "register"]

#: The oldest Python the migration tools run on.
TOOLS_NEED = (3, 8)

#: Subcommand module -> subcommand, for the tools that need TOOLS_NEED.
TOOLS = {
    "shim._tools.report.command": "report",
    "shim._tools.scan.command": "scan",
    "shim._tools.fix.command": "fix",
}

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any


def register(subparsers: "argparse._SubParsersAction[Any]", name: str) -> None:
    """Add ``name`` as a subcommand that says it needs a newer Python and exits 2."""
    parser = subparsers.add_parser(name, help=f"(needs Python {_version(TOOLS_NEED)} or later)")

    def accept_anything(*_args: object, **_kwargs: object) -> "Any":
        # Whatever follows the name (--help, options this Python's shim
        # cannot know), the answer is the same one line.
        return argparse.Namespace(func=lambda _: _refuse(name)), []

    # The subparsers action calls this; an instance attribute overrides it.
    setattr(parser, "parse_known_args", accept_anything)  # noqa: B010


def _refuse(name: str) -> int:
    here = _version(sys.version_info[:3])
    say(
        f"{name} needs Python {_version(TOOLS_NEED)} or later, and this is Python {here}; "
        f"run 'shim {name}' with a newer Python (pip install os-system-shim there): "
        "audit files and sources do not depend on the Python that wrote them"
    )
    return EXIT_USAGE


def _version(parts: "Any") -> str:
    return ".".join(str(part) for part in parts)
