"""`python -m bench [--quick] [--only KEY ...] [--out DIR]`: run every section, write the report."""

from __future__ import annotations

import sys

from bench.runner import main

if __name__ == "__main__":
    sys.exit(main())
