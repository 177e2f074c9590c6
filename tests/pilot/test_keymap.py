"""SPEC §4 "Default keys (remappable)": an advisor who remaps keys in the config file's `[keys]`
table gets them everywhere the key is shown or pressed — the key works, the old one does not,
the footer, the buttons, the hint line and `?` help say the new key — and a mistyped action id
is one clear error, not a silently ignored line. The theme chosen is kept in the config file."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from textual.widgets import Button, Static
from textual.widgets._footer import FooterKey

from plantech_tui.app import PlantechApp
from plantech_tui.domain.errors import UsageError
from plantech_tui.screens.plan_integration import PlanIntegrationScreen
from plantech_tui.screens.staged_dialogs import IgnoreModal
from plantech_tui.service.workspace import Workspace
from tests.helpers import make_big_plan

from .helpers import screen_text, settle, until


def config_file() -> Path:
    """The config file of this test's isolated home (tests/conftest.py)."""
    path = Path(os.environ["XDG_CONFIG_HOME"]) / "plantech" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def footer_keys(app: PlantechApp) -> dict[str, str]:
    """description → key as the footer shows it."""
    return {k.description: k.key_display for k in app.screen.query(FooterKey)}


async def test_remapped_keys_work_and_show_everywhere(db_path: Path) -> None:
    """An advisor writes `ignore = "x"` and `mark = "k"` under [keys]: on Pending Data, i no
    longer ignores and x does; the footer, the Ignore button, the hint line and `?` help all
    say x and k, never i or space for them."""
    config_file().write_text('# my keys\n[keys]\nignore = "x"\nmark = "k"\n', encoding="utf-8")
    ids = make_big_plan(db_path, 3)
    ws = Workspace.open(db_path, "advisor")
    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("P")
        await settle(pilot)
        assert isinstance(app.screen, PlanIntegrationScreen)
        assert app.screen.tab == "pending"

        keys = footer_keys(app)
        assert keys["Ignore"] == "x"
        assert keys["Mark"] == "k"
        labels = {str(b.label) for b in app.screen.query(Button)}
        assert "Ignore (x)" in labels and "Ignore (i)" not in labels
        hint = str(app.screen.query_one("#tab-hint", Static).render())
        assert hint.startswith("k mark · v range · * all · / filter")

        await pilot.press("i")  # the old key: nothing
        await settle(pilot)
        assert isinstance(app.screen, PlanIntegrationScreen)
        assert ws.staged_counts(ids["plan_id"]) == {"pending": 3, "ignored": 0}

        await pilot.press("k")  # the new mark key marks the row (and moves on)
        await settle(pilot)
        assert len(app.screen.table().marks) == 1
        await pilot.press("x")  # the new ignore key: asks why, for the marked row
        await settle(pilot)
        assert isinstance(app.screen, IgnoreModal)
        await pilot.press("escape")
        await settle(pilot)

        await pilot.press("question_mark")
        await settle(pilot)
        text = screen_text(app)
        assert "Help — keys" in text
        assert re.search(r"\sx\s{2,}Ignore\s", text), text
        assert re.search(r"\sk\s{2,}Mark\s", text), text
        assert not re.search(r"\si\s{2,}Ignore\s", text)
        assert not re.search(r"\sspace\s{2,}Mark\s", text)
        # and it says where, by which names (the ids [keys] takes)
        flat = " ".join(str(app.screen.query_one("#help-text", Static).render()).split())
        assert "config.toml: a [keys] table" in flat
        assert "Here: new, link-household, delete, ignore, stop-ignoring" in flat
        await pilot.press("escape")
    ws.close()


async def test_a_remapped_global_key(db_path: Path) -> None:
    """A user moves help from ? to F1: F1 opens it, ? no longer does, and the global menu and
    the footer say F1."""
    config_file().write_text('[keys]\nhelp = "f1"\n', encoding="utf-8")
    make_big_plan(db_path, 1)
    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert footer_keys(app)["Help"] == "f1"
        await pilot.press("question_mark")
        await settle(pilot)
        assert "Help — keys" not in screen_text(app)
        await pilot.press("f1")
        await settle(pilot)
        assert "Help — keys" in screen_text(app)
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("g")
        await settle(pilot)
        assert "Help (f1)" in screen_text(app)


def test_an_unknown_action_id_is_a_clear_error(db_path: Path) -> None:
    """A typo in [keys] (`ignroe`) is not silently ignored: the app refuses to start with one
    line naming the file and the id (the CLI prints it as `plantech: error: …`)."""
    make_big_plan(db_path, 1)
    config_file().write_text('[keys]\nignroe = "x"\n', encoding="utf-8")
    with pytest.raises(UsageError, match=r"config\.toml: \[keys\] ignroe: no such action id"):
        PlantechApp(db_path, "advisor")
    config_file().write_text('[keys]\nignore = 3\n', encoding="utf-8")
    with pytest.raises(UsageError, match=r"\[keys\] ignore must be a key"):
        PlantechApp(db_path, "advisor")


async def test_the_chosen_theme_is_kept(db_path: Path) -> None:
    """A user picks a theme (ctrl+p → Theme sets app.theme): the config file keeps it, with
    their own lines untouched, and the next start opens in it."""
    config_file().write_text('# mine\n[ui]\nascii = false\n\n[keys]\nignore = "x"\n',
                             encoding="utf-8")
    make_big_plan(db_path, 1)
    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert app.theme != "nord"
        app.theme = "nord"
        await until(pilot, lambda: 'theme = "nord"' in config_file().read_text("utf-8"),
                    "the theme written to the config file")
    assert config_file().read_text("utf-8") == (
        '# mine\n[ui]\ntheme = "nord"\nascii = false\n\n[keys]\nignore = "x"\n')
    again = PlantechApp(db_path, "advisor")
    async with again.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert again.theme == "nord"
