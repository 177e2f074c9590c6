"""SPEC §1 in the TUI: for clients and professionals, Pause/Play/Stop, Plan Integration,
Advisor Integration, Pending/Ignored, triage and Refresh do not exist — no widget, no key
binding, no footer entry, no palette command — and calling them anyway changes nothing.
Expected results are written out here, not imported from the implementation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from textual.command import CommandList, CommandPalette
from textual.widgets import Button, Input, OptionList
from textual.widgets._footer import FooterKey

from plantech_tui.app import PlantechApp
from plantech_tui.partners.redtail.fake import FakeRedtailServer
from plantech_tui.screens.account_editor import AccountEditorScreen
from plantech_tui.screens.help import help_entries
from plantech_tui.screens.plan import PlanScreen
from plantech_tui.screens.plan_integration import PlanIntegrationScreen
from plantech_tui.screens.staged_dialogs import IgnoreModal
from plantech_tui.service.workspace import Workspace

from .helpers import go_to_row, prepare_plan, screen_text, settle, staged_id, type_text

# role → may add/edit/delete accounts (SPEC §1: "e" = only with can_edit)
USERS = {
    "morticia": ("client", True),
    "wednesday": ("client", False),
    "lurch": ("professional", False),
}
ADVISOR_ONLY_ACTIONS = {"pause", "play", "stop", "refresh", "plan_integration",
                        "advisor_integration", "ignore", "stop_ignoring", "link_existing",
                        "add_to_plan", "add_integration", "link_household", "remove_link",
                        "undo", "new_plan", "rename_plan", "delete_plan", "link_suggested",
                        "toggle_mark", "mark_range", "mark_all", "clear_marks", "audit_log",
                        "inbox", "refresh_all", "demo_move_balance", "demo_add_account",
                        "demo_remove_account", "user_audit"}
EDIT_ACTIONS = {"new_account", "delete_account", "save"}
ADVISOR_ONLY_TITLES = {"Ignore", "Stop Ignoring", "Link to Existing Item", "Add to Plan",
                       "Refresh Integrations", "Plan Integration", "Advisor Integration",
                       "Pause", "Play", "Stop", "Add Integration", "Link household", "Undo",
                       "New plan", "Delete plan", "Rename plan", "Link to Suggested", "Mark",
                       "Mark range", "Mark all", "Clear marks", "Audit log", "Pending inbox",
                       "Refresh all my plans", "Demo: move a balance", "Demo: add an account",
                       "Demo: remove an account", "User changes"}


async def shared_plan(db_path: Path, srv: FakeRedtailServer) -> dict[str, Any]:
    """The advisor's plan with an active linked "Gomez 401(k)", shared with three users."""
    ids = await prepare_plan(db_path, srv)
    ws = Workspace.open(db_path, "advisor")
    ws.link_to_existing(ids["plan_id"], staged_id(ws, ids["plan_id"], 5001), ids["manual_id"])
    for name, (role, can_edit) in USERS.items():
        ws.add_user(name, role, can_edit, [ids["plan_id"]])
    ws.close()
    return ids


def stored_state(db_path: Path, plan_id: int) -> str:
    ws = Workspace.open(db_path, "advisor")
    try:
        return json.dumps([ws.plan_detail(plan_id).as_json(), len(ws.audit_log(plan_id)),
                           [i.as_json() for i in ws.list_integrations()]], sort_keys=True)
    finally:
        ws.close()


def binding_actions(app: PlantechApp) -> set[str]:
    """Every key the screen offers this user, applying now or not (what `?` lists), and the
    active chain's actions and the footer's. (Refused keys stay declared on the class; the
    screen's check_action refuses them, so none of these shows them.)"""
    screen = app.screen
    bound = {spec.action for spec, _key in help_entries(screen)}
    active = {b.binding.action for b in app.active_bindings.values()}
    footer = {k.action for k in screen.query(FooterKey)}
    return bound | active | footer


async def palette_titles(pilot: Any) -> set[str]:
    app = pilot.app
    await pilot.press("ctrl+p")
    await settle(pilot)
    assert isinstance(app.screen, CommandPalette)
    options = app.screen.query_one(CommandList)
    titles = {str(options.get_option_at_index(i).prompt).split("\n")[0]
              for i in range(options.option_count)}
    await pilot.press("escape")
    await pilot.pause()
    return titles


