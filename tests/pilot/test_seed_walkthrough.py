"""The seed article, screen for screen, as an advisor, against the fake Redtail over loopback
HTTP. After every step the STORED state is read through a second Workspace on the same file,
and the screen is checked for what the advisor would see."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from textual.widgets import Input, Select, SelectionList

from plantech_tui.app import PlantechApp
from plantech_tui.domain.models import LinkState
from plantech_tui.partners.redtail.fake import FakeRedtailServer
from plantech_tui.screens.account_editor import AccountEditorScreen
from plantech_tui.screens.add_integration import AddIntegrationScreen
from plantech_tui.screens.advisor_integration import AdvisorIntegrationScreen
from plantech_tui.screens.contact_search import ContactSearchScreen
from plantech_tui.screens.dialogs import ConfirmModal, MenuModal
from plantech_tui.screens.plan import PlanScreen
from plantech_tui.screens.plan_integration import PlanIntegrationScreen
from plantech_tui.screens.plans import PlansScreen
from plantech_tui.screens.refresh_report import RefreshReportScreen
from plantech_tui.screens.staged_dialogs import AddToPlanModal, IgnoreModal, LinkExistingModal
from plantech_tui.service.workspace import Workspace
from plantech_tui.widgets.record_table import RecordTable

from .helpers import (
    DEMO_API_KEY,
    DEMO_PASSWORD,
    DEMO_USERNAME,
    choose_option,
    go_to_row,
    screen_text,
    settle,
    type_text,
)


def stored(db_path: Path) -> Workspace:
    return Workspace.open(db_path, "advisor")


def pending_ids(ws: Workspace, plan_id: int) -> dict[int, int]:
    """Redtail account id → staged id of the plan's pending rows."""
    return {s.redtail_account_id: s.id for s in ws.plan_detail(plan_id).pending}


def account_named(ws: Workspace, plan_id: int, description: str):  # noqa: ANN201
    return next((a for a in ws.plan_detail(plan_id).accounts if a.description == description),
                None)


