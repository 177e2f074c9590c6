"""Issue 12: an operator sees failed pulls (cron mail, the app log, doctor) and `sync --all`
shows its progress on a terminal. Real SQLite files, the fake Redtail over loopback HTTP, the
`plantech-sync` script as DEPLOY.md ships it, run by `sh`."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from plantech_tui.partners.redtail.fake import FakeRedtailServer

from .conftest import Cli, connect

ROOT = Path(__file__).resolve().parents[2]
PLANTECH = Path(sys.executable).with_name("plantech")


@pytest.fixture(autouse=True)
def as_advisor(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANTECH_USER", "advisor")  # the first user: the advisor


def two_plans(run: Cli, fake: FakeRedtailServer) -> dict[str, int]:
    """Gomez's plan (contact 101) and Morticia's (contact 102), both linked."""
    integration = connect(run, fake)
    ids = {}
    for name, contact in (("Gomez", "101"), ("Morticia", "102")):
        ids[name] = run.ok("plan", "create", name)["id"]
        run.ok("plan", "link-contact", str(ids[name]), "--integration", str(integration),
               "--contact", contact)
    return ids


def sync_script(tmp_path: Path) -> Path:
    """DEPLOY.md's plantech-sync, unchanged, written out as cron would find it."""
    text = (ROOT / "plantech_tui" / "docs" / "DEPLOY.md").read_text(encoding="utf-8")
    match = re.search(r"cat > /usr/local/bin/plantech-sync <<'EOF'\n(.*?)\nEOF\n", text, re.S)
    assert match, "DEPLOY.md has no plantech-sync script"
    path = tmp_path / "plantech-sync"
    path.write_text(match.group(1) + "\n")
    return path


def app_log(home: Path) -> str:
    path = home / ".local" / "state" / "plantech" / "log" / "plantech.log"
    found = list(home.rglob("plantech.log"))
    assert found, f"no plantech.log under {home} (expected near {path})"
    return "".join(p.read_text(encoding="utf-8") for p in found)


