"""Keys that cannot do harm by habit or by type-ahead: destructive and bulk confirmations
have Cancel focused (enter cancels), and esc in an editor with unsaved changes asks."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Button, Input

from plantech_tui.app import PlantechApp
from plantech_tui.partners.redtail.fake import FakeRedtailServer
from plantech_tui.screens.account_editor import AccountEditorScreen
from plantech_tui.screens.dialogs import ConfirmModal
from plantech_tui.screens.plan import PlanScreen
from plantech_tui.service.workspace import Workspace
from tests.helpers import make_big_plan

from .helpers import go_to_row, prepare_plan, screen_text, settle, staged_id, type_text


def focused_id(app: PlantechApp) -> str | None:
    return app.focused.id if isinstance(app.focused, Button) else None


async def test_delete_and_stop_default_to_cancel(db_path: Path, fake: FakeRedtailServer) -> None:
    """An advisor presses enter by habit (or a burst's ⏎ lands) on the Delete and the Stop
    confirmations of a linked account: Cancel has the focus, nothing is deleted or stopped;
    ← then enter does it."""
    ids = await prepare_plan(db_path, fake)
    plan_id, manual_id = ids["plan_id"], ids["manual_id"]
    ws = Workspace.open(db_path, "advisor")
    ws.link_to_existing(plan_id, staged_id(ws, plan_id, 5001), manual_id)
    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, PlanScreen)
        await go_to_row(pilot, "accounts", "description", "Gomez 401(k)")
        for key, title in (("d", "Delete Gomez 401(k)?"), ("s", "Stop the Redtail link")):
            await pilot.press(key)
            assert isinstance(app.screen, ConfirmModal)
            assert title in screen_text(app)
            assert focused_id(app) == "choice-cancel"
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, PlanScreen)
            account = ws.account(plan_id, manual_id)  # still there, still linked
            assert account.link is not None
        await pilot.press("s")
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("left")
        assert focused_id(app) == "choice-stop"
        await pilot.press("enter")
        await settle(pilot)
        assert ws.account(plan_id, manual_id).link is None
    ws.close()


async def test_bulk_confirmation_defaults_to_cancel(db_path: Path) -> None:
    """An advisor marks all 26 ignored rows and presses I, then enter by habit: the bulk
    Stop Ignoring asks with Cancel focused, so enter changes nothing."""
    ids = make_big_plan(db_path, 0, ignored=26)
    plan_id = ids["plan_id"]
    ws = Workspace.open(db_path, "advisor")
    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("P")
        await settle(pilot)
        await pilot.press("3", "asterisk", "I")
        assert isinstance(app.screen, ConfirmModal)
        assert "Stop Ignoring 26 accounts?" in screen_text(app)
        assert focused_id(app) == "choice-cancel"
        await pilot.press("enter")
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmModal)
        assert ws.staged_counts(plan_id) == {"pending": 0, "ignored": 26}
    ws.close()


async def test_esc_with_unsaved_changes_asks(db_path: Path, fake: FakeRedtailServer) -> None:
    """An advisor edits an account's description and presses esc (by habit, or the esc of a
    burst): the editor asks before dropping the change; enter keeps editing with the text
    intact; ← enter discards, and nothing was saved. Unchanged, esc leaves at once."""
    ids = await prepare_plan(db_path, fake, link=False)
    plan_id, manual_id = ids["plan_id"], ids["manual_id"]
    ws = Workspace.open(db_path, "advisor")
    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        await go_to_row(pilot, "accounts", "description", "Gomez 401(k)")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, AccountEditorScreen)
        await pilot.press("escape")  # nothing changed: leaves at once
        await settle(pilot)
        assert isinstance(app.screen, PlanScreen)
        await pilot.press("enter")
        await settle(pilot)
        editor = app.screen
        assert isinstance(editor, AccountEditorScreen)
        await type_text(pilot, "#field-description", "Gomez old 401(k)")
        await pilot.press("escape")
        assert isinstance(app.screen, ConfirmModal)
        assert "Discard your changes?" in screen_text(app)
        assert "description" in screen_text(app)
        assert focused_id(app) == "choice-cancel"
        await pilot.press("enter")  # Keep editing
        await settle(pilot)
        assert app.screen is editor
        assert editor.query_one("#field-description", Input).value == "Gomez old 401(k)"
        await pilot.press("escape")
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("left", "enter")  # Discard changes
        await settle(pilot)
        assert isinstance(app.screen, PlanScreen)
        assert ws.account(plan_id, manual_id).description == "Gomez 401(k)"
    ws.close()


async def test_esc_in_the_new_plan_dialog_with_a_name_typed_asks(db_path: Path) -> None:
    """An advisor types a new plan's name and presses esc by habit: the dialog asks; enter
    keeps the typed name; ← enter discards it and no plan is created. Empty, esc leaves."""
    from plantech_tui.screens.plan_form import PlanFormModal

    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("n")
        assert isinstance(app.screen, PlanFormModal)
        await pilot.press("escape")  # nothing typed: closes at once
        assert not isinstance(app.screen, PlanFormModal | ConfirmModal)
        await pilot.press("n")
        form = app.screen
        assert isinstance(form, PlanFormModal)
        await type_text(pilot, "#field-name", "Munster Family")
        await pilot.press("escape")
        assert isinstance(app.screen, ConfirmModal)
        assert "You changed: name." in screen_text(app)
        assert focused_id(app) == "choice-cancel"
        await pilot.press("enter")  # Keep editing
        assert app.screen is form
        assert form.query_one("#field-name", Input).value == "Munster Family"
        await pilot.press("escape", "left", "enter")  # Discard changes
        await settle(pilot)
        assert not isinstance(app.screen, PlanFormModal | ConfirmModal)
        ws = Workspace.open(db_path, "advisor")
        assert ws.list_plans() == []
        ws.close()
