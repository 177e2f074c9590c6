"""Logging to a rotated file under the platformdirs log dir; never to the terminal.

Nothing logged may carry a secret: the Redtail client logs method, path, status and timing only.
"""

from __future__ import annotations

import logging
import logging.handlers
import os

_configured = False


def setup_logging() -> None:
    global _configured
    if _configured:
        return
    _configured = True
    logger = logging.getLogger("plantech")
    logger.propagate = False
    level = logging.DEBUG if os.environ.get("PLANTECH_DEBUG") else logging.INFO
    logger.setLevel(level)
    try:
        from .paths import log_dir

        directory = log_dir()
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        handler: logging.Handler = logging.handlers.RotatingFileHandler(
            directory / "plantech.log", maxBytes=2_000_000, backupCount=3, encoding="utf-8"
        )
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(process)d %(name)s %(levelname)s %(message)s")
        )
    except OSError:
        handler = logging.NullHandler()
    logger.addHandler(handler)
