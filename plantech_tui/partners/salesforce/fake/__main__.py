"""`python -m plantech_tui.partners.salesforce.fake` (the same as `plantech fake-salesforce`)."""

import sys

from .server import main

sys.exit(main())
