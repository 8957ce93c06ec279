"""Command line: ``shim`` and ``python -m shim``."""

from __future__ import annotations

import sys
from typing import List, Optional


def main(argv: Optional[List[str]] = None) -> int:
    """Run the command line; return the exit status."""
    print("shim: no command given", file=sys.stderr)
    return 2
