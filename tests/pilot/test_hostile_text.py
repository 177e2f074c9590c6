"""Issue 10 item 5: data is never markup (nor a terminal command) in the TUI.

Text holding ``[/]`` crashed the app with MarkupError (a Redtail error message during a client's
automatic pull, pausing an account described ``Acme [/] 1234``, a client deleting a manual
account ``Old 401(k) [/]``) and ``[@click=app.quit]`` was drawn as a live action. Every notice
goes through `PlantechApp.notify` (never markup, controls defused); cells, dialogs and option
lists show data as plain text.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import OptionList
from textual.widgets._toast import Toast

from plantech_tui.app import PlantechApp
from plantech_tui.domain.report import PullError, RefreshReport
from plantech_tui.partners.redtail.fake import FakeRedtailServer
from plantech_tui.screens.dialogs import ConfirmModal, MenuModal
from plantech_tui.screens.plan import PlanScreen
from plantech_tui.screens.refresh_report import RefreshReportScreen
from plantech_tui.service.workspace import Workspace
from plantech_tui.widgets.record_table import RecordTable

from .helpers import go_to_row, prepare_plan, screen_text, settle, staged_id, until

MARKUP = "Boom [/] [@click=app.quit]quit[/] [b]bold"
ESCAPES = "\x1b]52;c;cHduZWQ=\x07\x1b]0;pwned\x07\x9b2J\u202e"


def notes(app: PlantechApp) -> list[str]:
    return [f"{n.title}: {n.message}" for n in app._notifications]


def toasts_text(app: PlantechApp) -> str:
    """What the notification toasts draw, as plain text (markup would have been consumed)."""
    return "\n".join(t.render().plain for t in app.screen.query(Toast))  # type: ignore[union-attr]


def no_escapes(text: str) -> bool:
    return not any(c in text for c in "\x1b\x07\x9b\x9d\u202e")


async def test_item5_a_redtail_error_with_markup_during_a_clients_automatic_pull(
        db_path: Path, fake: FakeRedtailServer) -> None:
    """Adversary: a Redtail whose error message holds `[/]`, `[@click=app.quit]` and terminal
    escapes, answering the automatic pull a client's opening of the plan starts."""
    ids = await prepare_plan(db_path, fake, pull=False)
    ws = Workspace.open(db_path, "advisor")
    ws.add_user("morticia", "client", True, [ids["plan_id"]])
    ws.close()
    fake.set_faults("hostile_message:102")
    app = PlantechApp(db_path, "morticia")
    async with app.run_test(size=(160, 50), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("enter")  # open the plan: the automatic pull
        await until(pilot, lambda: any("Boom" in n for n in notes(app)), "the error notice")
        await settle(pilot)
        assert app.is_running and isinstance(app.screen, PlanScreen)
        drawn = toasts_text(app)
        assert "Boom [/] [@click=app.quit]quit[/]" in drawn  # literal: not markup, no action
        assert no_escapes(drawn) and all(no_escapes(n) for n in notes(app))
        assert "[@click=app.quit]" in screen_text(app)
        await pilot.click(Toast)  # clicking the text closes the toast; it does not quit
        await settle(pilot)
        assert app.is_running


async def test_item5_pausing_an_account_described_with_markup(
        db_path: Path, fake: FakeRedtailServer) -> None:
    """Adversary: a professional who names a manual account `Acme [/] 1234`; the advisor links
    it to Redtail and pauses it."""
    ids = await prepare_plan(db_path, fake)
    ws = Workspace.open(db_path, "advisor")
    ws.edit_account(ids["plan_id"], ids["manual_id"], {"description": "Acme [/] 1234"})
    ws.link_to_existing(ids["plan_id"], staged_id(ws, ids["plan_id"], 5001), ids["manual_id"])
    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(160, 50), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        await go_to_row(pilot, "accounts", "description", "Acme [/] 1234")
        await pilot.press("p")
        await until(pilot, lambda: any("paused" in n for n in notes(app)), "the pause notice")
        assert app.is_running
        assert "Acme [/] 1234: paused" in toasts_text(app)
        assert ws.account(ids["plan_id"], ids["manual_id"]).link.state.value == "paused"
    ws.close()


async def test_item5_a_client_deletes_a_manual_account_named_with_markup(
        db_path: Path, fake: FakeRedtailServer) -> None:
    """Adversary: a client with edit rights who names a manual account `Old 401(k) [/]`
    and deletes it."""
    ids = await prepare_plan(db_path, fake, link=False)
    ws = Workspace.open(db_path, "advisor")
    ws.add_user("morticia", "client", True, [ids["plan_id"]])
    ws.add_account(ids["plan_id"], {"description": "Old 401(k) [/]", "investment_type": "401(k)",
                                    "balance": "100"})
    app = PlantechApp(db_path, "morticia")
    async with app.run_test(size=(160, 50), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        await go_to_row(pilot, "accounts", "description", "Old 401(k) [/]")
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal), "the delete dialog")
        await pilot.press("left", "enter")  # Cancel has the focus: ← to Delete
        await until(pilot, lambda: any("Deleted" in n for n in notes(app)), "the delete notice")
        assert app.is_running
        assert "Deleted Old 401(k) [/]." in toasts_text(app)
    assert all(a.description != "Old 401(k) [/]" for a in ws.plan_detail(ids["plan_id"]).accounts)
    ws.close()


