"""Plans (home): create, rename, delete with a confirmation; icons in their ASCII form."""

from __future__ import annotations

from pathlib import Path

import pytest

from plantech_tui.app import PlantechApp
from plantech_tui.partners.redtail.fake import FakeRedtailServer
from plantech_tui.screens.dialogs import ConfirmModal
from plantech_tui.screens.plan_form import PlanFormModal
from plantech_tui.service.workspace import Workspace

from .helpers import prepare_plan, screen_text, settle, staged_id, type_text, until


async def test_create_rename_and_delete_a_plan(db_path: Path) -> None:
    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n")
        assert isinstance(app.screen, PlanFormModal)
        await pilot.press("enter")  # no name: refused, the dialog stays
        assert "a plan name is required" in screen_text(app)
        await type_text(pilot, "#field-name", "Munster Family")
        await type_text(pilot, "#field-client", "Herman Munster")
        await pilot.press("enter")
        await settle(pilot)
        ws = Workspace.open(db_path, "advisor")
        [summary] = ws.list_plans()
        assert (summary.plan.name, summary.plan.clients) == ("Munster Family", ["Herman Munster"])
        await pilot.press("R")
        await type_text(pilot, "#field-name", "The Munsters")
        await type_text(pilot, "#field-co_client", "Lily Munster")
        await pilot.press("ctrl+s")
        await settle(pilot)
        [summary] = ws.list_plans()
        assert (summary.plan.name, summary.plan.clients) == (
            "The Munsters", ["Herman Munster", "Lily Munster"])
        assert "The Munsters" in screen_text(app)
        await pilot.press("d")
        assert isinstance(app.screen, ConfirmModal)
        assert "Delete plan The Munsters?" in screen_text(app)
        await pilot.press("escape")  # cancelled: nothing deleted
        assert len(ws.list_plans()) == 1
        await pilot.press("d", "left", "enter")  # Cancel has the focus: ← to Delete plan
        await settle(pilot)
        assert ws.list_plans() == []
        assert "No plans yet — press n" in screen_text(app)
        ws.close()


async def test_icons_have_an_ascii_form(db_path: Path, fake: FakeRedtailServer,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    ids = await prepare_plan(db_path, fake)
    ws = Workspace.open(db_path, "advisor")
    ws.link_to_existing(ids["plan_id"], staged_id(ws, ids["plan_id"], 5001), ids["manual_id"])
    ws.pause(ids["plan_id"], ids["manual_id"])
    ws.close()
    monkeypatch.setenv("PLANTECH_ASCII", "1")
    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        text = screen_text(app)
        assert "[L] Gomez 401(k)" in text and "[P] paused" in text
        assert "🔗" not in text and "⏸" not in text and "⋮" not in text


async def test_garbage_collection_is_back_on_after_the_first_frame(db_path: Path) -> None:
    """`plantech` starts with the collector off (cli.dispatch, for start-up time); a
    long-running TUI that never turned it back on would keep every reference cycle."""
    import gc

    gc.disable()
    try:
        app = PlantechApp(db_path, "advisor")
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            assert "Plans" in screen_text(app)
            assert gc.isenabled()
    finally:
        gc.enable()
        gc.unfreeze()


def test_garbage_collection_is_back_on_when_the_tui_cannot_start(
        db_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import gc

    from plantech_tui.app import run_app

    Workspace.open(db_path, "advisor").close()
    gc.disable()  # as cli.dispatch does before importing the app
    try:
        assert run_app(db_path, "nobody at all") == 1
        assert gc.isenabled()
    finally:
        gc.enable()
    assert capsys.readouterr().err.startswith("plantech: error: ")


async def test_the_credential_fallback_notice_is_shown_in_the_tui(
        db_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """No usable OS keyring: the TUI says once, as a notification, that credentials go to a
    0600 file; nothing is printed on stderr (it would be lost under the full screen)."""
    import keyring
    from keyring.backends import fail

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        app = PlantechApp(db_path, "advisor")
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: any("storing credentials in" in str(n.message)
                                           for n in app._notifications),
                        "a notification about the credentials file")
            [note] = [n for n in app._notifications if "storing credentials" in str(n.message)]
            assert note.title == "Credentials" and note.severity == "warning"
            assert "0600" in str(note.message)
    finally:
        keyring.set_keyring(previous)
    assert "storing credentials" not in capsys.readouterr().err


async def test_a_notice_from_another_thread_never_waits_for_the_ui(db_path: Path) -> None:
    """The warm-up thread may say "no usable keyring" while holding the credential store's
    lock, and the UI thread may be waiting on that lock (a pull asking for the store): the
    notice must not wait for the UI thread, or both wait forever."""
    import threading

    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        said = threading.Event()

        def warm_up() -> None:
            app._say("storing credentials in /somewhere (mode 0600)")
            said.set()

        thread = threading.Thread(target=warm_up)
        thread.start()
        # the UI thread blocked, as on the store's lock: the notice returns all the same
        assert said.wait(10), "the notice waited for the blocked UI thread"
        thread.join()
        await until(pilot, lambda: any("storing credentials in /somewhere" in str(n.message)
                                       for n in app._notifications),
                    "the notice shows once the UI thread is free")
