"""Plan Integration beyond the walkthrough: Link household, remove a link, edit a staged
description, bulk triage with marks and undo; Advisor Integration: remove an integration."""

from __future__ import annotations

from pathlib import Path

from plantech_tui.app import PlantechApp
from plantech_tui.partners.redtail.fake import FakeRedtailServer
from plantech_tui.screens.advisor_integration import AdvisorIntegrationScreen
from plantech_tui.screens.dialogs import ConfirmModal
from plantech_tui.screens.plan_integration import PlanIntegrationScreen
from plantech_tui.screens.staged_dialogs import EditDescriptionModal, IgnoreModal
from plantech_tui.service.workspace import Workspace
from tests.keyring_memory import MemoryKeyring

from .helpers import (
    choose_option,
    go_to_row,
    prepare_plan,
    screen_text,
    settle,
    type_text,
    until,
)


async def open_plan_integration(pilot, tab: str = "1") -> PlanIntegrationScreen:  # noqa: ANN001
    await settle(pilot)
    await pilot.press("enter", "m")
    await choose_option(pilot, "Plan Integration")
    await pilot.press(tab)
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, PlanIntegrationScreen)
    return screen


async def test_link_household_then_remove_a_link(db_path: Path,
                                                 fake: FakeRedtailServer) -> None:
    ids = await prepare_plan(db_path, fake, pull=False)
    ws = Workspace.open(db_path, "advisor")
    ws.unlink_contact(ids["plan_id"], ids["integration_id"], 102)  # only Gomez linked
    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(120, 40)) as pilot:
        await open_plan_integration(pilot)
        await settle(pilot)  # the automatic pull of the opened plan
        await go_to_row(pilot, "contacts-table", "name", "Gomez Addams")
        await pilot.press("h")
        await settle(pilot)
        linked = {c.redtail_contact_id for c in ws.contacts(ids["plan_id"])}
        assert linked == {101, 102, 103, 104}  # Gomez's Redtail family
        text = screen_text(app)
        assert "Wednesday Friday Addams" in text and "Integration (4)" in text
        await go_to_row(pilot, "contacts-table", "name", "Pugsley Addams")
        await pilot.press("d")
        assert isinstance(app.screen, ConfirmModal)
        assert "no longer updated (source unlinked)" in screen_text(app)
        await pilot.press("left", "enter")  # Cancel has the focus: ← to Remove link
        await settle(pilot)
        assert {c.redtail_contact_id for c in ws.contacts(ids["plan_id"])} == {101, 102, 103}
        assert "Pugsley Addams" not in screen_text(app)
    ws.close()


async def test_edit_description_and_bulk_ignore_with_undo(db_path: Path,
                                                          fake: FakeRedtailServer) -> None:
    ids = await prepare_plan(db_path, fake)
    plan_id = ids["plan_id"]
    ws = Workspace.open(db_path, "advisor")
    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(120, 40)) as pilot:
        await open_plan_integration(pilot, "2")
        # enter on a pending row: its details and the description to edit
        await go_to_row(pilot, "pending-table", "description", "Chase")
        await pilot.press("enter")
        assert isinstance(app.screen, EditDescriptionModal)
        assert "Redtail type: CD → Cash (defaulted from Redtail type CD)" in screen_text(app)
        await type_text(pilot, "#field-description", "Chase CD (Morticia's)")
        await pilot.press("enter")
        await settle(pilot)
        chase = next(s for s in ws.plan_detail(plan_id).pending if s.redtail_account_id == 5009)
        assert (chase.description, chase.description_edited) == ("Chase CD (Morticia's)", True)
        assert "Chase CD (Morticia's)" in screen_text(app)

        # space marks (and moves down); i ignores the marked rows in one step
        await go_to_row(pilot, "pending-table", "description", "Ally Bank 42")
        await pilot.press("space", "space")  # Ally Bank 42, HSA 0977
        assert "●" in screen_text(app)
        await pilot.press("i")
        assert isinstance(app.screen, IgnoreModal)
        assert "Ignore 2 accounts" in screen_text(app)
        await pilot.press(*"held away", "enter")
        await settle(pilot)
        ignored = {s.redtail_account_id: s.ignore_reason for s in ws.plan_detail(plan_id).ignored}
        assert ignored == {5006: "held away", 5007: "held away"}
        assert "Ignored Data (2)" in screen_text(app)
        assert "●" not in screen_text(app)  # marks cleared after the action

        # u undoes the last triage action of this session
        await pilot.press("u")
        await settle(pilot)
        assert ws.plan_detail(plan_id).ignored == ()
        assert "Ignored Data (0)" in screen_text(app)
    ws.close()


async def test_remove_an_integration_keeping_linked_accounts(db_path: Path,
                                                             fake: FakeRedtailServer) -> None:
    ids = await prepare_plan(db_path, fake)
    ws = Workspace.open(db_path, "advisor")
    plan_id = ids["plan_id"]
    fidelity = next(s.id for s in ws.plan_detail(plan_id).pending if s.redtail_account_id == 5001)
    ws.link_to_existing(plan_id, fidelity, ids["manual_id"])
    [integration] = ws.list_integrations()
    secret = ("plantech-tui", integration.secret_ref)
    assert secret in MemoryKeyring._store  # the API key and user key, in the keyring
    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("g")
        await choose_option(pilot, "Advisor Integration")
        assert isinstance(app.screen, AdvisorIntegrationScreen)
        await pilot.press("d")
        assert isinstance(app.screen, ConfirmModal)
        assert "Keep them as manual accounts" in screen_text(app)
        # Cancel has the focus: ← ← to the first choice, keep them as manual accounts
        await pilot.press("left", "left", "enter")
        await settle(pilot)
        assert ws.list_integrations() == []
        assert "No integrations yet" in screen_text(app)
        assert secret not in MemoryKeyring._store  # the keys went with it
    detail = ws.plan_detail(plan_id)
    kept = next(a for a in detail.accounts if a.id == ids["manual_id"])
    assert kept.link is None and detail.pending == ()
    ws.close()


async def test_the_hint_line_names_the_keys_of_the_tab_shown(db_path: Path,
                                                            fake: FakeRedtailServer) -> None:
    """Contacts are not marked and enter edits only a pending row's description: the line under
    the tabs says what works on the tab shown."""
    await prepare_plan(db_path, fake)
    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(120, 40)) as pilot:
        await open_plan_integration(pilot, "1")
        hint = "space mark · v range"
        await until(pilot, lambda: "/ filter · o sort · 1 2 3 tabs" in screen_text(app),
                    "the contacts tab's hint")
        assert hint not in screen_text(app) and "enter edit description" not in screen_text(app)
        await pilot.press("2")
        await until(pilot, lambda: "enter edit description" in screen_text(app),
                    "the pending tab's hint")
        assert hint in screen_text(app)
        await pilot.press("3")
        await until(pilot, lambda: "enter edit description" not in screen_text(app),
                    "the ignored tab's hint")
        assert hint in screen_text(app)