async def menu_items(pilot: Any, key: str) -> list[str]:
    app = pilot.app
    await pilot.press(key)
    await pilot.pause()
    options = app.screen.query_one(OptionList)
    items = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
    await pilot.press("escape")
    await pilot.pause()
    return items


@pytest.mark.parametrize("user", list(USERS))
async def test_advisor_only_controls_do_not_exist(db_path: Path, fake: FakeRedtailServer,
                                                  user: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    ids = await shared_plan(db_path, fake)
    role, can_edit = USERS[user]
    before = stored_state(db_path, ids["plan_id"])
    app = PlantechApp(db_path, user, demo_admin_url=fake.admin_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert f"{user} ({role}" in screen_text(app)
        assert "Pending" not in screen_text(app)  # no Pending column on Plans
        assert not binding_actions(app) & ADVISOR_ONLY_ACTIONS
        assert await menu_items(pilot, "g") == ["Plans", "Help (?)", "Quit (ctrl+q)"]
        assert not await palette_titles(pilot) & ADVISOR_ONLY_TITLES
        # the Pending inbox, Refresh all and the presenter keys, called anyway: nothing
        for action in ("inbox", "refresh_all", "demo_move_balance", "demo_add_account",
                       "demo_remove_account"):
            assert await app.run_action(action) is False
        app.action_inbox()
        app.action_refresh_all()
        app.action_demo_move_balance()
        app.action_demo_add_account()
        await settle(pilot)
        assert (fake.state.demo_moves, fake.state.demo_adds) == (0, 0)
        assert len(app.screen_stack) == 1

        # ---- Investment Assets, cursor on the linked account
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, PlanScreen)
        await go_to_row(pilot, "accounts", "description", "Gomez 401(k)")
        text = screen_text(app)
        assert "🔗 Gomez 401(k)" in text  # everyone sees the link icon
        assert "Pending" not in text
        actions = binding_actions(app)
        assert not actions & ADVISOR_ONLY_ACTIONS
        assert bool(actions & {"new_account", "delete_account"}) is can_edit
        assert not await palette_titles(pilot) & ADVISOR_ONLY_TITLES
        assert await menu_items(pilot, "m") == [
            "Investment Assets", "Export CSV (e)", "Back to Plans"]
        await pilot.press("question_mark")
        await pilot.pause()
        help_text = screen_text(app)
        for word in ("Pause", "Play", "Stop", "Refresh", "Ignore"):
            assert word not in help_text
        await pilot.press("escape")

        # ---- the account editor of the linked account
        await pilot.press("enter")
        await pilot.pause()
        editor = app.screen
        assert isinstance(editor, AccountEditorScreen)
        assert not editor.query("#pause-play") and not editor.query("#stop")
        assert bool(editor.query("#save")) is can_edit
        assert bool(editor.query("#delete")) is can_edit
        text = screen_text(app)
        assert "Redtail CRM" in text and "Last updated:" in text
        assert "The balance comes from Redtail while the account is linked." in text
        assert "Pause" not in text and "Stop" not in text
        assert editor.query_one("#field-balance", Input).disabled
        assert editor.query_one("#field-description", Input).disabled is not can_edit
        assert not binding_actions(app) & ADVISOR_ONLY_ACTIONS
        assert not await palette_titles(pilot) & ADVISOR_ONLY_TITLES

        # ---- calling them anyway: refused, nothing changes
        for action in ("pause", "play", "stop"):
            assert await app.run_action(action, editor) is False
        editor.action_pause()
        editor.action_stop()
        if not can_edit:
            editor.action_save()
            editor.action_delete_account()
        await pilot.pause()
        assert "may not use" in " ".join(n.message for n in app._notifications)
        await pilot.press("escape")
        plan_screen = app.screen
        assert isinstance(plan_screen, PlanScreen)
        for action in ("pause", "play", "stop", "refresh", "plan_integration"):
            assert await app.run_action(action, plan_screen) is False
        assert await app.run_action("advisor_integration") is False
        plan_screen.action_pause()
        plan_screen.action_play()
        plan_screen.action_plan_integration()
        plan_screen.action_refresh()
        assert app.start_refresh(ids["plan_id"]) is False
        if not can_edit:
            plan_screen.action_new_account()
        await settle(pilot)
        assert not any(isinstance(s, PlanIntegrationScreen) for s in app.screen_stack)
        assert not app.query("#pending-table") and not app.screen.query(Button)
    assert stored_state(db_path, ids["plan_id"]) == before


async def test_a_client_with_edit_rights_adds_edits_and_deletes_accounts(
        db_path: Path, fake: FakeRedtailServer) -> None:
    ids = await shared_plan(db_path, fake)
    app = PlantechApp(db_path, "morticia")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("enter", "n")
        assert isinstance(app.screen, AccountEditorScreen)
        await type_text(pilot, "#field-description", "Wednesday 529")
        await pilot.click("#field-investment_type")
        await pilot.press(*"529", "enter")
        await type_text(pilot, "#field-balance", "12500")
        await pilot.press("ctrl+s")
        await settle(pilot)
        ws = Workspace.open(db_path, "advisor")
        added = next(a for a in ws.plan_detail(ids["plan_id"]).accounts
                     if a.description == "Wednesday 529")
        assert (added.investment_type, str(added.balance)) == ("529 Plan", "12500.00")
        # edit the linked account's notes (not its balance)
        await go_to_row(pilot, "accounts", "description", "Gomez 401(k)")
        await pilot.press("enter")
        await type_text(pilot, "#field-notes", "old employer plan")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert ws.account(ids["plan_id"], ids["manual_id"]).notes == "old employer plan"
        # deleting the linked account breaks the link; its Redtail account is pending again
        await go_to_row(pilot, "accounts", "description", "Gomez 401(k)")
        await pilot.press("d")
        await pilot.pause()
        await pilot.press("left", "enter")  # Cancel has the focus: ← to Delete
        await settle(pilot)
        assert all(a.id != ids["manual_id"] for a in ws.plan_detail(ids["plan_id"]).accounts)
        assert 5001 in {s.redtail_account_id for s in ws.plan_detail(ids["plan_id"]).pending}
        ws.close()


async def test_the_advisor_has_them_all_and_the_palette_runs_them(
        db_path: Path, fake: FakeRedtailServer) -> None:
    """The positive control of the test above: same plan, same screens, as the advisor."""
    await shared_plan(db_path, fake)
    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert await menu_items(pilot, "g") == [  # no presenter keys outside `plantech demo`
            "Plans", "Advisor Integration", "Pending inbox (i)", "Refresh all my plans (R)",
            "User changes (u)", "Help (?)", "Quit (ctrl+q)"]
        assert {"New plan", "Advisor Integration", "Pending inbox",
                "Refresh all my plans"} <= await palette_titles(pilot)
        await pilot.press("enter")
        await settle(pilot)
        await go_to_row(pilot, "accounts", "description", "Gomez 401(k)")
        assert {"pause", "stop", "refresh", "new_account", "delete_account"} <= \
            binding_actions(app)
        assert {"Pause", "Stop", "Refresh Integrations", "Plan Integration",
                "Advisor Integration"} <= await palette_titles(pilot)
        assert "Play" not in await palette_titles(pilot)  # active: Pause, not Play
        assert await menu_items(pilot, "m") == [
            "Investment Assets", "Plan Integration", "Audit log", "Refresh Integrations (r)",
            "Export CSV (e)", "Back to Plans"]
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen.query("#pause-play") and app.screen.query("#stop")
        await pilot.press("escape")
        # the palette, by the seed's names: "Plan Integration", then "Ignore"
        await pilot.press("ctrl+p")
        await pilot.press(*"Plan Integration")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, PlanIntegrationScreen)
        assert {"Ignore", "Stop Ignoring", "Link to Existing Item", "Add to Plan",
                "Refresh Integrations"} <= await palette_titles(pilot)
        await pilot.press("ctrl+p")
        await pilot.press(*"Ignore")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, IgnoreModal)  # switched to Pending Data and asked
