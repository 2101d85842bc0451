"""``python -m erechnung``: the command line (the same as the ``erechnung`` console script)."""
import sys

from .entrypoints.cli import main

sys.exit(main())
