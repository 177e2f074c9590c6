"""Issue 10, item 1: the Export CSV dialog never chooses a server path. In a terminal the file
lands in the person's own export folder (`<data dir>/exports/<user>/`), under a plain file name,
never through a link and never over another file; nothing tells whether any other path exists.

Adversary throughout: lurch, a professional without edit rights, on the firm's shared server
account (plantech_tui/docs/DEPLOY.md), who types the paths of `credentials.json` and of the database."""

from __future__ import annotations

import csv
import os
import stat
from pathlib import Path

import pytest
from textual.widgets import Input

from plantech_tui.app import PlantechApp
from plantech_tui.screens.export import ExportModal
from plantech_tui.service.workspace import Workspace
from tests.helpers import make_big_plan

from .helpers import settle, type_text, until

PRO = "lurch"


def data_dir() -> Path:
    return Path(os.environ["XDG_DATA_HOME"]) / "plantech"


def export_folder(user: str = PRO) -> Path:
    return data_dir() / "exports" / user


def every_file(root: Path) -> dict[str, bytes]:
    """Every regular file under `root` (links not followed) and its bytes, but for the
    database's own files (SQLite writes those; the tests compare the database's bytes while
    the app has it open, and open it afterwards)."""
    out: dict[str, bytes] = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            p = Path(dirpath) / name
            if not p.is_symlink() and not name.startswith("plantech.db"):
                out[str(p.relative_to(root))] = p.read_bytes()
    return out


@pytest.fixture
def shared(tmp_path: Path) -> dict[str, object]:
    """The server of plantech_tui/docs/DEPLOY.md in miniature: the database and credentials.json in the
    plantech data dir, a plan the advisor shares with the professional lurch (read only)."""
    data = data_dir()
    data.mkdir(parents=True, exist_ok=True)
    db = data / "plantech.db"
    ids = make_big_plan(db, 3, name="Addams Family")
    ws = Workspace.open(db, "advisor")
    ws.add_user(PRO, "professional", False, [ids["plan_id"]])
    ws.close()
    creds = data / "credentials.json"
    creds.write_text('{"integration-1": {"api_key": "k", "user_key": "u"}}\n', encoding="utf-8")
    creds.chmod(0o600)
    return {"db": db, "creds": creds, "plan_id": ids["plan_id"]}


async def open_export(pilot: object, app: PlantechApp, *keys: str) -> ExportModal:
    """From Plans (enter opens the only plan), or with `keys` from where the test is."""
    await settle(pilot)  # type: ignore[arg-type]
    await pilot.press(*(keys or ("enter", "e")))  # type: ignore[attr-defined]
    await until(pilot, lambda: isinstance(app.screen, ExportModal),  # type: ignore[arg-type]
                "the Export dialog opens")
    assert isinstance(app.screen, ExportModal)
    return app.screen


def form_error(app: PlantechApp) -> str:
    return str(app.screen.query_one("#form-error").render()).strip()


async def submit_twice(pilot: object, app: PlantechApp, typed: str) -> str:
    """Type `typed` as the file and press Export, then Export again (the old dialog overwrote
    an existing path on the second press); the error shown, '' when none."""
    await type_text(pilot, "#field-path", typed)  # type: ignore[arg-type]
    errors = []
    for _ in range(2):
        if not isinstance(app.screen, ExportModal):
            break
        await pilot.press("enter")  # type: ignore[attr-defined]
        await settle(pilot)  # type: ignore[arg-type]
        errors.append(form_error(app) if isinstance(app.screen, ExportModal) else "")
    return errors[-1] if errors else ""