# ---- every notice and cell path, fed markup and escapes -----------------------------------

Show = Callable[[PlantechApp, str], Awaitable[Any]]


async def _app_notify(app: PlantechApp, payload: str) -> None:
    app.notify(payload, title=payload)


async def _screen_notify(app: PlantechApp, payload: str) -> None:
    app.screen.notify(payload, title=payload)


async def _error_notice(app: PlantechApp, payload: str) -> None:
    from plantech_tui.domain.errors import PlantechError

    app.screen.fail(PlantechError(payload))  # type: ignore[attr-defined]


async def _confirm(app: PlantechApp, payload: str) -> None:
    await app.push_screen(ConfirmModal(payload, payload, [("OK", "x", "primary")]))


async def _menu(app: PlantechApp, payload: str) -> None:
    await app.push_screen(MenuModal(payload, [(payload, "x")]))


async def _report(app: PlantechApp, payload: str) -> None:
    report = RefreshReport(plan_id=1, status="partial", truncated=[payload],
                           errors=[PullError(redtail_contact_id=102, kind="x", message=payload)])
    await app.push_screen(RefreshReportScreen(report, payload))


async def _table_cell(app: PlantechApp, payload: str) -> None:
    ws = app.workspace
    plan = ws.create_plan(payload, [payload])
    ws.add_account(plan.id, {"description": payload, "investment_type": "401(k)",
                             "balance": "1", "owner": "Client"})
    from plantech_tui.screens.plan import PlanScreen as Plan

    await app.push_screen(Plan(plan.id))


PATHS: dict[str, Show] = {
    "app.notify": _app_notify,
    "screen.notify": _screen_notify,
    "fail (error notice)": _error_notice,
    "confirm dialog": _confirm,
    "menu option": _menu,
    "refresh report": _report,
    "plan title, crumbs and table cells": _table_cell,
}


@pytest.mark.parametrize("payload", [MARKUP, f"Acme {ESCAPES} [/] 1234"], ids=["markup", "escapes"])
@pytest.mark.parametrize("path", list(PATHS))
async def test_item5_every_notice_and_cell_shows_data_as_text(
        db_path: Path, path: str, payload: str) -> None:
    """Adversary: text from Redtail or another user, holding markup and terminal escapes,
    shown by each way the TUI shows data."""
    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(200, 60), notifications=True) as pilot:
        await settle(pilot)
        await PATHS[path](app, payload)
        await settle(pilot)
        assert app.is_running
        drawn = screen_text(app) + toasts_text(app)
        assert no_escapes(drawn), path
        if "Boom" in payload:
            assert "[@click=app.quit]quit[/]" in drawn or "[@click=app.quit]" in drawn, drawn
        else:
            assert "[/] 1234" in drawn, drawn
        for options in app.screen.query(OptionList):
            for i in range(options.option_count):
                prompt = options.get_option_at_index(i).prompt
                assert not isinstance(prompt, str), "an option list parses a str as markup"
        for table in app.screen.query(RecordTable):
            table.refresh()
