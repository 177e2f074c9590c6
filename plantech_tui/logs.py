"""Logging to a rotated file under the platformdirs log dir; never to the terminal.

Nothing logged may carry a secret: the Redtail client logs method, path, status and timing only.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
from pathlib import Path

_handler: logging.Handler | None = None
_target: Path | None = None


def setup_logging() -> None:
    """Point the `plantech` logger at the current log dir (again, if it moved)."""
    global _handler, _target
    from .paths import log_dir, make_private_dir

    logger = logging.getLogger("plantech")
    # propagation stays on (pytest's caplog listens at the root); the root has no handler of
    # ours, and since this logger has one, logging's last-resort stderr handler never fires
    logger.setLevel(logging.DEBUG if os.environ.get("PLANTECH_DEBUG") else logging.INFO)
    target = log_dir() / "plantech.log"
    if _handler is not None and target == _target:
        return
    if _handler is not None:
        logger.removeHandler(_handler)
        _handler.close()
    try:
        make_private_dir(target.parent)
        handler: logging.Handler = logging.handlers.RotatingFileHandler(
            target, maxBytes=2_000_000, backupCount=3, encoding="utf-8", delay=True
        )
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(process)d %(name)s %(levelname)s %(message)s")
        )
    except OSError:
        handler = logging.NullHandler()
    logger.addHandler(handler)
    _handler, _target = handler, target
