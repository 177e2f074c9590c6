"""Where plantech keeps its files (platformdirs), overridable by environment."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "plantech"


def make_private_dir(path: Path) -> None:
    """Create `path` and each missing parent with mode 0700 (`mkdir(parents=True)` gives the
    parents the umask's default, 0755 under the usual 022). Directories that already exist are
    left as they are; a concurrent creator is not an error."""
    missing: list[Path] = []
    for candidate in [path, *path.parents]:
        if os.path.lexists(candidate):
            break
        missing.append(candidate)
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            pass
    if not path.is_dir():  # a file in the way: say so as mkdir would
        path.mkdir(parents=True, exist_ok=True)


def data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP, appauthor=False))


def config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP, appauthor=False))


def log_dir() -> Path:
    return Path(platformdirs.user_log_dir(APP, appauthor=False))


def default_db_path() -> Path:
    env = os.environ.get("PLANTECH_DB")
    return Path(env) if env else data_dir() / "plantech.db"