def test_cron_wrapper_mails_a_summary_naming_the_failed_plan(
        run: Cli, fake: FakeRedtailServer, db_path: Path, tmp_path: Path,
        isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Operator: Redtail refuses Morticia's accounts at 06:15; cron must mail a summary that
    names her plan and why (not only bury it in sync.log), and the script must exit 1."""
    monkeypatch.setenv("PLANTECH_CREDENTIALS", "file")  # as the service account stores them
    ids = two_plans(run, fake)
    fake.set_faults("not_found:102")
    log = tmp_path / "sync.log"
    env = {**os.environ, "PLANTECH_HOME": str(isolated_env), "PLANTECH_BIN": str(PLANTECH),
           "LOG": str(log), "PLANTECH_DB": str(db_path), "MAINTENANCE": str(tmp_path / "m")}
    r = subprocess.run(["sh", str(sync_script(tmp_path)), "advisor"], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, r.stderr
    assert r.stdout == ""
    assert "sync --all as advisor: 2 plans: 1 ok, 0 partial, 1 failed" in r.stderr
    failed = [line for line in r.stderr.splitlines() if line.startswith("  plan ")]
    assert failed == [line for line in failed if f"plan {ids['Morticia']}: failed" in line]
    assert len(failed) == 1 and "contact 102" in failed[0]
    assert "Traceback" not in r.stderr
    # the JSON report is still in the log
    assert '"status": "failed"' in log.read_text(encoding="utf-8").replace('":"', '": "')
    # a clean day: silent, exit 0 (cron sends nothing)
    fake.set_faults(None)
    r = subprocess.run(["sh", str(sync_script(tmp_path)), "advisor"], env=env,
                       capture_output=True, text=True, timeout=120)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")


def test_cron_wrapper_says_why_when_there_is_no_report(
        run: Cli, db_path: Path, tmp_path: Path, isolated_env: Path) -> None:
    """Operator: the crontab names an advisor who was removed; the mail must say so."""
    run.ok("plan", "create", "P")
    env = {**os.environ, "PLANTECH_HOME": str(isolated_env), "PLANTECH_BIN": str(PLANTECH),
           "LOG": str(tmp_path / "sync.log"), "PLANTECH_DB": str(db_path),
           "MAINTENANCE": str(tmp_path / "m")}
    r = subprocess.run(["sh", str(sync_script(tmp_path)), "nobody"], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1
    assert "plantech-sync: sync --all as nobody failed (exit 1): plantech: error:" in r.stderr


def test_a_failed_sync_writes_its_outcome_to_the_app_log(
        run: Cli, fake: FakeRedtailServer, isolated_env: Path) -> None:
    """Operator: after a failed nightly sync, plantech.log must say which plan failed, its
    counts and Redtail's message (it used to not even exist)."""
    ids = two_plans(run, fake)
    fake.set_faults("not_found:102")
    r = run("sync", "--all", "--json")
    assert r.rc == 1
    text = app_log(isolated_env)
    [bad] = [line for line in text.splitlines() if f"pull plan={ids['Morticia']} " in line]
    assert " INFO " in bad and "status=failed" in bad and "errors=1" in bad
    assert "contact 102:" in bad and "duration=" in bad
    [good] = [line for line in text.splitlines() if f"pull plan={ids['Gomez']} " in line]
    assert "status=ok" in good and "new=" in good and "changed=0" in good


def doctor_pulls(run: Cli, user: str = "advisor") -> dict[str, Any] | None:
    doc = run.ok("doctor", user=user)
    return next((c for c in doc["checks"] if c["name"] == "pulls"), None)


def test_doctor_lists_the_failed_and_the_stale_plan_of_this_advisor_only(
        run: Cli, fake: FakeRedtailServer, db_path: Path) -> None:
    """Advisor: doctor names my plan whose last pull failed and one not pulled for days;
    another advisor's doctor says nothing about my plans."""
    ids = two_plans(run, fake)
    fake.set_faults("not_found:102")
    assert run("sync", "--all", "--json").rc == 1
    check = doctor_pulls(run)
    assert check is not None and check["status"] == "warn"
    assert f"plan {ids['Morticia']} 'Morticia': last pull failed" in check["detail"]
    assert "contact 102" in check["detail"]
    assert f"plan {ids['Gomez']} " not in check["detail"]
    # Gomez's last good pull was two days ago
    conn = sqlite3.connect(db_path)
    with conn:
        conn.execute("UPDATE sync_runs SET finished_at = '2020-01-01T06:15:00Z' "
                     "WHERE plan_id = ?", [ids["Gomez"]])
    conn.close()
    check = doctor_pulls(run)
    assert check is not None
    assert f"plan {ids['Gomez']} 'Gomez': last successful pull 2020-01-01T06:15:00Z" \
        in check["detail"]
    run.ok("users", "add", "wednesday", "--role", "advisor")
    other = doctor_pulls(run, user="wednesday")
    assert other is not None and "Morticia" not in other["detail"] and "Gomez" not in other["detail"]
    # all well again: ok
    fake.set_faults(None)
    assert run("sync", "--all", "--json").rc == 0
    check = doctor_pulls(run)
    assert check is not None and check["status"] == "ok", check


def read_all(fd: int) -> bytes:
    chunks = []
    while True:
        ready, _, _ = select.select([fd], [], [], 30)
        if not ready:
            break
        try:
            data = os.read(fd, 4096)
        except OSError:  # EIO: the child closed its end
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks)


def test_sync_all_shows_progress_on_a_terminal_and_not_when_piped(
        run: Cli, fake: FakeRedtailServer, db_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Operator at a terminal: `sync --all` says how far it is on one line that it clears;
    piped into a log, stderr carries no progress (no \\r garbage)."""
    monkeypatch.setenv("PLANTECH_CREDENTIALS", "file")  # the child process reads them too
    two_plans(run, fake)
    env = {**os.environ, "PLANTECH_DB": str(db_path), "PLANTECH_USER": "advisor"}
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen([str(PLANTECH), "sync", "--all", "--json"], env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave)
        os.close(slave)
        slave = -1
        err = read_all(master).decode()
        out = proc.stdout.read().decode() if proc.stdout else ""
        assert proc.wait(timeout=60) == 0
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)
    assert "\rplantech sync: 0/2 plans, 0 requests, 0 failed" in err
    assert "plantech sync: 2/2 plans, " in err and ", 0 failed" in err
    assert err.endswith("\r")  # cleared: the line was overwritten with blanks
    assert err.rstrip("\r").split("\r")[-1].strip() == ""
    assert len(json.loads(out)["plans"]) == 2  # stdout is still the one JSON document
    piped = subprocess.run([str(PLANTECH), "sync", "--all", "--json"], env=env,
                           capture_output=True, text=True, timeout=60)
    assert piped.returncode == 0
    assert piped.stderr == ""
