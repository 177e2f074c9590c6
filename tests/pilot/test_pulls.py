"""The background worker: the automatic pull when a plan is opened, Refresh Integrations with
its progress indicator and report (errors carry the server's text), and screens noticing what
another session changed."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

from plantech_tui.app import PlantechApp
from plantech_tui.partners.redtail.fake import FakeRedtailServer
from plantech_tui.screens.plan import PlanScreen
from plantech_tui.screens.plan_integration import PlanIntegrationScreen
from plantech_tui.screens.refresh_report import RefreshReportScreen
from plantech_tui.service.workspace import Workspace

from .helpers import choose_option, prepare_plan, screen_text, settle, until


def notifications(app: PlantechApp) -> list[str]:
    return [f"{n.title}: {n.message}" for n in app._notifications]


def pulls_logged(ws: Workspace, plan_id: int) -> int:
    return sum(1 for e in ws.audit_log(plan_id) if e.action == "pull")


async def test_automatic_pull_when_the_plan_is_opened_once_a_day(
        db_path: Path, fake: FakeRedtailServer) -> None:
    ids = await prepare_plan(db_path, fake, pull=False)
    ws = Workspace.open(db_path, "advisor")
    assert ws.plan_detail(ids["plan_id"]).pending == ()
    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("enter")  # launch the plan
        await settle(pilot)
        assert isinstance(app.screen, PlanScreen)
        assert len(ws.plan_detail(ids["plan_id"]).pending) == 11
        assert any("Updated from Redtail" in n and "11 new" in n for n in notifications(app))
        assert "Pending 11" in screen_text(app)  # totals updated in place
        assert not isinstance(app.screen, RefreshReportScreen)  # silent: no report
        await pilot.press("escape", "enter")  # launch it again the same day
        await settle(pilot)
        assert pulls_logged(ws, ids["plan_id"]) == 1
    ws.close()


async def test_refresh_shows_progress_ignores_a_second_request_and_reports(
        db_path: Path, fake: FakeRedtailServer) -> None:
    ids = await prepare_plan(db_path, fake)
    fake.data.accounts[5012].balance = "99000.00"  # Vanguard 0046 moved in Redtail
    fake.set_faults("server_error_contact:102")
    ws = Workspace.open(db_path, "advisor")
    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)  # opened today after a pull: nothing automatic
        assert pulls_logged(ws, ids["plan_id"]) == 1
        with fake.holding_accounts():  # the pull stays in flight until the block ends
            await pilot.press("r")
            await until(pilot, lambda: "Pulling Redtail…" in screen_text(app),
                        "the header says a pull is running")
            await pilot.press("i")  # input is not blocked while the pull runs
            await pilot.press("r")  # ignored while a pull of that plan runs
            await until(pilot, lambda: any("already running" in n for n in notifications(app)),
                        "a word that the pull is already running")
        await settle(pilot)
        assert isinstance(app.screen, RefreshReportScreen)
        text = screen_text(app)
        assert "Status: ⚠ partial" in text
        assert "Errors (1):" in text and "contact 102:" in text
        assert app.last_report is not None
        [error] = app.last_report.errors
        assert error.redtail_contact_id == 102
        assert "Internal Server Error (HTTP 500)" in text  # the server's own text
        assert "Pulling Redtail…" not in text
        assert pulls_logged(ws, ids["plan_id"]) == 2
        assert any("contact 102" in n for n in notifications(app))
    ws.close()


async def test_refresh_report_lists_changes_old_to_new(
        db_path: Path, fake: FakeRedtailServer) -> None:
    await prepare_plan(db_path, fake)
    fake.data.accounts[5012].balance = "99000.00"
    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("m")
        await choose_option(pilot, "Refresh Integrations")
        await settle(pilot)
        assert isinstance(app.screen, RefreshReportScreen)
        text = screen_text(app)
        assert "Vanguard 0046: $98,020.00 → $99,000.00" in text
        assert "Unchanged: 10" in text
        await pilot.press("escape")
        await pilot.press("m")
        await choose_option(pilot, "Plan Integration")
        await pilot.press("2")
        await pilot.pause()
        assert "$99,000.00" in screen_text(app)


async def test_another_session_s_change_is_noticed_and_said(
        db_path: Path, fake: FakeRedtailServer) -> None:
    ids = await prepare_plan(db_path, fake)
    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert not app.check_external_changes()  # nothing changed yet
        other = Workspace.open(db_path, "advisor")
        other.add_account(ids["plan_id"], {"description": "Pugsley 529", "balance": "5000",
                                           "investment_type": "529 Plan"})
        other.close()
        assert app.check_external_changes()
        await pilot.pause()
        assert "Pugsley 529" in screen_text(app)
        assert any("Changed in another session" in n and "Addams Family: 1 account added" in n
                   for n in notifications(app))


async def test_triage_refused_after_another_user_deleted_the_plan(
        db_path: Path, fake: FakeRedtailServer) -> None:
    ids = await prepare_plan(db_path, fake)
    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("enter", "m")
        await choose_option(pilot, "Plan Integration")
        assert isinstance(app.screen, PlanIntegrationScreen)
        other = Workspace.open(db_path, "advisor")
        other.delete_plan(ids["plan_id"])
        other.close()
        app.check_external_changes()
        await settle(pilot)
        assert not isinstance(app.screen, PlanIntegrationScreen | PlanScreen)
        assert any("not found" in n for n in notifications(app))
        assert "Addams Family" not in screen_text(app)


async def test_export_writes_the_csv_the_cli_writes(
        db_path: Path, fake: FakeRedtailServer, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    ids = await prepare_plan(db_path, fake)
    monkeypatch.chdir(tmp_path)
    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("enter", "e")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
    # delivered to the person: their export folder, not the working directory (issue 10, 1)
    assert not (tmp_path / f"plan-{ids['plan_id']}-addams-family.csv").exists()
    out = (Path(os.environ["XDG_DATA_HOME"]) / "plantech" / "exports" / "advisor"
           / f"plan-{ids['plan_id']}-addams-family.csv")
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [r["state"] for r in rows].count("pending") == 11
    gomez = next(r for r in rows if r["description"] == "Gomez 401(k)")
    assert (gomez["state"], gomez["balance"]) == ("account", "240000.00")


async def test_ctrl_q_quits_at_once_from_a_dialog(db_path: Path) -> None:
    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n")  # the New plan dialog, focus in a text field
        await pilot.press("ctrl+q")
        await pilot.pause()
    assert app.return_code == 0


async def test_a_pull_opens_the_credential_store_off_the_ui_thread(
        db_path: Path, fake: FakeRedtailServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Opening the store may wait out a keyring probe (up to 2 s): a pull started before the
    warm-up has opened it (the automatic pull of a plan opened at once) opens it in a thread,
    never on the UI thread, and still pulls."""
    import threading

    from plantech_tui import app as app_module
    from plantech_tui.sync import credentials

    ids = await prepare_plan(db_path, fake, pull=False)
    credentials.reset_credential_store()  # the app must open it (the keys stay in the keyring)
    monkeypatch.setattr(app_module, "CREDENTIALS_AFTER", 3600.0)  # no warm-up in this test
    app = PlantechApp(db_path, "advisor")
    opened_on_ui: list[str] = []
    real = credentials.credential_store

    def watched(notify: object = None) -> object:
        if threading.get_ident() == app._thread_id and credentials._store is None:
            opened_on_ui.append("the UI thread opened the credential store")
        return real(notify)  # type: ignore[arg-type]

    monkeypatch.setattr(credentials, "credential_store", watched)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("enter")  # the plan: its automatic pull
        await settle(pilot)
        assert isinstance(app.screen, PlanScreen)
    assert opened_on_ui == []
    ws = Workspace.open(db_path, "advisor")
    assert len(ws.plan_detail(ids["plan_id"]).pending) == 11  # the pull ran with the keys
    ws.close()
