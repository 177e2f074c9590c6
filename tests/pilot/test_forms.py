"""Form errors keep what was typed, say why (the server's reason for Redtail), and put the
cursor on the field at fault; nothing is stored. And the one-line refusals of `run_app`."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Button, Input, Select

from plantech_tui.app import PlantechApp, run_app
from plantech_tui.partners.redtail.fake import FakeRedtailServer
from plantech_tui.screens.account_editor import AccountEditorScreen
from plantech_tui.screens.add_integration import AddIntegrationScreen
from plantech_tui.service.workspace import Workspace

from .helpers import (
    DEMO_API_KEY,
    DEMO_USERNAME,
    choose_option,
    prepare_plan,
    screen_text,
    settle,
    type_text,
)


async def test_wrong_password_keeps_the_form_and_shows_the_server_s_reason(
        db_path: Path, fake: FakeRedtailServer) -> None:
    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("g")
        await choose_option(pilot, "Advisor Integration")
        await pilot.press("n")
        assert isinstance(app.screen, AddIntegrationScreen)
        await pilot.click("#field-environment")
        await pilot.press("down", "down", "enter")
        await type_text(pilot, "#field-base_url", fake.base_url)
        await type_text(pilot, "#field-api_key", DEMO_API_KEY)
        await type_text(pilot, "#field-username", DEMO_USERNAME)
        await type_text(pilot, "#field-password", "not-cara-mia")
        await pilot.click("#save")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, AddIntegrationScreen)  # still on the form
        text = screen_text(app)
        assert "Redtail refused the login: Invalid username or password (HTTP 401)" in text
        values = {n: screen.query_one(f"#field-{n}", Input).value
                  for n in ("base_url", "api_key", "username", "password")}
        assert values == {"base_url": fake.base_url, "api_key": DEMO_API_KEY,
                          "username": DEMO_USERNAME, "password": "not-cara-mia"}
        assert screen.query_one("#field-environment", Select).value == "Custom"
        assert app.focused is screen.query_one("#field-password")
        assert not screen.query_one("#save", Button).disabled  # may try again, by hand
        assert "not-cara-mia" not in text  # the password stays masked
    ws = Workspace.open(db_path, "advisor")
    assert ws.list_integrations() == []
    ws.close()
    assert fake.request_log.count(("GET", "/authentication")) == 1  # no retry


async def test_account_editor_errors_keep_what_was_typed(db_path: Path,
                                                         fake: FakeRedtailServer) -> None:
    ids = await prepare_plan(db_path, fake, link=False)
    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("enter", "n")
        assert isinstance(app.screen, AccountEditorScreen)
        await type_text(pilot, "#field-description", "Morticia Roth")
        await type_text(pilot, "#field-balance", "lots")
        await pilot.press("ctrl+s")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, AccountEditorScreen)
        assert "investment type is required" in screen_text(app)
        assert app.focused is screen.query_one("#field-investment_type")
        await pilot.press("enter", *"roth", "enter")  # open the list, type to find, pick
        await pilot.pause()
        assert screen.query_one("#field-investment_type", Select).value == "Roth IRA"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "balance: not an amount: 'lots'" in screen_text(app)
        assert app.focused is screen.query_one("#field-balance")
        assert screen.query_one("#field-description", Input).value == "Morticia Roth"
        await type_text(pilot, "#field-balance", "98,020")
        await type_text(pilot, "#field-equity_pct", "60")
        await type_text(pilot, "#field-fixed_income_pct", "30")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "allocation must sum to 100%" in screen_text(app)
        assert app.focused is screen.query_one("#field-equity_pct")
        await type_text(pilot, "#field-cash_pct", "10")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert not isinstance(app.screen, AccountEditorScreen)
    ws = Workspace.open(db_path, "advisor")
    added = next(a for a in ws.plan_detail(ids["plan_id"]).accounts
                 if a.description == "Morticia Roth")
    assert (added.investment_type, str(added.balance), str(added.equity_pct),
            str(added.cash_pct)) == ("Roth IRA", "98020.00", "60.00", "10.00")
    ws.close()


def test_run_app_refuses_an_unknown_user_in_one_line(db_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    Workspace.open(db_path, "advisor").close()  # the first user becomes the advisor
    assert run_app(db_path, "mallory") == 1
    err = capsys.readouterr().err
    assert err.startswith("plantech: error: unknown user 'mallory'")
    assert err.count("\n") == 1


def test_run_app_refuses_a_file_that_is_not_a_database(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    assert run_app(bad, "advisor") == 1
    err = capsys.readouterr().err
    assert err.startswith("plantech: error: ") and err.count("\n") == 1
