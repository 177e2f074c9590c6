"""config.toml under the platformdirs config dir (PLANTECH_CONFIG moves it).

    [redtail]
    api_key = "..."            # the partner API key Redtail issued (or PLANTECH_REDTAIL_API_KEY)
    environment = "Production" # default environment for Add Integration

    [ui]
    ascii = false              # text icons instead of symbols (or PLANTECH_ASCII=1)
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from .domain.errors import UsageError

ENVIRONMENTS = {
    "Production": "https://crm.redtailtechnology.com/api/public/v1",
    "Sandbox": "https://review.crm.redtailtechnology.com/api/public/v1",
}


def config_path() -> Path:
    env = os.environ.get("PLANTECH_CONFIG")
    if env:
        return Path(env)
    from .paths import config_dir

    return config_dir() / "config.toml"


def load_config() -> dict[str, Any]:
    path = config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: {exc}") from None


def default_api_key() -> str | None:
    key = os.environ.get("PLANTECH_REDTAIL_API_KEY")
    if key:
        return key
    value = load_config().get("redtail", {}).get("api_key")
    return str(value) if value else None


def environment_of(base_url: str) -> str:
    for name, url in ENVIRONMENTS.items():
        if base_url.rstrip("/") == url:
            return name
    return "Custom"


def ascii_icons() -> bool:
    if os.environ.get("PLANTECH_ASCII", "") not in ("", "0"):
        return True
    try:
        return bool(load_config().get("ui", {}).get("ascii", False))
    except UsageError:
        return False
