"""Issue 12 point 9 (edges), as the advisor meets them: whose account a pending row is, the
"in plan as" of a linked child, contact search focus, one notice per save."""

from __future__ import annotations

from pathlib import Path

from plantech_tui.app import PlantechApp
from plantech_tui.service.workspace import Workspace
from plantech_tui.sync.fake import FakeRedtailServer
from plantech_tui.widgets.record_table import RecordTable

from .helpers import prepare_plan, screen_text, settle, staged_id
from .test_plan_integration import open_plan_integration


async def test_pending_and_ignored_rows_show_whose_account_they_are(
        db_path: Path, fake: FakeRedtailServer) -> None:
    """An advisor triaging the Addams pull sees, per row, whose account it is: Morticia's
    Vanguard IRA, Gomez and Morticia's joint Schwab account (one household: first names);
    an ignored row keeps its contact column."""
    ids = await prepare_plan(db_path, fake)
    plan_id = ids["plan_id"]
    ws = Workspace.open(db_path, "advisor")
    joint = staged_id(ws, plan_id, 5002)
    hers = staged_id(ws, plan_id, 5011)
    ws.ignore(plan_id, [staged_id(ws, plan_id, 5012)], reason="closed")
    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(120, 40)) as pilot:
        await open_plan_integration(pilot, "2")
        await settle(pilot)
        table = app.screen.query_one("#pending-table", RecordTable)
        assert table.cell(str(joint), "contact") == "Gomez & Morticia"
        assert table.cell(str(hers), "contact") == "Morticia"
        text = screen_text(app)
        assert "Contact" in text and "Gomez & Morticia" in text
        await pilot.press("3")
        await settle(pilot)
        ignored = app.screen.query_one("#ignored-table", RecordTable)
        assert ignored.cells(str(staged_id(ws, plan_id, 5012)))[2] == "Morticia"
    ws.close()
