"""Issue 12 point 6 when the window changes: an advisor narrows the terminal (an SSH window
dragged to 80 columns) while on Pending Data; the layout follows — whole footer labels, `?`
always there, the account names whole — and widens back."""

from __future__ import annotations

from pathlib import Path

from plantech_tui.app import PlantechApp
from plantech_tui.partners.redtail.fake import FakeRedtailServer
from plantech_tui.screens.plan_integration import PlanIntegrationScreen

from .helpers import prepare_plan, screen_text, settle, until


def footer_line(app: PlantechApp) -> str:
    return screen_text(app).rstrip("\n").splitlines()[-1]


async def test_the_footer_and_columns_follow_a_resize(db_path: Path,
                                                      fake: FakeRedtailServer) -> None:
    """120 columns: Pending Data's keys in the footer, Plan menu among them. Narrowed to 80:
    only whole labels, the triage keys first, ? Help kept, "Jackson National 2207" whole.
    Back to 120: Plan menu returns."""
    await prepare_plan(db_path, fake)
    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        for key in ("enter", "P"):
            await pilot.press(key)
            await settle(pilot)
        assert isinstance(app.screen, PlanIntegrationScreen)
        await until(pilot, lambda: "m Plan menu" in footer_line(app),
                    "the wide footer lists Plan menu")
        await pilot.resize_terminal(80, 24)
        await until(pilot, lambda: "m Plan menu" not in footer_line(app),
                    "the narrow footer leaves out what does not fit")
        line = footer_line(app)
        for label in ("i Ignore", "l Link to Existing Item", "a Add to Plan", "? Help",
                      "^p palette"):
            assert label in line, f"{label!r} not whole in {line!r}"
        assert "Jackson National 2207" in screen_text(app)
        await pilot.resize_terminal(120, 40)
        await until(pilot, lambda: "m Plan menu" in footer_line(app),
                    "widened again, the footer lists Plan menu")
