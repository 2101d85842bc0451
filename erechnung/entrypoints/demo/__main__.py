"""``python -m erechnung.entrypoints.demo``: ``make demo``."""
import sys

from .invoices import main

sys.exit(main())
