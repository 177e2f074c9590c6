"""Issue 12 point 9 (edges), as the advisor meets them: whose account a pending row is, the
"in plan as" of a linked child, contact search focus, one notice per save."""

from __future__ import annotations

from pathlib import Path

from plantech_tui.app import PlantechApp
from plantech_tui.partners.redtail.fake import FakeRedtailServer
from plantech_tui.service.workspace import Workspace
from plantech_tui.widgets.record_table import RecordTable

from .helpers import prepare_plan, screen_text, settle, staged_id, type_text, until
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


async def _search_addams(pilot, app: PlantechApp) -> None:  # noqa: ANN001
    await open_plan_integration(pilot)
    await settle(pilot)
    await pilot.press("n")
    await settle(pilot)
    await type_text(pilot, "#field-last_name", "Addams")
    await pilot.press("enter")
    await settle(pilot)


async def test_contact_search_starts_on_a_selectable_row_and_tab_leaves_save(
        db_path: Path, fake: FakeRedtailServer) -> None:
    """An advisor at 80×24 searches "Addams" with Gomez and Morticia already linked: the
    cursor is on Wednesday (the first contact that can be selected), so space selects her at
    once; from Save, tab goes on to buttons they can see and back round to the form, and
    shift+tab goes back to the results."""
    from textual.widgets import Button, SelectionList

    await prepare_plan(db_path, fake, pull=False)
    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(80, 24)) as pilot:
        await _search_addams(pilot, app)
        results = app.screen.query_one("#results", SelectionList)
        assert app.focused is results
        assert results.highlighted is not None
        option = results.get_option_at_index(results.highlighted)
        assert not option.disabled and option.value == 103
        await pilot.press("space")
        assert list(results.selected) == [103]

        save = app.screen.query_one("#save", Button)
        save.focus()
        await pilot.pause()
        seen = []
        for _ in range(3):
            await pilot.press("tab")
            await pilot.pause()
            focused = app.focused
            assert focused is not None and focused is not save
            # the widget with the focus is on the screen, whole (not cut off at the right)
            region = focused.region
            assert region.width > 0 and region.right <= app.size.width, focused
            seen.append(focused.id)
        assert seen == ["household", "cancel", "field-integration"]
        save.focus()
        await pilot.pause()
        await pilot.press("shift+tab")
        await pilot.pause()
        assert app.focused is results


def _since(app: PlantechApp, before: int) -> list[str]:
    return [n.message for n in list(app._notifications)[before:]]


async def test_one_notice_per_save(db_path: Path, fake: FakeRedtailServer) -> None:
    """An advisor saves in each form and reads one notice for each save: Add to Plan through
    the account editor (it said "Added …" twice), linking contacts from the search, saving
    an account, and connecting Redtail from Add Integration."""
    from plantech_tui.screens.add_integration import AddIntegrationScreen
    from plantech_tui.screens.plans import PlansScreen
    from tests.pilot.helpers import (
        DEMO_API_KEY,
        DEMO_PASSWORD,
        DEMO_USERNAME,
        choose_option,
        go_to_row,
    )

    await prepare_plan(db_path, fake)
    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(120, 40)) as pilot:
        await open_plan_integration(pilot, "2")
        await settle(pilot)
        # Add to Plan: the choices, then the account editor, then Save
        await go_to_row(pilot, "pending-table", "description", "Ally Bank")
        await pilot.press("a")
        await settle(pilot)
        await pilot.press("ctrl+s")  # the Add to Plan choices: on to the editor
        await settle(pilot)
        before = len(app._notifications)
        await pilot.press("ctrl+s")  # the editor's Save
        await until(pilot, lambda: len(app._notifications) > before, "a notice")
        await settle(pilot)
        assert _since(app, before) == ["Added Ally Bank 42 to the plan, linked to Redtail."]

        # link a contact from the search
        await pilot.press("1", "n")
        await settle(pilot)
        await type_text(pilot, "#field-last_name", "Addams")
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("space")  # Wednesday (the first contact not linked yet)
        before = len(app._notifications)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: len(app._notifications) > before, "a notice")
        await settle(pilot)
        said = _since(app, before)
        assert len(said) == 1 and said[0].startswith("Linked Wednesday Friday Addams")

        # save an account in the editor (Investment Assets)
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("enter")  # the first account
        await settle(pilot)
        before = len(app._notifications)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: len(app._notifications) > before, "a notice")
        await settle(pilot)
        said = _since(app, before)
        assert len(said) == 1 and said[0].startswith("Saved "), said

        # connect Redtail again (Advisor Integration → Add Integration)
        while not isinstance(app.screen, PlansScreen):
            await pilot.press("escape")
            await settle(pilot)
        await pilot.press("g")
        await choose_option(pilot, "Advisor Integration")
        await pilot.press("n")
        assert isinstance(app.screen, AddIntegrationScreen)
        await pilot.click("#field-environment")
        await pilot.press("down", "down", "enter")
        await type_text(pilot, "#field-base_url", fake.base_url)
        await type_text(pilot, "#field-api_key", DEMO_API_KEY)
        await type_text(pilot, "#field-username", DEMO_USERNAME)
        await type_text(pilot, "#field-password", DEMO_PASSWORD)
        before = len(app._notifications)
        await pilot.click("#save")
        await until(pilot, lambda: len(app._notifications) > before, "a notice")
        await settle(pilot)
        said = _since(app, before)
        assert len(said) == 1 and said[0].startswith("Reconnected Redtail CRM"), said


async def test_link_household_does_not_make_the_children_clients(
        db_path: Path, fake: FakeRedtailServer) -> None:
    """An advisor links the Addams household from Add Integration: the Integration tab says
    Gomez is the Client, Morticia the Co-client, and Wednesday and Pugsley neither ("—"),
    not "In plan as: Client"."""
    ids = await prepare_plan(db_path, fake, pull=False)
    ws = Workspace.open(db_path, "advisor")
    ws.unlink_contact(ids["plan_id"], ids["integration_id"], 102)  # only Gomez linked
    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(120, 40)) as pilot:
        await _search_addams(pilot, app)
        await pilot.press("h")  # on Morticia (not linked yet): her household
        await settle(pilot)
        table = app.screen.query_one("#contacts-table", RecordTable)
        shown = {table.cell(k, "name"): table.cell(k, "party") for k in table.keys}
        assert shown == {"Gomez Addams": "Client", "Morticia Addams": "Co-client",
                         "Wednesday Friday Addams": "—", "Pugsley Addams": "—"}
    assert {c.name: c.party for c in ws.contacts(ids["plan_id"])}["Pugsley Addams"] == "other"
    ws.close()


async def test_audit_log_names_the_account(db_path: Path, fake: FakeRedtailServer) -> None:
    """An advisor reading the plan's audit log after ignoring the Ally Bank account sees
    "staged 'Ally Bank 42'" as what the entry is about, not "staged 7"."""
    from plantech_tui.screens.audit_log import AuditLogScreen

    from .helpers import choose_option

    ids = await prepare_plan(db_path, fake)
    ws = Workspace.open(db_path, "advisor")
    sid = staged_id(ws, ids["plan_id"], 5006)
    ws.ignore(ids["plan_id"], [sid], reason="held away")
    ws.close()
    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("enter", "m")
        await choose_option(pilot, "Audit log")
        assert isinstance(app.screen, AuditLogScreen)
        await settle(pilot)
        log = app.screen.query_one(RecordTable)
        newest = log.cells(log.keys[0])
        assert newest[2] == "ignore" and newest[3] == "staged 'Ally Bank 42'", newest
        assert f"staged {sid}" not in screen_text(app)
