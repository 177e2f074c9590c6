"""Shared fixtures: every test runs with its own HOME, config, data dir and keyring."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# CI (the landing gate) runs a fixed set of 200 examples per property, the same on every run,
# so that its verdict is reproducible; every local `make test` explores 60 new random ones
# (a find there is pinned with @example, as the --max-in-flight 2^63 one is)
settings.register_profile("ci", deadline=None, max_examples=200, derandomize=True)
settings.register_profile("dev", deadline=None, max_examples=60)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

IN_CI = bool(os.environ.get("CI"))


def need_tool(name: str) -> None:
    """Skip when a system tool is missing, but fail under CI (SPEC §10)."""
    import shutil

    if shutil.which(name) is None:
        if IN_CI:
            pytest.fail(f"{name} is required under CI but is not installed")
        pytest.skip(f"{name} is not installed")


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    for var in list(os.environ):
        if var.startswith("PLANTECH_"):
            monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    # keyring: never the machine's own; the in-memory backend lives in tests/keyring_memory.py
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "tests.keyring_memory.MemoryKeyring")
    from tests.keyring_memory import MemoryKeyring

    MemoryKeyring._store.clear()
    from plantech_tui import notices
    from plantech_tui.sync import credentials

    credentials.reset_credential_store()
    notices.claim(None)  # an app a test left running must not keep the notices
    return home


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "plantech.db"


@pytest.fixture(autouse=True)
def pilot_waits_for_held_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pilot's waits (after a press, a click, pause) also wait until PlantechApp handled the
    keys it held back while an earlier key's screen or input opened (app.on_event): Pilot
    judges idleness by CPU time and queues, and cannot see those."""
    from textual.pilot import Pilot

    original = Pilot._wait_for_screen

    async def wait_for_screen(self: Pilot, timeout: float = 30.0) -> bool:  # type: ignore[type-arg]
        settled = getattr(self.app, "keys_settled", None)
        if settled is not None:
            await settled()
        return await original(self, timeout)

    monkeypatch.setattr(Pilot, "_wait_for_screen", wait_for_screen)
