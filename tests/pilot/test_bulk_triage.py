"""SPEC §4's keyboard bulk triage on the windowed Pending / Ignored panes: space, v range,
* (all in the filter), esc, the "12 marked, 3 hidden by the filter" count, the confirmation
above 25 rows, bulk Add to Plan leaving unknown balances and types to review pending, the
cursor moving on, and undo (u) restoring the exact stored state.

The plans come from `make_big_plan` (plain SQL, no Redtail needed): row i is "<company> <i as
4 digits>", company Fidelity, Vanguard, Charles Schwab, T. Rowe Price, Ally Bank, Chase or none
(i % 7), listed under Gomez (even i) or Morticia (odd i; both when i % 10 == 5), balance i×1.01
(unknown when i % 97 == 0), type to review when i % 6 == 5."""

from __future__ import annotations

import json
from pathlib import Path

from textual import events
from textual.pilot import Pilot
from textual.widgets import Select

from plantech_tui.app import PlantechApp
from plantech_tui.screens.dialogs import ConfirmModal
from plantech_tui.screens.plan import PlanScreen
from plantech_tui.screens.plan_integration import PlanIntegrationScreen
from plantech_tui.screens.staged_dialogs import BulkAddModal, IgnoreModal
from plantech_tui.service.workspace import Workspace
from plantech_tui.widgets.record_table import RecordTable, TableBody
from tests.helpers import audit_rows, make_big_plan, plan_state

from .helpers import screen_text, settle, type_text, until


async def open_pending(pilot: Pilot[None], tab: str = "2") -> PlanIntegrationScreen:
    """Plans → enter (the plan) → P (Pending Data) [→ 3 for Ignored Data]."""
    await settle(pilot)
    await pilot.press("enter")
    await settle(pilot)
    await pilot.press("P")
    await settle(pilot)
    if tab != "2":
        await pilot.press(tab)
        await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, PlanIntegrationScreen)
    return screen


def table(app: PlantechApp, tab: str = "pending") -> RecordTable:
    return app.screen.query_one(f"#{tab}-table", RecordTable)


async def set_filter(pilot: Pilot[None], tab: str, text: str) -> None:
    """/ opens the filter line; type; enter keeps the filter and goes back to the rows."""
    await pilot.press("slash")
    await type_text(pilot, f"#{tab}-table-filter", text)
    await pilot.press("enter")
    await pilot.pause()


def keys_of(first: int, *rows: int) -> set[str]:
    return {str(first + i) for i in rows}


def notes(app: PlantechApp) -> str:
    return " | ".join(f"{n.title}: {n.message}" for n in app._notifications)


async def test_marks_range_filter_and_mark_all(db_path: Path) -> None:
    ids = make_big_plan(db_path, 60)
    first = ids["first_staged_id"]
    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(120, 40)) as pilot:
        await open_pending(pilot)
        pending = table(app)
        assert pending.row_count == 60
        await pilot.press("space")  # marks row 0, moves to row 1
        assert "1 marked" in screen_text(app)
        assert pending.cursor_key == str(first + 1)
        await pilot.press("down", "down", "v")  # rows 0 (the last mark) to 3
        assert pending.marks == keys_of(first, 0, 1, 2, 3)
        assert "4 marked" in screen_text(app)

        # the filter hides three of them and keeps them marked
        await set_filter(pilot, "pending", "vanguard")
        assert pending.row_count == 9  # rows 1, 8, 15, ..., 57
        text = screen_text(app)
        assert "4 marked, 3 hidden by the filter" in text
        assert "filter “vanguard”: 9 rows" in text
        assert "Fidelity 0000" not in text and "Vanguard 0008" in text

        # * marks every row of the filter (not the others)
        await pilot.press("asterisk")
        assert pending.marks == keys_of(first, 0, 1, 2, 3, *range(8, 60, 7))
        assert "12 marked, 3 hidden by the filter" in screen_text(app)

        # esc in the filter line clears the filter: the marks are all there
        await pilot.press("slash", "escape")
        await pilot.pause()
        assert pending.row_count == 60
        text = screen_text(app)
        assert "12 marked" in text and "hidden" not in text and "Fidelity 0000" in text

        # ? lists the marking keys
        await pilot.press("question_mark")
        help_text = screen_text(app)
        for line in ("Mark range", "Mark all in the filter", "Undo", "Link to Suggested",
                     "Filter the table", "Back (or clear the marks)"):
            assert line in help_text
        await pilot.press("escape")

        # esc clears the marks; esc again goes back
        await pilot.press("escape")
        await pilot.pause()
        assert pending.marks == set() and "marked" not in screen_text(app)
        assert isinstance(app.screen, PlanIntegrationScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, PlanScreen)


