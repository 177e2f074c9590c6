"""A second CRM is one module, in the TUI too (issue 11, must show): the in-memory partner of
tests/unit/test_partner_seam.py, registered only by its fixture, is chosen in Add Integration
(partner type, partner, then its own login fields), its contacts searched and linked in the
plan's Add Integration, and its accounts pulled by Refresh Integrations."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input, Select, SelectionList

from plantech_tui.app import PlantechApp
from plantech_tui.screens.add_integration import AddIntegrationScreen
from plantech_tui.screens.advisor_integration import AdvisorIntegrationScreen
from plantech_tui.screens.contact_search import ContactSearchScreen
from plantech_tui.screens.plan import PlanScreen
from plantech_tui.screens.plan_integration import PlanIntegrationScreen
from plantech_tui.screens.plans import PlansScreen
from plantech_tui.screens.refresh_report import RefreshReportScreen
from plantech_tui.service.workspace import Workspace
from tests.unit.test_partner_seam import (  # noqa: F401 - memo_partner is a fixture
    GOMEZ,
    PASSWORD,
    ROTH,
    memo_partner,
)

from .helpers import choose_option, screen_text, settle, type_text


@pytest.mark.usefixtures("memo_partner")
async def test_a_partner_registered_in_a_test_is_connected_searched_linked_and_pulled_in_the_tui(
        db_path: Path) -> None:
    """An advisor picks the new CRM in Add Integration: the form shows that partner's own
    login fields (no Redtail API key, no environment), then links a contact found by name and
    sees its account staged by Refresh Integrations, with the partner's type mapping."""
    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("g")
        await choose_option(pilot, "Advisor Integration")
        assert isinstance(app.screen, AdvisorIntegrationScreen)
        await pilot.press("n")
        assert isinstance(app.screen, AddIntegrationScreen)
        assert app.screen.query("#field-api_key")  # Redtail's form first
        await pilot.click("#field-partner")
        await pilot.press("down", "enter")  # Redtail CRM → Memo CRM
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, AddIntegrationScreen)
        assert screen.query_one("#field-partner", Select).value == "memo"
        assert not screen.query("#field-api_key") and not screen.query("#field-environment")
        assert "Server" in screen_text(app) and "User" in screen_text(app)
        await type_text(pilot, "#field-base_url", "memo://book")
        await type_text(pilot, "#field-username", "alice")
        await type_text(pilot, "#field-password", PASSWORD)
        assert PASSWORD not in screen_text(app)  # a secret field is masked
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, AdvisorIntegrationScreen)
        assert "Memo CRM" in screen_text(app)

        await pilot.press("escape")
        assert isinstance(app.screen, PlansScreen)
        await pilot.press("n")
        await type_text(pilot, "#field-name", "Addams Family")
        await type_text(pilot, "#field-client", "Gomez Addams")
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, PlanScreen)

        await pilot.press("m")
        await choose_option(pilot, "Plan Integration")
        assert isinstance(app.screen, PlanIntegrationScreen)
        await pilot.press("n")
        assert isinstance(app.screen, ContactSearchScreen)
        assert app.screen.query("#field-household")  # the partner's own criterion, too
        await type_text(pilot, "#field-name", "gomez")
        await pilot.press("enter")
        await settle(pilot)
        results = app.screen.query_one("#results", SelectionList)
        assert results.option_count == 1
        assert f"Gomez Addams (Memo CRM {GOMEZ})" in screen_text(app)
        await pilot.press("space")
        assert results.selected == [GOMEZ]
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, PlanIntegrationScreen)

        await pilot.press("r")
        await settle(pilot)
        assert isinstance(app.screen, RefreshReportScreen)
        assert "1 new" in screen_text(app)

    ws = Workspace.open(db_path, "advisor")
    try:
        [integration] = ws.list_integrations()
        assert integration.partner == "Memo CRM"
        [plan] = ws.list_plans()
        [contact] = ws.contacts(plan.plan.id)
        assert str(contact.redtail_contact_id) == GOMEZ
        [row] = ws.plan_detail(plan.plan.id).pending
        assert str(getattr(row, "source_account_id", row.redtail_account_id)) == ROTH
        assert (row.description, row.default_investment_type) == ("Memo Bank 7766", "Roth IRA")
    finally:
        ws.close()
    assert PASSWORD.encode() not in db_path.read_bytes()
    assert not [w for w in app.query(Input) if w.value == PASSWORD]
