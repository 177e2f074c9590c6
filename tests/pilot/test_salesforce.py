"""Salesforce in the TUI (issue 13): Add Integration runs the device flow (the code shown
large, esc cancels), the plan's Add Integration searches Salesforce clients and links them,
Refresh pulls them; labels name the partner; Remove revokes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Select, SelectionList, Static

from plantech_tui.app import PlantechApp
from plantech_tui.partners.salesforce import fake
from plantech_tui.screens.add_integration import AddIntegrationScreen
from plantech_tui.screens.advisor_integration import AdvisorIntegrationScreen
from plantech_tui.screens.contact_search import ContactSearchScreen
from plantech_tui.screens.device_code import DeviceCodeModal
from plantech_tui.screens.plan_integration import PlanIntegrationScreen
from plantech_tui.screens.refresh_report import RefreshReportScreen
from plantech_tui.service.workspace import Workspace

from .helpers import choose_option, screen_text, settle, type_text, until

PARTNER = "Salesforce Financial Services Cloud"


@pytest.fixture
def salesforce() -> Iterator[Any]:
    with fake.FakeSalesforceServer(fake.load_demo_data(), device_interval=0) as srv:
        yield srv


async def _open_add_integration(pilot: Any, app: PlantechApp, server: Any) -> None:
    await settle(pilot)
    await pilot.press("g")
    await choose_option(pilot, "Advisor Integration")
    await pilot.press("n")
    await until(pilot, lambda: isinstance(app.screen, AddIntegrationScreen), "the form")
    await pilot.click("#field-partner")
    await pilot.press("down", "enter")  # Redtail CRM → Salesforce
    await until(pilot, lambda: app.screen.query("#field-client_id"), "Salesforce's fields")
    screen = app.screen
    assert screen.query_one("#field-partner", Select).value == "salesforce-fsc"
    assert not screen.query("#field-password") and not screen.query("#field-api_key")
    await pilot.click("#field-environment")
    await pilot.press("down", "down", "enter")  # Production → Sandbox → Custom URL
    await until(pilot, lambda: screen.query_one("#row-base_url").display, "the URL field")
    await type_text(pilot, "#field-login_url", server.login_url)
    await type_text(pilot, "#field-client_id", server.client_id)


async def test_add_integration_shows_the_code_and_connects_once_approved(
        db_path: Path, salesforce: Any) -> None:
    """Advisor over SSH: Save opens a dialog with the verification URL and the code in large
    letters; approving it (in a browser elsewhere: here the fake's admin call) closes the
    dialog and the form; Advisor Integration lists the Salesforce integration."""
    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(120, 40)) as pilot:
        await _open_add_integration(pilot, app, salesforce)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, DeviceCodeModal), "the code dialog")
        [code] = salesforce.state.pending()
        dialog = app.screen
        big = str(dialog.query_one("#device-code", Static).render())
        assert big.replace(" ", "") == code  # spaced out for reading, the same code
        assert f"{salesforce.login_url}/setup/connect" in screen_text(app)
        await pilot.press("y")  # copy it: the OSC 52 clipboard, and a notice
        await until(pilot, lambda: any(code in n.message for n in app._notifications),
                    "the copy notice")
        salesforce.state.approve()
        await until(pilot, lambda: isinstance(app.screen, AdvisorIntegrationScreen),
                    "the dialog and the form close")
        await until(pilot, lambda: "Salesforce Financial" in screen_text(app), "the new row")
        assert fake.DEMO_USERNAME in screen_text(app)
        # the org's own account types, read at connect time: the one the mapping lacks
        await until(pilot, lambda: any("Family Office Sweep" in n.message
                                       for n in app._notifications), "the type notice")


async def test_esc_cancels_the_login_and_keeps_the_form(db_path: Path,
                                                        salesforce: Any) -> None:
    """The advisor changes their mind while the code shows: esc closes the dialog, the login
    stops (no integration is made even if the code is approved afterwards), and the form
    keeps what was typed."""
    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(120, 40)) as pilot:
        await _open_add_integration(pilot, app, salesforce)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, DeviceCodeModal), "the code dialog")
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, AddIntegrationScreen), "the form")
        await until(pilot, lambda: "Login cancelled" in screen_text(app), "says cancelled")
        salesforce.state.approve()
        await settle(pilot)
        assert app.screen.query_one("#field-client_id").value == salesforce.client_id  # type: ignore[attr-defined]
    ws = Workspace.open(db_path, "advisor")
    try:
        assert ws.list_integrations() == []
    finally:
        ws.close()


async def test_link_a_salesforce_client_and_pull_and_remove_revokes(
        db_path: Path, salesforce: Any) -> None:
    """In a plan, Add Integration searches Salesforce ("munster"), links Lily, Refresh pulls
    her accounts (the held-away 401(k) marked in Notes); the screens say "Salesforce". Then
    Remove Integration revokes the login at Salesforce."""
    from plantech_tui.service.connections import connect_integration

    ws = Workspace.open(db_path, "advisor")
    await connect_integration(ws, partner="salesforce-fsc", login_url=salesforce.login_url,
                              client_id=salesforce.client_id,
                              prompt=lambda _c: salesforce.state.approve())
    plan = ws.create_plan("Munster Family", ["Herman Munster", "Lily Munster"])
    ws.close()
    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        app.push_screen(PlanIntegrationScreen(plan.id))
        await until(pilot, lambda: isinstance(app.screen, PlanIntegrationScreen), "opens")
        await until(pilot, lambda: "Salesforce contact" in screen_text(app), "partner named")
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, ContactSearchScreen), "search")
        await type_text(pilot, "#field-name", "munster")
        await pilot.press("enter")
        results = app.screen.query_one("#results", SelectionList)
        await until(pilot, lambda: results.option_count == 2, "two Munsters")
        assert "Lily Munster (Salesforce" in screen_text(app)
        await pilot.press("down", "space")
        await until(pilot, lambda: len(results.selected) == 1, "Lily marked")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, PlanIntegrationScreen), "back")
        await until(pilot, lambda: "Integration (1)" in screen_text(app), "linked")
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, RefreshReportScreen), "report")
        await until(pilot, lambda: "Errors (0)" in screen_text(app), "the report body")
        report = screen_text(app)
        assert "Salesforce type Roth IRA" in report
        await pilot.press("escape")
        await until(pilot, lambda: "Pending Data (" in screen_text(app), "pending tab")
        await pilot.press("2")
        await until(pilot, lambda: "Acme Corp 401(k)" in screen_text(app), "pending rows")
        assert "held away" in screen_text(app)  # the Notes column

        # Remove Integration (Advisor Integration → d → keep accounts)
        await pilot.press("g")
        await choose_option(pilot, "Advisor Integration")
        await until(pilot, lambda: "Salesforce Financial" in screen_text(app), "listed")
        [refresh] = list(salesforce.state.refresh)
        await pilot.press("d")
        await until(pilot, lambda: f"Remove {PARTNER} integration" in screen_text(app),
                    "asks first")
        await pilot.press("left", "left", "enter")  # Cancel has the focus: ← Delete ← Keep
        await until(pilot, lambda: refresh not in salesforce.state.refresh,
                    "revoked at Salesforce")
        await until(pilot, lambda: "No integrations yet" in screen_text(app), "removed")


async def test_reconnect_remembers_the_login_url_and_client_id(db_path: Path,
                                                               salesforce: Any) -> None:
    """A Salesforce integration says "reconnect needed": Reconnect opens the form with the
    login URL and client id the stored login remembers (only the approval is new), and the
    new login re-keys the same integration."""
    from plantech_tui.service.connections import connect_integration

    ws = Workspace.open(db_path, "advisor")
    first, _ = await connect_integration(ws, partner="salesforce-fsc",
                                         login_url=salesforce.login_url,
                                         client_id=salesforce.client_id,
                                         prompt=lambda _c: salesforce.state.approve())
    ws.set_integration_status(first.id, "needs re-authentication", "reconnect needed")
    ws.close()
    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.push_screen(AdvisorIntegrationScreen())
        await until(pilot, lambda: "Salesforce Financia" in screen_text(app), "listed")
        await pilot.press("enter")  # reconnect the highlighted integration
        await until(pilot, lambda: isinstance(app.screen, AddIntegrationScreen), "the form")
        form = app.screen
        await until(pilot, lambda: form.query_one("#field-client_id").value  # type: ignore[attr-defined]
                    == salesforce.client_id, "the client id remembered")
        assert form.query_one("#field-login_url").value == salesforce.login_url  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, DeviceCodeModal), "the code dialog")
        salesforce.state.approve()
        await until(pilot, lambda: isinstance(app.screen, AdvisorIntegrationScreen), "done")
    ws = Workspace.open(db_path, "advisor")
    try:
        [again] = ws.list_integrations()
        assert again.id == first.id and again.status == "connected"
    finally:
        ws.close()


async def test_save_and_esc_in_one_burst_leave_no_login_behind(db_path: Path,
                                                               salesforce: Any) -> None:
    """Keys typed ahead over a slow link: ctrl+s and esc arrive together. Whether esc lands
    on the code dialog (cancel) or on the form (back), no dialog is left open, no login goes
    on in the background, and approving the code afterwards creates nothing."""
    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(120, 40)) as pilot:
        await _open_add_integration(pilot, app, salesforce)
        await pilot.press("ctrl+s", "escape")
        await until(pilot, lambda: not isinstance(app.screen, DeviceCodeModal)
                    and not any(w.group == "connect" and w.is_running for w in app.workers),
                    "no dialog and no login left running")
        for code in salesforce.state.pending():
            salesforce.state.approve(code)
        await settle(pilot)
    ws = Workspace.open(db_path, "advisor")
    try:
        assert ws.list_integrations() == []
    finally:
        ws.close()