async def test_bulk_ignore_above_the_threshold_then_undo_restores_everything(
        db_path: Path) -> None:
    ids = make_big_plan(db_path, 60)
    first = ids["first_staged_id"]
    ws = Workspace.open(db_path, "advisor")
    before = plan_state(ws)
    audited = len(audit_rows(ws))
    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(120, 40)) as pilot:
        await open_pending(pilot)
        pending = table(app)
        await set_filter(pilot, "pending", "gomez")  # a contact's name
        assert pending.row_count == 36  # even rows, and the six joint ones
        await pilot.press("asterisk")
        await pilot.press("slash", "escape")  # filter off: the cursor is on row 0, marked
        await pilot.pause()
        assert "36 marked" in screen_text(app)

        await pilot.press("i")
        assert isinstance(app.screen, IgnoreModal)
        text = screen_text(app)
        assert "Ignore 36 accounts?" in text and "Ignore 36 accounts" in text
        await type_text(pilot, "#field-reason", "held away")
        await pilot.press("enter")  # above 25 rows: enter only reaches the button
        await pilot.pause()
        assert isinstance(app.screen, IgnoreModal)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, PlanIntegrationScreen)
        assert ws.staged_counts(ids["plan_id"]) == {"pending": 24, "ignored": 36}
        text = screen_text(app)
        assert "Pending Data (24)" in text and "Ignored Data (36)" in text
        assert "marked" not in text
        assert pending.cursor_key == str(first + 1)  # the first row that stayed
        ignores = [r for r in audit_rows(ws)[audited:] if r["action"] == "ignore"]
        assert len(ignores) == 36  # one entry per row
        assert {json.loads(r["after"])["ignore_reason"] for r in ignores} == {"held away"}

        await pilot.press("u")
        await settle(pilot)
        assert "Undid ignore 36." in notes(app)
        assert "Pending Data (60)" in screen_text(app)
    assert plan_state(ws) == before
    assert audit_rows(ws)[-1]["action"] == "undo"
    ws.close()


async def test_bulk_add_leaves_unknown_balances_and_types_to_review_pending(
        db_path: Path) -> None:
    ids = make_big_plan(db_path, 30)
    first, plan_id = ids["first_staged_id"], ids["plan_id"]
    ws = Workspace.open(db_path, "advisor")
    before = plan_state(ws)
    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(120, 40)) as pilot:
        await open_pending(pilot)
        pending = table(app)
        await pilot.press("asterisk")
        await pilot.press("a")
        assert isinstance(app.screen, BulkAddModal)
        text = screen_text(app)
        assert "Add 24 accounts to the plan?" in text
        assert "6 will stay pending (and marked): 1 balance unknown; 5 type needs review" in text
        await pilot.press("enter")  # Add 24 (each row's own owner)
        await settle(pilot)
        left = keys_of(first, 0, 5, 11, 17, 23, 29)  # row 0: no balance; i % 6 == 5: review
        assert pending.marks == left
        assert set(pending.keys) == left
        text = screen_text(app)
        assert "6 marked" in text and "Pending Data (6)" in text
        assert "Left pending (still marked): 1 balance unknown; 5 type needs review" in \
            notes(app)
        accounts = {a.link.staged_id: a for a in ws.plan_detail(plan_id).accounts if a.link}
        assert len(accounts) == 24
        # type defaulted per row, owner from each row's contacts
        assert (accounts[first + 1].investment_type, accounts[first + 1].owner) == \
            ("Traditional IRA", "Co-client")
        assert (accounts[first + 2].investment_type, accounts[first + 2].owner) == \
            ("Roth IRA", "Client")
        assert accounts[first + 15].owner == "Joint"  # listed under both

        await pilot.press("u")
        await settle(pilot)
        assert plan_state(ws) == before

        # one owner for all
        await pilot.press("escape", "home", "space", "space")  # rows 0 and 1... row 0 is
        assert pending.marks == keys_of(first, 0, 1)  # the unknown balance: it stays
        await pilot.press("a")
        assert isinstance(app.screen, BulkAddModal)
        assert "Add 1 accounts to the plan" in screen_text(app)
        await pilot.click("#field-owner")
        await pilot.press("down", "down", "down", "enter")
        assert app.screen.query_one("#field-owner", Select).value == "Joint"
        await pilot.click("#ok")
        await settle(pilot)
        [added] = [a for a in ws.plan_detail(plan_id).accounts if a.link]
        assert (added.link.staged_id, added.owner) == (first + 1, "Joint")  # type: ignore[union-attr]
    ws.close()


async def test_the_confirmation_threshold_is_above_25_rows(db_path: Path) -> None:
    ids = make_big_plan(db_path, 0, ignored=26)
    plan_id = ids["plan_id"]
    ws = Workspace.open(db_path, "advisor")
    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(120, 40)) as pilot:
        await open_pending(pilot, "3")
        await pilot.press("asterisk", "I")  # 26 rows: asks first
        assert isinstance(app.screen, ConfirmModal)
        assert "Stop Ignoring 26 accounts?" in screen_text(app)
        await pilot.press("escape")
        await pilot.pause()
        assert ws.staged_counts(plan_id) == {"pending": 0, "ignored": 26}
        await pilot.press("space")  # unmark the cursor row: 25 left
        assert "25 marked" in screen_text(app)
        await pilot.press("I")  # 25: at once
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmModal)
        assert ws.staged_counts(plan_id) == {"pending": 25, "ignored": 1}
        # and Ignore of 25 takes the reason's enter as the go-ahead
        await pilot.press("2", "asterisk", "i")
        assert isinstance(app.screen, IgnoreModal)
        assert "Ignore 25 accounts?" not in screen_text(app)
        await pilot.press("enter")
        await settle(pilot)
        assert ws.staged_counts(plan_id) == {"pending": 0, "ignored": 26}
    ws.close()


