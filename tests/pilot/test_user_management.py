"""Issue 10 item 3 in the TUI: user changes are in an audit view someone can open — ⋮ → User
changes — for advisors (administrators see every user's changes, other advisors those of the
people of their plans); clients and professionals have no such entry, key or palette command."""

from __future__ import annotations

from pathlib import Path

from plantech_tui.app import PlantechApp
from plantech_tui.screens.user_audit import UserAuditScreen
from plantech_tui.service.workspace import Workspace

from .helpers import choose_option, screen_text, settle, until


def firm(db_path: Path) -> None:
    """gomez (administrator) and his client morticia, made a professional; bob (advisor, not
    an administrator) and his client herman."""
    gomez = Workspace.open(db_path, "gomez")
    addams = gomez.create_plan("Addams", ["Gomez Addams"]).id
    gomez.add_user("morticia", "client", True, [addams])
    gomez.add_user("morticia", "professional", False)
    gomez.add_user("bob", "advisor", True)
    bob = Workspace.open(db_path, "bob")
    bob.add_user("herman", "client", False, [bob.create_plan("Munsters").id])
    bob.close()
    gomez.close()


async def test_item3_user_changes_open_from_the_global_menu(db_path: Path) -> None:
    """Adversary (from the issue): an advisor who rewrote users where no audit screen showed
    it. Now the administrator opens ⋮ → User changes and sees who changed whom."""
    firm(db_path)
    app = PlantechApp(db_path, "gomez")
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await pilot.press("g")
        await pilot.pause()
        await choose_option(pilot, "User changes")
        await until(pilot, lambda: isinstance(app.screen, UserAuditScreen)
                    and "role: client → professional" in screen_text(app),
                    "the User changes view lists morticia's role change")
        text = screen_text(app)
        assert "user edit" in text and "user grant" in text and "herman may see plan 2" in text
        assert "every user" in text
        await pilot.press("enter")  # the entry whole, before → after
        await pilot.pause()
        await until(pilot, lambda: "Before:" in screen_text(app) and "After:" in screen_text(app),
                    "enter opens the entry with before and after")


async def test_item3_user_changes_show_an_advisor_only_the_people_of_their_plans(
        db_path: Path) -> None:
    firm(db_path)
    app = PlantechApp(db_path, "bob")
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await pilot.press("g", "u")  # the menu's key
        await until(pilot, lambda: isinstance(app.screen, UserAuditScreen)
                    and "herman may see plan 2" in screen_text(app),
                    "bob's User changes list herman's grant")
        assert "professional" not in screen_text(app)  # morticia is gomez's client


async def test_item3_clients_have_no_user_changes_view(db_path: Path) -> None:
    """Adversary: a client asking for the view anyway (key, action)."""
    firm(db_path)
    app = PlantechApp(db_path, "herman")
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await pilot.press("g")
        await pilot.pause()
        assert "User changes" not in screen_text(app)
        await pilot.press("u")
        await pilot.press("escape")
        await pilot.pause()
        assert await app.run_action("user_audit") is False
        app.action_user_audit()
        await settle(pilot)
        assert not isinstance(app.screen, UserAuditScreen)
        app.push_screen(UserAuditScreen())  # pushed anyway: it leaves, having read nothing
        await until(pilot, lambda: not isinstance(app.screen, UserAuditScreen),
                    "the view leaves for a client")