async def test_seed_article_end_to_end(db_path: Path, fake: FakeRedtailServer,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANTECH_REDTAIL_API_KEY", DEMO_API_KEY)  # "prefilled from config"
    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, PlansScreen)
        assert "No plans yet — press n" in screen_text(app)
        assert "advisor (advisor, can edit)" in screen_text(app)

        # ---- Global menu (the ⋮ in the header, clicked) → Advisor Integration
        await pilot.click("#global-menu-button")
        assert isinstance(app.screen, MenuModal)
        await choose_option(pilot, "Advisor Integration")
        assert isinstance(app.screen, AdvisorIntegrationScreen)
        assert "No integrations yet" in screen_text(app)

        # ---- Add Integration: partner type, partner, environment, key, login → Save
        await pilot.press("n")
        assert isinstance(app.screen, AddIntegrationScreen)
        text = screen_text(app)
        assert "Redtail locks a login after three failed attempts" in text
        assert "CRM" in text and "Redtail CRM" in text
        assert app.screen.query_one("#field-api_key", Input).value == DEMO_API_KEY
        assert DEMO_API_KEY not in text  # the key is masked on screen
        await pilot.click("#field-environment")
        await pilot.press("down", "down", "enter")  # Production → Sandbox → Custom URL
        await pilot.pause()
        assert app.screen.query_one("#field-environment", Select).value == "Custom"
        await type_text(pilot, "#field-base_url", fake.base_url)
        await type_text(pilot, "#field-username", DEMO_USERNAME)
        await type_text(pilot, "#field-password", DEMO_PASSWORD)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, AdvisorIntegrationScreen)
        assert "connected" in screen_text(app)
        ws = stored(db_path)
        [integ] = ws.list_integrations()
        assert (integ.base_url, integ.username, integ.status) == (
            fake.base_url, DEMO_USERNAME, "connected")
        assert integ.environment == "Custom"
        assert DEMO_PASSWORD.encode() not in db_path.read_bytes()

        # ---- Plans: create the plan (n) and launch it
        await pilot.press("escape")
        assert isinstance(app.screen, PlansScreen)
        await pilot.press("n")
        await type_text(pilot, "#field-name", "Addams Family")
        await type_text(pilot, "#field-client", "Gomez Addams")
        await type_text(pilot, "#field-co_client", "Morticia Addams")
        await pilot.press("enter")
        await settle(pilot)
        [summary] = ws.list_plans()
        plan_id = summary.plan.id
        assert (summary.plan.name, summary.plan.clients) == (
            "Addams Family", ["Gomez Addams", "Morticia Addams"])
        assert "Addams Family" in screen_text(app)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, PlanScreen)
        assert "No accounts yet" in screen_text(app)

        # ---- a manual "Gomez 401(k)" through the account editor
        await pilot.press("n")
        assert isinstance(app.screen, AccountEditorScreen)
        await type_text(pilot, "#field-description", "Gomez 401(k)")
        await pilot.click("#field-investment_type")
        await pilot.press("4", "0", "1", "enter")  # type to search in the open list
        await pilot.pause()
        assert app.screen.query_one("#field-investment_type", Select).value == "401(k)"
        await type_text(pilot, "#field-balance", "240,000")
        await type_text(pilot, "#field-number_last4", "4401")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, PlanScreen)
        manual = account_named(ws, plan_id, "Gomez 401(k)")
        assert manual is not None and manual.link is None
        assert (manual.investment_type, manual.owner, manual.balance) == (
            "401(k)", "Client", Decimal("240000.00"))
        assert "$240,000.00" in screen_text(app) and "manual" in screen_text(app)

        # ---- Plan menu (m) → Plan Integration: the Integration table is blank
        await pilot.press("m")
        await choose_option(pilot, "Plan Integration")
        assert isinstance(app.screen, PlanIntegrationScreen)
        assert "No linked Redtail contacts yet" in screen_text(app)

        # ---- Add Integration: search, select Gomez and Morticia, Save
        await pilot.press("n")
        assert isinstance(app.screen, ContactSearchScreen)
        await type_text(pilot, "#field-last_name", "Addams")
        await pilot.press("enter")
        await settle(pilot)
        results = app.screen.query_one("#results", SelectionList)
        assert results.option_count == 5  # Gomez, Morticia, Wednesday, Pugsley, Fester
        assert "Gomez Addams (Redtail 101)" in screen_text(app)
        await pilot.press("space", "down", "space")  # select Gomez, then Morticia
        assert results.selected == [101, 102]
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, PlanIntegrationScreen)
        contacts = ws.contacts(plan_id)
        assert [(c.redtail_contact_id, c.party) for c in contacts] == [
            (101, "client"), (102, "co_client")]
        text = screen_text(app)
        assert "Gomez Addams" in text and "Morticia Addams" in text
        # what comes next, as the article says: the next launch pulls, or Refresh at once
        assert any("Linked Gomez Addams, Morticia Addams to the plan. Refresh Integrations (r)"
                   in str(n.message) for n in app._notifications)

        # ---- Refresh Integrations → the refresh report; accounts staged as Pending
        await pilot.press("r")
        await settle(pilot)
        assert isinstance(app.screen, RefreshReportScreen)
        text = screen_text(app)
        assert "11 new" in text
        assert "Whole Life (Redtail 5004)" in text  # skipped by type
        assert "Balance unknown: 1" in text
        pending = pending_ids(ws, plan_id)
        assert len(pending) == 11
        await pilot.press("escape")
        await pilot.press("2")  # the Pending Data tab
        await pilot.pause()
        assert "Pending Data (11)" in screen_text(app)
        assert "Fidelity 4401" in screen_text(app)  # company + last 4

        # ---- Ignore (with a reason) → Ignored Data
        await go_to_row(pilot, "pending-table", "description", "Chase")
        await pilot.press("i")
        assert isinstance(app.screen, IgnoreModal)
        await pilot.press(*"closed at maturity", "enter")
        await settle(pilot)
        [ignored] = ws.plan_detail(plan_id).ignored
        assert (ignored.redtail_account_id, ignored.ignore_reason) == (5009, "closed at maturity")
        assert ignored.id == pending[5009]
        assert "Ignored Data (1)" in screen_text(app)
        assert "Chase" not in screen_text(app)

        # ---- Stop Ignoring → back in Pending
        await pilot.press("3")
        await pilot.pause()
        assert "closed at maturity" in screen_text(app)
        await pilot.press("I")
        await settle(pilot)
        assert ws.plan_detail(plan_id).ignored == ()
        assert pending_ids(ws, plan_id)[5009] == pending[5009]
        assert "Ignored Data (0)" in screen_text(app)

        # ---- Link to Existing Item: the suggested "Gomez 401(k)" is listed first
        await pilot.press("2")
        await go_to_row(pilot, "pending-table", "description", "Fidelity 4401")
        assert "looks like Gomez" in screen_text(app)  # cut at 120 columns beside Contact
        table_ = app.screen.query_one("#pending-table", RecordTable)
        assert "looks like Gomez 401(k)" in table_.cell(table_.cursor_key or "", "flags")
        await pilot.press("l")
        assert isinstance(app.screen, LinkExistingModal)
        assert "suggested · Gomez 401(k)" in screen_text(app)
        await pilot.press("enter")
        await settle(pilot)
        linked = ws.account(plan_id, manual.id)
        assert linked.link is not None and linked.link.redtail_account_id == 5001
        assert linked.link.state is LinkState.ACTIVE
        assert linked.balance == Decimal("250000.00")  # only the balance came over
        assert (linked.description, linked.owner) == ("Gomez 401(k)", "Client")
        assert 5001 not in pending_ids(ws, plan_id)
        assert "Fidelity 4401" not in screen_text(app)

        # ---- Add to Plan: type defaulted (and says from what) → Continue → editor → Save
        await go_to_row(pilot, "pending-table", "description", "Vanguard 0045")
        await pilot.press("a")
        assert isinstance(app.screen, AddToPlanModal)
        text = screen_text(app)
        assert "defaulted from Redtail type Rollover IRA" in text
        assert app.screen.query_one("#field-investment_type", Select).value == "Traditional IRA"
        await pilot.press("enter")  # Continue
        await pilot.pause()
        assert isinstance(app.screen, AccountEditorScreen)
        text = screen_text(app)
        assert "Add to Plan — from Redtail: Vanguard 0045" in text
        assert app.screen.query_one("#field-owner", Select).value == "Co-client"  # Morticia's
        assert app.screen.query_one("#field-balance", Input).disabled
        await type_text(pilot, "#field-notes", "rollover from the old job")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, PlanIntegrationScreen)
        added = account_named(ws, plan_id, "Vanguard 0045")
        assert added is not None and added.link is not None
        assert (added.investment_type, added.owner, added.balance, added.notes) == (
            "Traditional IRA", "Co-client", Decimal("412337.19"), "rollover from the old job")
        assert added.link.redtail_account_id == 5011
        assert "Vanguard 0045" not in screen_text(app)

        # ---- Investment Assets: link icons, totals; the linked editor
        await pilot.press("m")
        await choose_option(pilot, "Investment Assets")
        assert isinstance(app.screen, PlanScreen)
        text = screen_text(app)
        assert "🔗 Gomez 401(k)" in text and "🔗 Vanguard 0045" in text
        assert "Linked $662,337.19" in text
        await go_to_row(pilot, "accounts", "description", "Gomez 401(k)")
        await pilot.press("enter")
        assert isinstance(app.screen, AccountEditorScreen)
        text = screen_text(app)
        assert "Redtail CRM" in text and "Last updated:" in text
        assert "Redtail updated_at: 2023-04-27 19:56 UTC" in text
        assert "Pause or Stop the link" in text
        assert app.screen.query_one("#field-balance", Input).disabled

        # ---- Pause (the editor's button) → Play (key p on Investment Assets)
        await pilot.click("#pause-play")
        await settle(pilot)
        assert ws.account(plan_id, manual.id).link.state is LinkState.PAUSED
        assert not app.screen.query_one("#field-balance", Input).disabled
        assert "Play (p)" in screen_text(app)
        await pilot.press("escape")
        assert isinstance(app.screen, PlanScreen)
        assert "⏸ paused" in screen_text(app)
        await pilot.press("p")
        await settle(pilot)
        assert ws.account(plan_id, manual.id).link.state is LinkState.ACTIVE
        assert "⏸ paused" not in screen_text(app)

        # ---- Stop (confirm) → manual again; the same staged row back in Pending
        await pilot.press("s")
        assert isinstance(app.screen, ConfirmModal)
        assert "returns to Pending Data" in screen_text(app)
        await pilot.press("left", "enter")  # Cancel has the focus: ← to Stop
        await settle(pilot)
        stopped = ws.account(plan_id, manual.id)
        assert stopped.link is None and stopped.balance == Decimal("250000.00")
        assert pending_ids(ws, plan_id)[5001] == pending[5001]
        assert "🔗 Gomez 401(k)" not in screen_text(app)

        # ---- Delete a linked account (confirm) → its Redtail account back to Pending
        await go_to_row(pilot, "accounts", "description", "Vanguard 0045")
        await pilot.press("d")
        assert isinstance(app.screen, ConfirmModal)
        assert "returns to Pending Data" in screen_text(app)
        await pilot.press("left", "enter")  # Cancel has the focus: ← to Delete
        await settle(pilot)
        assert account_named(ws, plan_id, "Vanguard 0045") is None
        assert pending_ids(ws, plan_id)[5011] == pending[5011]
        assert "Vanguard 0045" not in screen_text(app)
        actions_logged = [e.action for e in ws.audit_log(plan_id)]
        for action in ("link contact", "ignore", "stop ignoring", "link to existing item",
                       "add to plan", "account pause", "account play", "account stop",
                       "account delete"):
            assert action in actions_logged
        ws.close()
