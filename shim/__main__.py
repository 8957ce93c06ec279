"""``python -m shim``: the same command line as the ``shim`` console script."""

import sys

from shim._tools.cli import main

if __name__ == "__main__":
    sys.exit(main())
