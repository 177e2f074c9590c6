"""Issue 12: a pull shows how far it is (contacts done of all, elapsed time) and `esc` cancels
it with nothing applied; the Plans screen marks a plan whose last pull failed, in words."""

from __future__ import annotations

import logging
import re
import sqlite3
from pathlib import Path

import pytest

from plantech_tui.app import PlantechApp
from plantech_tui.partners.redtail.fake import FakeRedtailServer
from plantech_tui.screens.plan import PlanScreen
from plantech_tui.screens.refresh_report import RefreshReportScreen
from plantech_tui.service import connections, pulls
from plantech_tui.service.workspace import Workspace

from .helpers import prepare_plan, screen_text, settle, until


def runs(db_path: Path, plan_id: int) -> list[str]:
    conn = sqlite3.connect(db_path)
    try:
        return [r[0] for r in conn.execute(
            "SELECT status FROM sync_runs WHERE plan_id = ? ORDER BY id", [plan_id])]
    finally:
        conn.close()


def pending_balance(ws: Workspace, plan_id: int, redtail_id: int) -> str:
    [row] = [s for s in ws.plan_detail(plan_id).pending if s.redtail_account_id == redtail_id]
    return str(row.balance)


async def test_pull_shows_contacts_done_and_esc_cancels_with_nothing_applied(
        db_path: Path, fake: FakeRedtailServer, caplog: pytest.LogCaptureFixture) -> None:
    """Advisor: a Refresh Integrations hangs on a slow Redtail; the header says how far it got
    (contacts 1/2, seconds elapsed) and esc stops it: nothing applied, the lease released,
    "Pull cancelled; nothing changed", and I stay on the plan."""
    caplog.set_level(logging.INFO, logger="plantech")
    ids = await prepare_plan(db_path, fake)
    plan_id = ids["plan_id"]
    ws = Workspace.open(db_path, "advisor")
    before = pending_balance(ws, plan_id, 5012)
    fake.data.accounts[5012].balance = "99000.00"  # moved in Redtail: a pull would apply it
    fake.set_faults("not_found:102")  # Morticia's answer comes at once; Gomez's is held
    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        with fake.holding_accounts():
            await pilot.press("r")
            await until(pilot, lambda: "contacts 1/2" in screen_text(app),
                        "the header counts the contacts fetched")
            header = screen_text(app).splitlines()[0]
            assert re.search(r"Pulling Redtail… · contacts 1/2 · \d+s · esc cancels", header)
            await pilot.press("escape")
            await until(pilot, lambda: any("Pull cancelled; nothing changed" in n.message
                                           for n in app._notifications),
                        "a notice that the pull was cancelled")
        await settle(pilot)
        assert isinstance(app.screen, PlanScreen)  # esc cancelled the pull, not the screen
        assert not isinstance(app.screen, RefreshReportScreen)
        assert "Pulling Redtail" not in screen_text(app)
        assert pending_balance(ws, plan_id, 5012) == before  # nothing applied
        assert runs(db_path, plan_id) == ["ok", "abandoned"]  # recorded, lease released
        assert any(f"pull plan={plan_id} status=cancelled" in r.getMessage()
                   for r in caplog.records)  # and in the app log
        await pilot.press("question_mark")  # ? says so
        await until(pilot, lambda: "Cancel Refresh Integrations" in screen_text(app), "help")
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, PlanScreen), "help closed")
        await pilot.press("escape")  # with no pull running, esc is back again
        await settle(pilot)
        assert not isinstance(app.screen, PlanScreen)
    # released: the next pull runs and applies
    fake.set_faults(None)
    report = await pulls.refresh_async(ws, plan_id)
    assert report.status == "ok" and pending_balance(ws, plan_id, 5012) == "99000.00"
    ws.close()


async def test_plans_screen_marks_a_plan_whose_last_pull_failed(
        db_path: Path, fake: FakeRedtailServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Advisor on a monochrome terminal: the plan whose last pull failed says so in text
    ("x failed"), not by colour alone; a plan pulled cleanly is not marked."""
    ids = await prepare_plan(db_path, fake)
    ws = Workspace.open(db_path, "advisor")
    other = ws.create_plan("Wednesday", ["Wednesday Addams"])
    await connections.link_contacts_async(ws, other.id, ids["integration_id"], [101])
    fake.set_faults("not_found:101,not_found:102")
    report = await pulls.refresh_async(ws, ids["plan_id"])
    assert report.status == "failed"
    fake.set_faults(None)
    assert (await pulls.refresh_async(ws, other.id)).status == "ok"
    ws.close()
    monkeypatch.setenv("PLANTECH_ASCII", "1")
    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        lines = screen_text(app).splitlines()
        [addams] = [line for line in lines if "Addams Family" in line]
        [wednesday] = [line for line in lines if "Wednesday " in line and "Addams Family"
                       not in line]
        assert "x failed" in addams
        assert "failed" not in wednesday


async def test_an_automatic_pull_shows_progress_and_esc_still_goes_back(
        db_path: Path, fake: FakeRedtailServer) -> None:
    """Advisor: I open a plan (its daily pull starts by itself) and press esc to go back; esc
    must not cancel a pull I did not ask for, and that pull still lands."""
    ids = await prepare_plan(db_path, fake, pull=False)
    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        with fake.holding_accounts():
            await pilot.press("enter")
            await until(pilot, lambda: "contacts 0/2" in screen_text(app),
                        "the automatic pull counts its contacts")
            assert "esc cancels" not in screen_text(app)
            await pilot.press("escape")
            await until(pilot, lambda: not isinstance(app.screen, PlanScreen), "back on Plans")
        await settle(pilot)
    assert runs(db_path, ids["plan_id"]) == ["ok"]
