"""Issue 12 point 5, "copy what you see": `y` copies the cursor row, or the marked rows, as CSV
to the terminal clipboard (OSC 52: `App.copy_to_clipboard`, whose text `app.clipboard` holds).
The raw OSC 52 bytes are checked through a real terminal in tests/e2e/test_copy_osc52.py."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from textual.command import CommandList, CommandPalette
from textual.pilot import Pilot

from plantech_tui.app import PlantechApp
from plantech_tui.partners.redtail.fake import FakeRedtailServer
from plantech_tui.screens.help import HelpScreen
from plantech_tui.screens.plan import PlanScreen
from plantech_tui.screens.plan_integration import PlanIntegrationScreen
from plantech_tui.service.workspace import Workspace
from plantech_tui.widgets.record_table import RecordTable

from .helpers import go_to_row, prepare_plan, screen_text, settle, staged_id, type_text, until

ACCOUNT_HEADER = "description,last4,balance,investment_type,owner,link,redtail_account_id\n"
STAGED_HEADER = ("description,company,last4,balance,redtail_type,state,ignore_reason,"
                 "redtail_account_id,redtail_contact_ids\n")


@pytest.fixture
def plan(db_path: Path, fake: FakeRedtailServer) -> dict[str, Any]:
    """The Addams plan after a pull; Fidelity (5001) linked to "Gomez 401(k)" and paused;
    morticia a client of it."""
    ids = asyncio.run(prepare_plan(db_path, fake))
    ws = Workspace.open(db_path, "advisor")
    ws.link_to_existing(ids["plan_id"], staged_id(ws, ids["plan_id"], 5001), ids["manual_id"])
    ws.pause(ids["plan_id"], ids["manual_id"])
    ws.add_user("morticia", "client", True, [ids["plan_id"]])
    ws.close()
    return ids


async def press(pilot: Pilot[None], *keys: str) -> None:
    for key in keys:
        await pilot.press(key)
        await settle(pilot)


def notices(app: PlantechApp) -> list[str]:
    return [n.message for n in app._notifications]


async def test_y_copies_the_cursor_row_of_investment_assets(
        db_path: Path, plan: dict[str, Any]) -> None:
    """An advisor on Investment Assets presses y to paste the account into an email: the
    clipboard holds that one row as CSV — description, last 4, balance, the Redtail id."""
    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot, "enter")
        assert isinstance(app.screen, PlanScreen)
        assert app.clipboard == ""
        await press(pilot, "y")
        assert app.clipboard == (ACCOUNT_HEADER
                                 + "Gomez 401(k),4401,250000.00,401(k),Client,paused,5001\n")
        assert "Copied 1 row" in notices(app)


async def test_y_copies_the_marked_rows_and_only_those_shown(
        db_path: Path, plan: dict[str, Any]) -> None:
    """An advisor marks two pending accounts and presses y: both rows, in table order, with
    their Redtail account and contact ids. With a filter hiding one marked row, only the row
    on screen is copied, and the notice says the other was left out."""
    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot, "enter", "P")
        screen = app.screen
        assert isinstance(screen, PlanIntegrationScreen)
        await go_to_row(pilot, "pending-table", "description", "Charles Schwab 1937")
        await press(pilot, "space", "space", "y")  # marks Schwab, then the next row
        assert app.clipboard == (
            STAGED_HEADER
            + "Charles Schwab 1937,Charles Schwab,1937,1250000.00,Brokerage,pending,,5002,"
              "101 102\n"
            + "Allianz Life 0356,Allianz Life,0356,184210.57,Indexed Annuity,pending,,5003,"
              "101\n")
        assert "Copied 2 rows" in notices(app)

        await pilot.press("slash")
        await type_text(pilot, "#pending-table-filter", "allianz")
        await press(pilot, "enter")
        table = screen.query_one("#pending-table", RecordTable)
        await until(pilot, lambda: table.row_count == 1, "the filter shows one row")
        await press(pilot, "y")
        assert app.clipboard == (
            STAGED_HEADER + "Allianz Life 0356,Allianz Life,0356,184210.57,Indexed Annuity,"
                            "pending,,5003,101\n")
        assert "Copied 1 row (1 marked row hidden by the filter not copied)" in notices(app)


async def test_a_client_copies_what_the_client_sees_and_formulas_stay_text(
        db_path: Path, plan: dict[str, Any]) -> None:
    """Morticia (a client) may copy too: the rows of her Investment Assets. A description a
    user typed as a spreadsheet formula is pasted as text ('=…), as the CSV export does."""
    ws = Workspace.open(db_path, "advisor")
    ws.add_account(plan["plan_id"], {"description": "=HYPERLINK(\"http://x\")",
                                     "investment_type": "Cash", "balance": "10"})
    ws.close()
    app = PlantechApp(db_path, "morticia")
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot, "enter")
        assert isinstance(app.screen, PlanScreen)
        await go_to_row(pilot, "accounts", "description", "HYPERLINK")
        await press(pilot, "y")
        assert app.clipboard == (ACCOUNT_HEADER
                                 + "\"'=HYPERLINK(\"\"http://x\"\")\",,10.00,Cash,Client,manual,\n")
        assert "Copied 1 row" in notices(app)


async def test_the_copy_key_is_in_the_footer_help_and_palette(
        db_path: Path, plan: dict[str, Any]) -> None:
    """A newcomer finds the copy key where the other keys are: footer, ? help, ctrl+p."""
    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot, "enter", "P")
        assert "y Copy" in screen_text(app)
        await press(pilot, "question_mark")
        assert isinstance(app.screen, HelpScreen)
        assert "Copy" in app.screen.text() and "  y  " in app.screen.text()
        await press(pilot, "escape", "ctrl+p")
        assert isinstance(app.screen, CommandPalette)
        options = app.screen.query_one(CommandList)
        titles = {str(options.get_option_at_index(i).prompt).split("\n")[0]
                  for i in range(options.option_count)}
        assert "Copy rows as CSV" in titles


async def test_y_on_the_integration_tab_and_the_pending_inbox(
        db_path: Path, plan: dict[str, Any]) -> None:
    """An advisor copies a linked contact (name, Redtail contact id) from the Integration
    tab, and a row of the Pending inbox with the plan it belongs to."""
    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot, "enter", "P", "1")
        screen = app.screen
        assert isinstance(screen, PlanIntegrationScreen) and screen.tab == "contacts"
        await go_to_row(pilot, "contacts-table", "name", "Morticia Addams")
        await press(pilot, "y")
        assert app.clipboard == ("name,redtail_contact_id,in_plan_as\n"
                                 "Morticia Addams,102,Co-client\n")
        await press(pilot, "escape", "escape")
        await press(pilot, "g")
        await pilot.press("i")  # the global menu's Pending inbox
        await until(pilot, lambda: type(app.screen).__name__ == "InboxScreen", "the inbox")
        await settle(pilot)
        await go_to_row(pilot, "inbox-table", "description", "Jackson National 2207")
        await press(pilot, "y")
        lines = app.clipboard.splitlines()
        assert lines[0] == "plan," + STAGED_HEADER.strip()
        assert len(lines) == 2 and lines[1].startswith(
            "Addams Family,Jackson National 2207,Jackson National,2207,305000.00,")
