"""`plantech doctor` (SPEC §4, §5, §9): checks and says what to fix; creates nothing.

Real files, the fake Redtail over real loopback HTTP, a closed port for "unreachable".
"""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from plantech_tui import cli
from plantech_tui.partners.redtail.fake import (
    DEMO_API_KEY,
    DEMO_PASSWORD,
    DEMO_USERNAME,
    FakeRedtailServer,
    load_demo_data,
)
from plantech_tui.service import connections
from plantech_tui.service.workspace import Workspace
from tests.helpers import make_integration


def doctor(capsys: pytest.CaptureFixture[str], db: Path, *extra: str,
           user: str = "advisor") -> tuple[int, dict[str, Any]]:
    """`doctor --json` as `user` (the advisor `make_db` creates, unless told otherwise)."""
    capsys.readouterr()
    rc = cli.main(["--db", str(db), "--user", user, "doctor", "--json", *extra])
    out, err = capsys.readouterr()
    assert err == ""
    return rc, json.loads(out)


def by_name(doc: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {c["name"]: c for c in doc["checks"]}


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def make_db(path: Path) -> None:
    ws = Workspace.open(path, "advisor")
    ws.create_plan("Doctor", ["A B"])
    ws.close()


def dump(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return "\n".join(conn.iterdump())
    finally:
        conn.close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_writable_database_is_ok_and_untouched(capsys: pytest.CaptureFixture[str],
                                               tmp_path: Path) -> None:
    db = tmp_path / "data" / "plantech.db"
    db.parent.mkdir(mode=0o700)
    make_db(db)
    before, stat_before = dump(db), db.stat()
    rc, doc = doctor(capsys, db)
    checks = by_name(doc)
    assert rc == 0 and doc["ok"] is True
    assert checks["database"]["status"] == "ok"
    assert re.search(r"\(schema \d+, mode 600\)", checks["database"]["detail"])
    assert checks["redtail"]["status"] == "ok"  # no integrations: nothing to reach
    assert {"config", "mapping", "credentials", "terminal"} <= set(checks)
    assert all(set(c) == {"name", "status", "detail", "fix"} for c in doc["checks"])
    assert dump(db) == before and db.stat().st_mtime_ns == stat_before.st_mtime_ns
    assert [r[0] for r in sqlite3.connect(db).execute("SELECT name FROM users")] == ["advisor"]


def test_no_database_is_created(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                isolated_env: Path) -> None:
    db = tmp_path / "new" / "deeper" / "plantech.db"
    home_files = files_under(isolated_env)
    rc, doc = doctor(capsys, db)
    assert rc == 0
    assert "does not exist yet" in by_name(doc)["database"]["detail"]
    assert not (tmp_path / "new").exists()
    # nor a credential file, a config or a user: only the log directory may appear
    assert {p for p in files_under(isolated_env) - home_files if "log" not in p.parts
            and "state" not in str(p)} == set()


def test_a_path_under_a_regular_file_fails_with_a_fix(capsys: pytest.CaptureFixture[str],
                                                      tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    db = blocker / "plantech.db"
    rc, doc = doctor(capsys, db)
    check = by_name(doc)["database"]
    assert rc == 1 and doc["ok"] is False
    assert check["status"] == "fail" and "not a directory" in check["detail"]
    assert "--db" in check["fix"]
    assert blocker.read_text() == "x"


def test_text_output_says_what_to_fix(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    capsys.readouterr()
    rc = cli.main(["--db", str(blocker / "x.db"), "doctor"])
    out = capsys.readouterr().out
    assert rc == 1
    assert "[FAIL] database:" in out and "fix: choose another path" in out
    assert out.rstrip().endswith("1 problem(s) to fix")


def test_a_corrupt_database_fails_and_is_not_changed(capsys: pytest.CaptureFixture[str],
                                                     tmp_path: Path) -> None:
    db = tmp_path / "plantech.db"
    db.write_bytes(b"this is not a database" * 100)
    rc, doc = doctor(capsys, db)
    check = by_name(doc)["database"]
    assert rc == 1 and check["status"] == "fail" and "backup" in check["fix"]
    assert db.read_bytes() == b"this is not a database" * 100


def test_a_directory_as_database_fails(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rc, doc = doctor(capsys, tmp_path)
    assert rc == 1 and "not a regular file" in by_name(doc)["database"]["detail"]


def test_loose_permissions_are_a_warning_with_chmod(capsys: pytest.CaptureFixture[str],
                                                    tmp_path: Path) -> None:
    db = tmp_path / "plantech.db"
    make_db(db)
    os.chmod(db, 0o644)
    rc, doc = doctor(capsys, db)
    perms = [c for c in doc["checks"] if c["name"] == "database permissions"]
    assert rc == 0  # a warning does not fail
    assert perms and perms[0]["status"] == "warn" and perms[0]["fix"] == f"chmod 600 {db}"


def test_a_busy_database_is_a_warning(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    db = tmp_path / "plantech.db"
    make_db(db)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        rc, doc = doctor(capsys, db)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    check = by_name(doc)["database"]
    assert check["status"] == "warn" and "busy" in check["detail"]
    assert rc == 0


def test_reachable_redtail_with_a_working_key(capsys: pytest.CaptureFixture[str],
                                              tmp_path: Path) -> None:
    db = tmp_path / "plantech.db"
    with FakeRedtailServer(load_demo_data()) as fake:
        ws = Workspace.open(db, "advisor")
        integration, _ = connections.run_async(connections.connect_integration(
            ws, base_url=fake.base_url, username=DEMO_USERNAME, password=DEMO_PASSWORD,
            api_key=DEMO_API_KEY))
        ws.close()
        requests_before = len(fake.request_log)
        rc, doc = doctor(capsys, db)
        check = by_name(doc)[f"redtail #{integration.id}"]
        assert rc == 0 and check["status"] == "ok", check
        assert fake.base_url in check["detail"] and "stored key accepted" in check["detail"]
        assert len(fake.request_log) - requests_before <= 3  # polite: a probe, one list

        fake.set_faults("unauthorized")  # the stored key is now refused
        rc, doc = doctor(capsys, db)
        check = by_name(doc)[f"redtail #{integration.id}"]
        assert rc == 1 and check["status"] == "fail"
        assert "reconnect" in check["fix"].lower()
    text = json.dumps(doc)
    assert DEMO_PASSWORD not in text and DEMO_API_KEY not in text


def test_closed_port_fails_naming_the_url(capsys: pytest.CaptureFixture[str],
                                          tmp_path: Path) -> None:
    db = tmp_path / "plantech.db"
    make_db(db)
    url = f"http://127.0.0.1:{closed_port()}/api/public/v1"
    ws = Workspace.open(db, "advisor")
    integration = make_integration(ws, ws.user.id, base_url=url)
    ws.close()
    rc, doc = doctor(capsys, db)
    check = by_name(doc)[f"redtail #{integration}"]
    assert rc == 1 and check["status"] == "fail"
    assert url in check["detail"] and "refused" in check["detail"]
    assert "network" in check["fix"]


def test_reachable_but_no_stored_key(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    db = tmp_path / "plantech.db"
    make_db(db)
    with FakeRedtailServer(load_demo_data()) as fake:
        ws = Workspace.open(db, "advisor")
        integration = make_integration(ws, ws.user.id, base_url=fake.base_url)
        ws.close()
        rc, doc = doctor(capsys, db)
    check = by_name(doc)[f"redtail #{integration}"]
    assert rc == 1 and "no key" in check["detail"] and "reconnect" in check["fix"]


def test_bad_config_and_mapping_files_fail_naming_the_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, isolated_env: Path
) -> None:
    config_dir = isolated_env / ".config" / "plantech"
    config_dir.mkdir(parents=True)
    (config_dir / "config.toml").write_text("[redtail\napi_key = 1\n")
    (config_dir / "redtail_mapping.toml").write_text("included_account_types = 7\n")
    rc, doc = doctor(capsys, tmp_path / "plantech.db")
    checks = by_name(doc)
    assert rc == 1
    assert checks["config"]["status"] == "fail" and "config.toml" in checks["config"]["detail"]
    assert checks["mapping"]["status"] == "fail"
    assert "redtail_mapping.toml" in checks["mapping"]["detail"]


def test_file_credential_store_is_checked_without_creating_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, isolated_env: Path,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLANTECH_CREDENTIALS", "file")
    creds = isolated_env / ".local" / "share" / "plantech" / "credentials.json"
    rc, doc = doctor(capsys, tmp_path / "plantech.db")
    check = by_name(doc)["credentials"]
    assert rc == 0 and check["status"] == "ok" and "PLANTECH_CREDENTIALS=file" in check["detail"]
    assert not creds.exists()
    creds.parent.mkdir(parents=True)
    creds.write_text('{"version": 1, "secrets": {}}')
    os.chmod(creds, 0o644)
    rc, doc = doctor(capsys, tmp_path / "plantech.db")
    check = by_name(doc)["credentials"]
    assert check["status"] == "warn" and check["fix"] == f"chmod 600 {creds}"
    creds.write_text("{not json")
    rc, doc = doctor(capsys, tmp_path / "plantech.db")
    assert rc == 1 and by_name(doc)["credentials"]["status"] == "fail"


def test_an_unusable_keyring_is_a_warning_naming_the_fallback(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    import keyring.core

    keyring.core._keyring_backend = None  # let keyring read the variable again
    try:
        rc, doc = doctor(capsys, tmp_path / "plantech.db")
    finally:
        keyring.core._keyring_backend = None
    check = by_name(doc)["credentials"]
    assert rc == 0 and check["status"] == "warn"
    assert "fail backend" in check["detail"] and "PLANTECH_CREDENTIALS=file" in check["fix"]


def test_real_subprocess_creates_no_database(tmp_path: Path) -> None:
    db = tmp_path / "sub" / "plantech.db"
    proc = subprocess.run([sys.executable, "-m", "plantech_tui", "--db", str(db), "doctor",
                           "--json"], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["ok"] is True and proc.stderr == ""
    assert not db.parent.exists()


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0, reason="needs root to chown")
def test_another_accounts_database_is_only_read(capsys: pytest.CaptureFixture[str],
                                                tmp_path: Path) -> None:
    """root checking the service account's database must not leave root-owned -wal/-shm."""
    db = tmp_path / "plantech.db"
    make_db(db)
    os.chown(db, 65534, 65534)
    before = db.read_bytes()
    rc, doc = doctor(capsys, db)
    owner = by_name(doc)["database owner"]
    assert rc == 0 and owner["status"] == "warn" and "read-only" in owner["detail"]
    assert by_name(doc)["database"]["status"] == "ok"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "plantech.db"]
    assert db.read_bytes() == before


def test_item8_doctor_checks_only_the_integrations_of_who_runs_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Adversary: a client (or a name nobody added) who runs `plantech doctor --user …` to
    learn every advisor's Redtail URL and username, and to make Redtail calls with their keys.

    Two advisors, each with an integration on their own fake Redtail (real loopback HTTP, every
    request counted). The client and the unknown name see no integration and cause no request;
    advisor A sees and probes A's integration only; B's server is never called.
    """
    db = tmp_path / "plantech.db"
    with FakeRedtailServer(load_demo_data()) as fake_a, \
            FakeRedtailServer(load_demo_data()) as fake_b:
        alice = Workspace.open(db, "alice")
        plan = alice.create_plan("Addams", ["Gomez Addams"])
        alice.add_user("bob", "advisor")
        alice.add_user("morticia", "client", True, [plan.id])
        integ_a, _ = connections.run_async(connections.connect_integration(
            alice, base_url=fake_a.base_url, username=DEMO_USERNAME, password=DEMO_PASSWORD,
            api_key=DEMO_API_KEY))
        alice.close()
        bob = Workspace.open(db, "bob")
        integ_b, _ = connections.run_async(connections.connect_integration(
            bob, base_url=fake_b.base_url, username=DEMO_USERNAME, password=DEMO_PASSWORD,
            api_key=DEMO_API_KEY))
        bob.close()

        def requests() -> tuple[int, int]:
            return len(fake_a.request_log), len(fake_b.request_log)

        for who in ("morticia", "nobody"):
            before = requests()
            rc, doc = doctor(capsys, db, user=who)
            capsys.readouterr()
            text_rc = cli.main(["--db", str(db), "--user", who, "doctor"])
            text = capsys.readouterr().out
            assert requests() == before, f"{who} made Redtail calls"
            assert rc == 0 and text_rc == 0, doc
            for shown in (json.dumps(doc), text):
                assert fake_a.base_url not in shown and fake_b.base_url not in shown, who
                assert DEMO_USERNAME not in shown, who
                assert "redtail" not in {c["name"].split()[0] for c in doc["checks"]}
            assert {"database", "terminal"} <= set(by_name(doc))
        assert "unknown user 'nobody'" in by_name(doc)["user"]["detail"]
        assert len([line for line in text.splitlines() if "nobody" in line]) == 1

        b_before = len(fake_b.request_log)
        a_before = len(fake_a.request_log)
        rc, doc = doctor(capsys, db, user="ALICE")  # names match case-insensitively
        checks = by_name(doc)
        assert rc == 0, doc
        assert checks[f"redtail #{integ_a.id}"]["status"] == "ok"
        assert f"redtail #{integ_b.id}" not in checks
        assert fake_b.base_url not in json.dumps(doc)
        assert len(fake_b.request_log) == b_before and len(fake_a.request_log) > a_before
    assert [r[0] for r in sqlite3.connect(db).execute("SELECT name FROM users ORDER BY id")] == [
        "alice", "bob", "morticia"]  # doctor added nobody
