"""SPEC §4 beyond triage: the suggested link accepted with one key, the plan's audit log as a
screen (and its CSV), the Pending inbox across plans, "Refresh all my plans", and the demo
presenter keys against the fake Redtail over real HTTP."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest

from plantech_tui.app import PlantechApp
from plantech_tui.partners.redtail.fake import FakeRedtailServer
from plantech_tui.screens.audit_log import AuditEntryModal, AuditLogScreen
from plantech_tui.screens.export import ExportModal
from plantech_tui.screens.inbox import InboxScreen
from plantech_tui.screens.plan_integration import PlanIntegrationScreen
from plantech_tui.screens.refresh_report import RefreshAllScreen
from plantech_tui.screens.staged_dialogs import AddToPlanModal
from plantech_tui.service.workspace import Workspace
from plantech_tui.widgets.record_table import RecordTable
from tests.helpers import make_big_plan

from .helpers import choose_option, go_to_row, prepare_plan, screen_text, settle, until
from .test_bulk_triage import notes, open_pending, set_filter


async def test_link_to_suggested_with_one_key(db_path: Path, fake: FakeRedtailServer) -> None:
    ids = await prepare_plan(db_path, fake)
    ws = Workspace.open(db_path, "advisor")
    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(120, 40)) as pilot:
        await open_pending(pilot)
        pending = app.screen.query_one("#pending-table", RecordTable)
        await go_to_row(pilot, "pending-table", "description", "Charles Schwab 1937")
        assert "L Link to Suggested" not in screen_text(app)  # no suggestion on this row
        await pilot.press("L")
        await pilot.pause()
        assert ws.account(ids["plan_id"], ids["manual_id"]).link is None

        await go_to_row(pilot, "pending-table", "description", "Fidelity 4401")
        text = screen_text(app)
        # the note is whole in the row (at 120 columns, beside the Contact column, it is cut)
        assert "★ looks like Gomez" in text and "L Link to Suggested" in text
        pending = app.screen.query_one("#pending-table", RecordTable)
        assert "★ looks like Gomez 401(k)" in pending.cell(pending.cursor_key or "", "flags")
        await pilot.press("a")  # Add to Plan warns that it looks like an existing account
        assert isinstance(app.screen, AddToPlanModal)
        assert "This looks like the existing account 'Gomez 401(k)'" in screen_text(app)
        await pilot.press("escape")
        await pilot.pause()

        await pilot.press("L")
        await settle(pilot)
        account = ws.account(ids["plan_id"], ids["manual_id"])
        assert account.link is not None and account.link.redtail_account_id == 5001
        assert "Linked Fidelity 4401 to Gomez 401(k) (suggested)" in notes(app)
        assert "Fidelity 4401" not in screen_text(app)
        assert pending.cell(pending.cursor_key or "", "description") == "Charles Schwab 1937"
        await pilot.press("u")
        await settle(pilot)
        assert ws.account(ids["plan_id"], ids["manual_id"]).link is None
        assert "Fidelity 4401" in screen_text(app)
    ws.close()


async def test_the_audit_log_screen_and_its_csv(db_path: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    ids = make_big_plan(db_path, 5, advisor="@ops")  # a name the CSV rule must defuse
    first, plan_id = ids["first_staged_id"], ids["plan_id"]
    ws = Workspace.open(db_path, "@ops")
    ws.ignore(plan_id, [first, first + 1], "held away")
    ws.stop_ignoring(plan_id, [first + 1])
    monkeypatch.chdir(tmp_path)
    app = PlantechApp(db_path, "@ops")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("enter", "m")
        await choose_option(pilot, "Audit log")
        assert isinstance(app.screen, AuditLogScreen)
        log = app.screen.query_one(RecordTable)
        entries = ws.audit_log(plan_id)
        text = screen_text(app)
        assert f"Audit log — Big Plan ({len(entries)} entries, newest first)" in text
        assert log.cells(log.keys[0])[1:3] == ["@ops", "stop ignoring"]  # newest first
        assert "state: ignored → pending" in text

        await set_filter(pilot, "audit", "held away")
        assert log.row_count == 2  # the two ignores, by their reason
        await pilot.press("enter")
        assert isinstance(app.screen, AuditEntryModal)
        text = screen_text(app)
        assert '"ignore_reason": "held away"' in text and "Who: @ops" in text
        await pilot.press("escape")

        await pilot.press("e")
        assert isinstance(app.screen, ExportModal)
        assert "the 2 entries of the filter" in screen_text(app)
        await pilot.press("enter")
        await settle(pilot)
    # delivered to the person: their export folder, not the working directory (issue 10, 1)
    assert not (tmp_path / f"plan-{plan_id}-big-plan-audit.csv").exists()
    folder = Path(os.environ["XDG_DATA_HOME"]) / "plantech" / "exports" / "@ops"
    with (folder / f"plan-{plan_id}-big-plan-audit.csv").open(encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["id", "at", "user_name", "action", "object_type", "object_id", "before",
                       "after", "detail"]
    assert [(r[2], r[3]) for r in rows[1:]] == [("'@ops", "ignore"), ("'@ops", "ignore")]
    assert {json.loads(r[7])["ignore_reason"] for r in rows[1:]} == {"held away"}
    ws.close()


async def test_the_pending_inbox_across_plans(db_path: Path) -> None:
    make_big_plan(db_path, 3, name="Addams Family")
    munster = make_big_plan(db_path, 2, name="Munster Family")
    ws = Workspace.open(db_path, "advisor")
    ws.add_user("bob", "advisor")
    ws.close()
    make_big_plan(db_path, 4, advisor="bob", name="Bob's own plan")  # not shared
    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("g", "i")  # the global menu, its Pending inbox key
        await settle(pilot)
        assert isinstance(app.screen, InboxScreen)
        text = screen_text(app)
        assert "Pending inbox — 5 pending accounts across your plans" in text
        assert "Addams Family" in text and "Munster Family" in text
        assert "Bob's own plan" not in text
        await set_filter(pilot, "inbox", "munster")
        inbox = app.screen.query_one(RecordTable)
        assert inbox.keys == [str(munster["first_staged_id"]), str(munster["first_staged_id"] + 1)]
        await pilot.press("down", "enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, PlanIntegrationScreen)
        assert screen.plan_id == munster["plan_id"] and screen.tab == "pending"
        assert screen.table().cursor_key == str(munster["first_staged_id"] + 1)
        assert "Munster Family" in screen_text(app)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, InboxScreen)


async def test_refresh_all_my_plans(db_path: Path, fake: FakeRedtailServer) -> None:
    ids = await prepare_plan(db_path, fake)
    ws = Workspace.open(db_path, "advisor")
    ws.create_plan("Munster Family", ["Herman Munster"])
    runs = ws.store.conn.execute("SELECT count(*) FROM sync_runs").fetchone()[0]
    fake.data.accounts[5012].balance = "99000.00"
    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        with fake.holding_accounts():  # the pull stays in flight until the block ends
            await pilot.press("g")
            await choose_option(pilot, "Refresh all my plans")
            await until(pilot, lambda: "Refreshing all plans" in screen_text(app),
                        "the header says it is refreshing all plans while it runs")
            assert not isinstance(app.screen, RefreshAllScreen)  # still running
        await settle(pilot)
        assert isinstance(app.screen, RefreshAllScreen)
        text = screen_text(app)
        assert "2 plan(s): 1 ok, 1 not pulled" in text
        assert "✓ Addams Family: 0 new, 1 changed, 10 unchanged" in text
        assert "- Munster Family: no linked Redtail contacts: nothing to pull" in text
        assert "Refreshing all plans" not in text
    assert ws.store.conn.execute("SELECT count(*) FROM sync_runs WHERE plan_id = ? AND "
                                 "status = 'ok'", [ids["plan_id"]]).fetchone()[0] == runs + 1
    # an advisor's own pull from the TUI, not a headless `plantech sync`
    assert ws.store.conn.execute("SELECT trigger FROM sync_runs ORDER BY id DESC LIMIT 1"
                                 ).fetchone()[0] == "manual"
    pending = {s.redtail_account_id: s for s in ws.plan_detail(ids["plan_id"]).pending}
    assert str(pending[5012].balance) == "99000.00"
    ws.close()


async def test_demo_presenter_keys(db_path: Path, fake: FakeRedtailServer,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    await prepare_plan(db_path, fake)
    app = PlantechApp(db_path, "advisor", demo_admin_url=fake.admin_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.press(*"Demo: move")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        moved = fake.data.accounts[5001].balance
        assert moved != "250000.00"
        assert f"Fidelity 4401: $250,000.00 → ${float(moved):,.2f} in Redtail" in notes(app)

        await pilot.press("g", "a")  # the global menu's key for "Demo: add an account"
        await settle(pilot)
        assert 5901 in fake.data.accounts
        assert "Redtail has a new account: Vanguard" in notes(app)

        await pilot.press("g", "x")
        await settle(pilot)
        assert 5901 not in fake.data.accounts
        assert "Redtail no longer lists Vanguard" in notes(app)
