"""``python -m milpregions``: the same command line as the ``milpregions`` console script."""

import sys

from .cli.main import main

if __name__ == "__main__":
    sys.exit(main())
