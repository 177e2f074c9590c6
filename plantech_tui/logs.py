"""Logging to a rotated file under the platformdirs log dir; to the terminal only when asked
(`plantech -v`, a command's stderr; never under the TUI).

Nothing logged may carry a secret: the Redtail client logs method, path, status and timing only.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
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


class _NoTraceback(logging.Formatter):
    """One line a record: the CLI never shows a traceback (the log file keeps it)."""

    def format(self, record: logging.LogRecord) -> str:
        exc = record.exc_info[1] if record.exc_info else None
        plain = logging.makeLogRecord({**record.__dict__, "exc_info": None, "exc_text": None,
                                       "stack_info": None})
        text = super().format(plain).splitlines()[0] if super().format(plain) else ""
        return f"{text} ({type(exc).__name__})" if exc is not None else text


_stderr: tuple[logging.Handler, int] | None = None  # (handler, the logger's level before)


def log_to_stderr(level: int) -> None:
    """`plantech -v`: the log also on stderr, from `level` up (the file keeps its own level)."""
    global _stderr
    stop_log_to_stderr()
    logger = logging.getLogger("plantech")
    before = logger.level
    if _handler is not None and not _handler.level:
        _handler.setLevel(before)  # -vv shows DEBUG on stderr; the file stays as it was
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(level)
    handler.setFormatter(_NoTraceback("plantech: %(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(min(before, level) if before else level)
    _stderr = (handler, before)


def stop_log_to_stderr() -> None:
    global _stderr
    if _stderr is None:
        return
    handler, before = _stderr
    logger = logging.getLogger("plantech")
    logger.removeHandler(handler)
    logger.setLevel(before)
    if _handler is not None:
        _handler.setLevel(logging.NOTSET)
    _stderr = None
