"""Fixtures for pull tests: the fake Redtail over real loopback HTTP and a CLI runner."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from plantech_tui import cli
from plantech_tui.partners.redtail.fake import (
    DEMO_API_KEY,
    DEMO_PASSWORD,
    DEMO_USERNAME,
    FakeRedtailServer,
    load_demo_data,
)


@dataclass
class Result:
    rc: int
    out: str
    err: str

    @property
    def json(self) -> Any:
        return json.loads(self.out)


class Cli:
    """Runs `plantech` in-process (the real argument parser and exit codes)."""

    def __init__(self, capsys: pytest.CaptureFixture[str], db: Path,
                 monkeypatch: pytest.MonkeyPatch) -> None:
        self.capsys = capsys
        self.db = db
        self.monkeypatch = monkeypatch

    def __call__(self, *argv: str, stdin: str | None = None, user: str | None = None) -> Result:
        import io
        import sys

        if stdin is not None:
            self.monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        args = ["--db", str(self.db), *(["--user", user] if user else []), *argv]
        self.capsys.readouterr()
        rc = cli.main(args)
        out, err = self.capsys.readouterr()
        return Result(rc, out, err)

    def ok(self, *argv: str, **kw: Any) -> Any:
        r = self(*argv, "--json", **kw)
        assert r.rc == 0, r.err
        return r.json


@pytest.fixture
def fake() -> Iterator[FakeRedtailServer]:
    with FakeRedtailServer(load_demo_data()) as server:
        yield server


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], db_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> Cli:
    return Cli(capsys, db_path, monkeypatch)


def admin(server: FakeRedtailServer, method: str, path: str, body: Any = None) -> Any:
    r = httpx.request(method, server.admin_url + path, json=body, timeout=10)
    r.raise_for_status()
    return r.json() if r.content else None


def connect(run: Cli, server: FakeRedtailServer) -> int:
    doc = run.ok("integration", "add", "--base-url", server.base_url, "--username",
                 DEMO_USERNAME, "--password-stdin", "--api-key", DEMO_API_KEY,
                 stdin=DEMO_PASSWORD + "\n")
    return int(doc["id"])


@pytest.fixture
def addams(run: Cli, fake: FakeRedtailServer) -> dict[str, int]:
    """Integration connected, the Addams Family plan with Gomez and Morticia linked."""
    integration = connect(run, fake)
    plan = run.ok("plan", "create", "Addams Family", "--clients", "Gomez Addams;Morticia Addams")
    for contact in ("101", "102"):
        run.ok("plan", "link-contact", str(plan["id"]), "--integration", str(integration),
               "--contact", contact)
    return {"plan": plan["id"], "integration": integration}


def staged_map(show: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """Redtail account id → its pending or ignored row in `plan show --json`."""
    return {row["redtail_account_id"]: row for row in show["pending"] + show["ignored"]}
