"""No secret — raw, base64 or URL-encoded — in the database files, logs, CLI output, errors or
exports (SPEC §7, §10)."""

from __future__ import annotations

import base64
import urllib.parse
from pathlib import Path

import pytest

from plantech_tui.domain.errors import PlantechError
from plantech_tui.partners.redtail.fake import FakeUser

from .conftest import Cli

PASSWORD = "Pa55-w0rd:GOMEZ-cara-mia!"
USER_KEY = "0DDBA11-5EC2E7-FEED-FACE-C0FFEEC0FFEE"
API_KEY = "PlanTechDemoKey-7d3f9a61-2b84-4c5e-9f10-addams"


def forms(secret: str) -> list[bytes]:
    raw = secret.encode()
    return [raw, base64.b64encode(raw), urllib.parse.quote(secret).encode(),
            urllib.parse.quote_plus(secret).encode()]


def combos() -> list[bytes]:
    """Each secret alone and as the Authorization header carries it."""
    out: list[bytes] = []
    for secret in (PASSWORD, USER_KEY, API_KEY):
        out += forms(secret)
    out += forms(f"{API_KEY}:secretuser:{PASSWORD}")
    out += forms(f"{API_KEY}:{USER_KEY}")
    return out


def assert_clean(blob: bytes, where: str) -> None:
    for needle in combos():
        assert needle not in blob, f"a secret leaked into {where}"


def test_no_secret_anywhere(run: Cli, fake, db_path: Path, isolated_env: Path,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANTECH_DEBUG", "1")
    monkeypatch.setenv("PLANTECH_CREDENTIALS", "file")  # the file store must hold them, not leak
    fake.data.add_user(FakeUser(username="secretuser", password=PASSWORD, user_key=USER_KEY))
    outputs: list[str] = []

    def go(*argv: str, stdin: str | None = None) -> None:
        r = run(*argv, stdin=stdin)
        outputs.extend([r.out, r.err])

    base = fake.base_url
    # a failed login first (wrong password), then the right one
    go("integration", "add", "--base-url", base, "--username", "secretuser",
       "--password-stdin", "--api-key", API_KEY, stdin=PASSWORD + "x\n")
    go("integration", "add", "--base-url", base, "--username", "secretuser",
       "--password-stdin", "--api-key", API_KEY, stdin=PASSWORD + "\n")
    go("integration", "list", "--json")
    # a reader holding the database open keeps its -wal file in place to be searched too
    import sqlite3

    keeper = sqlite3.connect(db_path)
    keeper.execute("SELECT count(*) FROM plans").fetchone()
    go("plan", "create", "Addams", "--clients", "Gomez Addams")
    go("plan", "search-contacts", "1", "--integration", "1", "--name", "addams", "--json")
    go("plan", "link-contact", "1", "--integration", "1", "--contact", "101")
    go("plan", "link-contact", "1", "--integration", "1", "--contact", "102")
    go("sync", "--plan", "1", "--json")
    for spec in ("unauthorized", "server_error:9", "malformed", "forbidden:101"):
        fake.set_faults(spec)
        go("sync", "--plan", "1", "--json")
        go("sync", "--all")
    fake.set_faults(None)
    go("plan", "show", "1", "--json")
    go("export", "1", "--csv")
    go("doctor", "--json")
    # exception texts from the client itself
    import asyncio

    from plantech_tui.partners.redtail.client import RedtailClient

    async def failures() -> list[str]:
        texts = []
        async with RedtailClient(base, API_KEY) as client:
            try:
                await client.authenticate("secretuser", PASSWORD + "!")
            except PlantechError as exc:
                texts += [str(exc), repr(exc)]
        fake.set_faults("server_error:9")
        async with RedtailClient(base, API_KEY, USER_KEY) as client:
            texts.append(repr(client))
            try:
                await client.contact_accounts(101)
            except PlantechError as exc:
                texts += [str(exc), repr(exc)]
        fake.set_faults(None)
        return texts

    outputs += asyncio.run(failures())
    assert_clean("\n".join(outputs).encode(), "CLI output or exception text")

    files = [p for p in db_path.parent.glob(db_path.name + "*")]
    assert any(p.name.endswith("-wal") for p in files)
    assert any(p.name.endswith("-shm") for p in files)
    logs = list(isolated_env.rglob("*.log*"))
    assert logs, "DEBUG logging wrote no log file"
    for path in files + logs:
        assert_clean(path.read_bytes(), str(path.name))
    # the secret does live in the 0600 credential file, and nowhere else under HOME
    creds = list(isolated_env.rglob("credentials.json"))
    assert len(creds) == 1 and USER_KEY.encode() in creds[0].read_bytes()
    assert creds[0].stat().st_mode & 0o777 == 0o600
    for path in isolated_env.rglob("*"):
        if path.is_file() and path != creds[0]:
            assert_clean(path.read_bytes(), str(path.relative_to(isolated_env)))
    assert PASSWORD.encode() not in creds[0].read_bytes()  # the password is never stored
    keeper.close()
