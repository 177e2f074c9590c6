"""``python -m plantech_tui.partners.redtail.fake [--port P] ...``: the fake Redtail in the foreground."""

from __future__ import annotations

import sys

from .server import main

if __name__ == "__main__":
    sys.exit(main())
