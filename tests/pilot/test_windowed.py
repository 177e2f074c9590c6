"""The windowed account table at size: a plan with 100,000 pending rows opens on its first
rows, and filtering, sorting, marking and a bulk action work at that size (functional, not
timing: benchmarks measure the same widget). Rows update in place, by key, after a pull."""

from __future__ import annotations

from pathlib import Path

from plantech_tui.app import PlantechApp
from plantech_tui.partners.redtail.fake import FakeRedtailServer
from plantech_tui.screens.refresh_report import RefreshReportScreen
from plantech_tui.screens.staged_dialogs import IgnoreModal
from plantech_tui.service.workspace import Workspace
from plantech_tui.widgets.record_table import RecordTable
from tests.helpers import make_big_plan

from .helpers import go_to_row, prepare_plan, screen_text, settle
from .test_bulk_triage import open_pending, set_filter


async def test_a_plan_with_100k_pending_rows(db_path: Path) -> None:
    ids = make_big_plan(db_path, 100_000)
    first, plan_id = ids["first_staged_id"], ids["plan_id"]
    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("enter")  # Investment Assets: totals without loading the rows
        await settle(pilot)
        assert "Pending 100,000 ($4,997,930,858.95)" in screen_text(app)
        await pilot.press("P")  # Pending Data
        await settle(pilot)
        pending = app.screen.query_one("#pending-table", RecordTable)
        text = screen_text(app)
        assert "Pending Data (100,000)" in text
        assert "Fidelity 0000" in text and "Vanguard 0001" in text  # the first rows
        assert pending.row_count == 100_000
        assert len(pending._rows) <= 1000  # a window of rows, not all of them
        await pilot.press("end")
        assert pending.cursor_key == str(first + 99_999)
        assert "Ally Bank 9999" in screen_text(app)

        # sort: o goes Description ▲, Description ▼, Balance ▲, Balance ▼
        await pilot.press("o", "o", "o", "o", "home")
        text = screen_text(app)
        assert "Balance ▼" in text
        assert pending.cursor_key == str(first + 99_999)  # the largest balance first
        assert "$100,998.99" in text

        # filter by a contact's name, mark all of them, then filter on something else
        await set_filter(pilot, "pending", "morticia")
        assert pending.row_count == 50_000
        await pilot.press("asterisk")
        assert "50,000 marked" in screen_text(app)
        await set_filter(pilot, "pending", "fidelity")
        assert pending.row_count == 14_286
        text = screen_text(app)
        assert "50,000 marked, 42,857 hidden by the filter" in text
        assert "filter “fidelity”: 14,286 rows" in text
        assert "Fidelity 9995" in text and "$100,994.95" in text  # still by balance ▼
        assert len(pending.marks) == 50_000

        # a bulk action at that size: ignore every Fidelity row, then undo it
        await pilot.press("escape", "asterisk")  # esc: marks cleared; *: the filter's rows
        assert "14,286 marked" in screen_text(app)
        await pilot.press("i")
        assert isinstance(app.screen, IgnoreModal)
        assert "Ignore 14,286 accounts?" in screen_text(app)
        await pilot.press("enter", "enter")
        await settle(pilot)
        assert "Pending Data (85,714)" in screen_text(app)
        ws = Workspace.open(db_path, "advisor")
        assert ws.staged_counts(plan_id) == {"pending": 85_714, "ignored": 14_286}
        await pilot.press("u")
        await settle(pilot)
        assert ws.staged_counts(plan_id) == {"pending": 100_000, "ignored": 0}
        assert "Pending Data (100,000)" in screen_text(app)
        ws.close()


async def test_rows_update_in_place_after_a_pull(db_path: Path,
                                                 fake: FakeRedtailServer) -> None:
    await prepare_plan(db_path, fake)
    fake.data.accounts[5012].balance = "99000.00"  # Vanguard 0046 moved in Redtail
    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(120, 40)) as pilot:
        await open_pending(pilot)
        pending = app.screen.query_one("#pending-table", RecordTable)
        key = await go_to_row(pilot, "pending-table", "description", "Vanguard 0046")
        assert "$98,020.00" in screen_text(app)
        await pilot.press("r")
        await settle(pilot)
        assert isinstance(app.screen, RefreshReportScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert pending.cursor_key == key  # the same record under the cursor
        assert pending.cell(key, "balance") == "$99,000.00"
        assert "$99,000.00" in screen_text(app) and "$98,020.00" not in screen_text(app)
