"""`python -m plantech_tui` is `plantech`."""

import sys

from .cli import main

sys.exit(main())
