"""`python -m plantech_tui.partners.salesforce.fake` (the same as `plantech fake-salesforce`)."""

from __future__ import annotations

import sys

from .server import main

if __name__ == "__main__":
    sys.exit(main())