async def test_item1_export_never_writes_outside_the_user_folder(
        shared: dict[str, object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Adversary: a professional who types `../../credentials.json`, then the absolute paths of
    credentials.json and of the database, and presses Export twice each time (the old dialog
    asked "exists: press Export again", then overwrote). Nothing outside their export folder
    changes; each name is refused with a clear message that keeps what was typed."""
    db, creds = Path(str(shared["db"])), Path(str(shared["creds"]))
    # a working directory two levels below the data dir: `../../credentials.json` from here is
    # the real file (as it is from the export folder)
    cwd = data_dir() / "some" / "where"
    cwd.mkdir(parents=True)
    monkeypatch.chdir(cwd)
    before_data = every_file(data_dir())
    before_db, before_creds = db.read_bytes(), creds.read_bytes()
    app = PlantechApp(db, PRO)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_export(pilot, app)
        for typed in ("../../credentials.json", str(creds), str(db), "exports/../x.csv", ".."):
            error = await submit_twice(pilot, app, typed)
            assert isinstance(app.screen, ExportModal), f"{typed!r} was accepted"
            assert "file name" in error, (typed, error)
            assert "exists" not in error
            assert app.screen.query_one("#field-path", Input).value == typed
            assert db.read_bytes() == before_db and creds.read_bytes() == before_creds
        await pilot.press("escape")
        await settle(pilot)
    assert every_file(data_dir()) == before_data  # not one byte written anywhere
    # and the next command of every user still works
    ws = Workspace.open(db, "advisor")
    assert ws.plan(int(str(shared["plan_id"]))).name == "Addams Family"
    ws.close()


async def test_item1_export_lands_in_the_user_folder_and_never_overwrites(
        shared: dict[str, object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Adversary: a professional exporting twice under the same name (the second must not
    replace the first). The file lands only in their export folder (0700, file 0600), and the
    dialog says where it went."""
    monkeypatch.chdir(tmp_path)
    plan_id = shared["plan_id"]
    app = PlantechApp(Path(str(shared["db"])), PRO)
    async with app.run_test(size=(120, 40)) as pilot:
        modal = await open_export(pilot, app)
        where = str(modal.query_one("#export-where").render())  # where files go
        assert f"Saved in your export folder {export_folder()}/" in where
        assert modal.query_one("#field-path", Input).value == f"plan-{plan_id}-addams-family.csv"
        await pilot.press("enter")
        await settle(pilot)
        assert not isinstance(app.screen, ExportModal)
        first = export_folder() / f"plan-{plan_id}-addams-family.csv"
        assert any(str(first) in n.message for n in app._notifications)
        first_bytes = first.read_bytes()
        ws = Workspace.open(Path(str(shared["db"])), "advisor")  # a change between exports
        ws.add_account(int(str(plan_id)), {"description": "Pugsley's piggy bank",
                                           "investment_type": "Cash", "balance": "3"})
        ws.close()
        await open_export(pilot, app, "e")
        await pilot.press("enter")
        await settle(pilot)
        second = export_folder() / f"plan-{plan_id}-addams-family-2.csv"
        assert any(str(second) in n.message for n in app._notifications)
    assert first.read_bytes() == first_bytes  # the first export is untouched
    rows = list(csv.DictReader(second.open(encoding="utf-8")))
    assert {r["state"] for r in rows} == {"account"}  # a professional sees no staged data
    assert "Pugsley's piggy bank" in {r["description"] for r in rows}
    assert {p.name for p in export_folder().iterdir()} == {first.name, second.name}
    assert list(tmp_path.glob("*.csv")) == []  # not in the working directory
    assert stat.S_IMODE(export_folder().stat().st_mode) == 0o700
    assert stat.S_IMODE(second.stat().st_mode) == 0o600


async def test_item1_export_never_follows_a_link_in_the_user_folder(
        shared: dict[str, object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Adversary: someone who planted, in the professional's export folder, a link named like
    the next export pointing at the database, then replaced the folder itself by a link to the
    data dir. Neither link is followed: the database keeps its bytes."""
    db = Path(str(shared["db"]))
    plan_id = shared["plan_id"]
    monkeypatch.chdir(tmp_path)
    folder = export_folder()
    folder.mkdir(parents=True, mode=0o700)
    name = f"plan-{plan_id}-addams-family.csv"
    (folder / name).symlink_to(db)
    (folder / "mine.csv").symlink_to(data_dir() / "credentials.json")
    before = db.read_bytes()
    app = PlantechApp(db, PRO)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_export(pilot, app)
        await pilot.press("enter")
        await settle(pilot)
        assert not isinstance(app.screen, ExportModal)
        await open_export(pilot, app, "e")
        assert await submit_twice(pilot, app, "mine.csv") == ""
    assert db.read_bytes() == before
    assert (folder / name).is_symlink() and (folder / "mine.csv").is_symlink()
    assert (folder / f"plan-{plan_id}-addams-family-2.csv").read_text(
        encoding="utf-8").startswith("state,")
    assert (folder / "mine-2.csv").read_text(encoding="utf-8").startswith("state,")

    # the folder itself replaced by a link to the data dir: refused, nothing written there
    for p in folder.iterdir():
        p.unlink()
    folder.rmdir()
    folder.symlink_to(data_dir(), target_is_directory=True)
    before_data = every_file(data_dir())
    app = PlantechApp(db, PRO)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_export(pilot, app)
        error = await submit_twice(pilot, app, "credentials.json")
        assert isinstance(app.screen, ExportModal)
        assert "export folder" in error and "link" in error
    assert every_file(data_dir()) == before_data


async def test_item1_export_answers_alike_whether_a_path_exists_or_not(
        shared: dict[str, object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Adversary: a professional probing the server's files through the dialog (the old
    "exists: press Export again" prompt answered yes or no for any path). A path that exists
    and one that does not get the same answer."""
    monkeypatch.chdir(tmp_path)
    db = Path(str(shared["db"]))
    app = PlantechApp(db, PRO)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_export(pilot, app)
        answers = []
        for probe in (str(db), str(db) + "-nonexistent", "/etc/passwd", "/etc/nonexistent"):
            await type_text(pilot, "#field-path", probe)
            await pilot.press("enter")
            await settle(pilot)
            answers.append(form_error(app).replace(probe, "PATH"))
        assert len(set(answers)) == 1, answers
        assert "exists" not in answers[0]