async def test_undo_is_refused_when_another_session_changed_a_row(db_path: Path) -> None:
    ids = make_big_plan(db_path, 5)
    first, plan_id = ids["first_staged_id"], ids["plan_id"]
    ws = Workspace.open(db_path, "advisor")
    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(120, 40)) as pilot:
        await open_pending(pilot)
        await pilot.press("space", "space", "i", "enter")  # ignore rows 0 and 1
        await settle(pilot)
        assert ws.staged_counts(plan_id)["ignored"] == 2
        other = Workspace.open(db_path, "advisor")
        other.stop_ignoring(plan_id, [first + 1])
        other.close()
        app.check_external_changes()
        await pilot.pause()
        before = plan_state(ws)
        await pilot.press("u")
        await settle(pilot)
        assert "cannot undo ignore 2: '" in notes(app) and "' changed since" in notes(app)
        assert plan_state(ws) == before
    ws.close()


async def test_mouse_moves_the_cursor_and_the_header_sorts(db_path: Path) -> None:
    ids = make_big_plan(db_path, 10)
    first = ids["first_staged_id"]
    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(120, 40)) as pilot:
        await open_pending(pilot)
        pending = table(app)
        body = "#pending-table TableBody"
        await pilot.click(body, offset=(6, 4))  # the header, then rows 0, 1, 2, 3
        assert pending.cursor_key == str(first + 3)
        assert isinstance(app.screen, PlanIntegrationScreen)
        header = next(line for line in screen_text(app).splitlines()
                      if "Description" in line and "Balance" in line)
        x = header.index("Balance") - pending.body.region.x
        await pilot.click(body, offset=(x, 0))
        await pilot.pause()
        assert "Balance ▲" in screen_text(app)
        assert pending.keys[0] == str(first + 1)  # $1.01 first, the unknown balance last
        assert pending.keys[-1] == str(first)
        await pilot.click(body, offset=(x, 0))
        await pilot.pause()
        assert "Balance ▼" in screen_text(app)
        assert pending.keys[:2] == [str(first + 9), str(first + 8)]
        # a click on the highlighted row opens it (the pending pane: its description)
        await pilot.press("home")
        await pilot.click(body, offset=(6, 1))
        await pilot.pause()
        assert "Redtail account 1000009" in screen_text(app)


async def wheel(pilot: Pilot[None], body: TableBody, down: bool, turns: int) -> None:
    """Turn the mouse wheel over the table, as a terminal reports it (to the app, at a screen
    position: the app routes it to the widget under the pointer)."""
    region = body.content_region
    x, y = region.x + 5, region.y + 3
    kind = events.MouseScrollDown if down else events.MouseScrollUp
    for _ in range(turns):
        pilot.app.post_message(kind(None, x, y, 0, 1 if down else -1, 0, False, False, False,
                                    screen_x=x, screen_y=y))
        await pilot.pause()


async def test_the_mouse_wheel_keeps_the_cursor_on_a_row_in_view(db_path: Path) -> None:
    """Scrolling with the wheel moves the view, and the cursor comes along to the nearest row
    in view: the next key (here i, Ignore) acts on a row the user can see."""
    ids = make_big_plan(db_path, 200)
    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(120, 40)) as pilot:
        await open_pending(pilot)
        pending = table(app)
        body = pending.query_one(TableBody)
        assert pending.cursor_key == str(ids["first_staged_id"])

        def in_view() -> bool:
            top = int(body.scroll_y)
            index = pending.keys.index(pending.cursor_key or "")
            return top <= index < top + body.rows_in_view

        await wheel(pilot, body, down=True, turns=24)  # 2 lines a turn
        await until(pilot, lambda: body.scroll_y > body.rows_in_view, "the wheel scrolled down")
        await until(pilot, in_view, "the cursor is on a row in view")
        top_row = pending.keys[int(body.scroll_y)]
        assert pending.cursor_key == top_row  # the nearest row in view: the top one
        await pilot.press("i")
        await until(pilot, lambda: isinstance(app.screen, IgnoreModal), "the Ignore dialog")
        assert "Fidelity 0000" not in screen_text(app)  # row 0, scrolled away, is not the one
        await pilot.press("escape")
        await wheel(pilot, body, down=False, turns=40)
        await until(pilot, lambda: body.scroll_y == 0, "the wheel scrolled back to the top")
        await until(pilot, in_view, "the cursor is on a row in view")
        assert pending.cursor_key == pending.keys[body.rows_in_view - 1]  # the bottom one
