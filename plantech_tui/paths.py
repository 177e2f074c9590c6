"""Where plantech keeps its files (platformdirs), overridable by environment."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "plantech"


def data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP, appauthor=False))


def config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP, appauthor=False))


def log_dir() -> Path:
    return Path(platformdirs.user_log_dir(APP, appauthor=False))


def default_db_path() -> Path:
    env = os.environ.get("PLANTECH_DB")
    return Path(env) if env else data_dir() / "plantech.db"
