"""`plantech demo` presents itself (issue 12, points 9 and 10): the opening tour, the presenter
keys in the footer, the fake's login on Add Integration, and linked accounts from the start."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input
from textual.widgets._footer import FooterKey

from plantech_tui import demo
from plantech_tui.app import PlantechApp
from plantech_tui.partners.redtail.fake import (
    DEMO_API_KEY,
    DEMO_PASSWORD,
    DEMO_USERNAME,
    FakeRedtailServer,
)
from plantech_tui.screens.add_integration import AddIntegrationScreen
from plantech_tui.screens.tour import TourScreen

from .helpers import prepare_plan, screen_text, settle, until

DEMO_KEYS = {"f6": "Demo ±balance", "f7": "Demo +account", "f8": "Demo −account"}


def footer_keys(app: PlantechApp) -> dict[str, str]:
    return {k.key: k.description for k in app.screen.query(FooterKey)}


async def test_tour_opens_once_and_any_key_closes_it(db_path: Path, fake: FakeRedtailServer,
                                                     tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The presenter starting the demo for the first time: the article's steps on one screen,
    gone at the first key, and marked seen in their own config dir."""
    await prepare_plan(db_path, fake)
    marker = tmp_path / "config" / "plantech" / demo.TOUR_MARKER
    monkeypatch.setenv("PLANTECH_DEMO_TOUR", str(marker))
    app = PlantechApp(db_path, "advisor", demo_admin_url=fake.admin_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, TourScreen), "the tour opens")
        text = screen_text(app)
        for step in ("Connect a CRM", "Link contacts", "Refresh", "Triage Pending",
                     "Pause, Play, Stop", "plantech demo --tour"):
            assert step in text, step
        assert marker.is_file()  # seen: the next demo starts without it
        await pilot.press("z")  # any key
        await until(pilot, lambda: not isinstance(app.screen, TourScreen), "the tour closes")
        assert "Addams Family" in screen_text(app)
        assert len(app.screen_stack) == 1


async def test_escape_closes_the_tour_too(db_path: Path, fake: FakeRedtailServer,
                                          tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The presenter who knows the way: esc skips the tour."""
    await prepare_plan(db_path, fake)
    monkeypatch.setenv("PLANTECH_DEMO_TOUR", str(tmp_path / "seen"))
    app = PlantechApp(db_path, "advisor", demo_admin_url=fake.admin_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, TourScreen), "the tour opens")
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, TourScreen), "the tour closes")


def test_run_demo_shows_the_tour_first_time_and_with_tour_flag(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The presenter's second demo starts straight on the plans; `--tour` asks for it again.
    The marker lives in their own config dir, which outlives the demo's temp dir."""
    import plantech_tui.app as app_module

    config = tmp_path / "home-config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    asked: list[str | None] = []

    def fake_run_app(db_path: Any, user: Any, *, demo_admin_url: str | None = None) -> int:
        assert demo_admin_url and demo_admin_url.startswith("http://127.0.0.1:")  # F6-F8 on
        asked.append(os.environ.get("PLANTECH_DEMO_TOUR"))
        if asked[-1]:
            Path(asked[-1]).parent.mkdir(parents=True, exist_ok=True)
            Path(asked[-1]).touch()  # what TourScreen does when it opens
        return 0

    monkeypatch.setattr(app_module, "run_app", fake_run_app)
    assert demo.run_demo() == 0
    assert demo.run_demo() == 0
    assert demo.run_demo(tour=True) == 0
    marker = str(config / "plantech" / demo.TOUR_MARKER)
    assert asked == [marker, None, marker]
    assert Path(marker).is_file()
    assert list((tmp_path / "tmp").iterdir()) == []  # each demo's temp dir went


async def test_presenter_keys_in_the_footer_only_in_the_demo(
        db_path: Path, fake: FakeRedtailServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The presenter sees F6-F8 in every footer and F6 moves a balance at the fake Redtail;
    the same advisor outside the demo has no such keys."""
    await prepare_plan(db_path, fake)
    # outside `plantech demo`, an environment naming an admin URL installs nothing either (a
    # user's shell cannot make the TUI post to a URL of its choosing)
    monkeypatch.setenv("PLANTECH_DEMO_ADMIN_URL", fake.admin_url)
    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot)
        assert not set(footer_keys(app)) & set(DEMO_KEYS)
        await pilot.press("f6")
        await settle(pilot)
        assert fake.state.demo_moves == 0

    app = PlantechApp(db_path, "advisor", demo_admin_url=fake.admin_url)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot)
        await until(pilot, lambda: DEMO_KEYS.items() <= footer_keys(app).items(),
                    "the plans footer lists the presenter keys")
        await pilot.press("enter")  # the plan: a crowded footer still has them
        await until(pilot, lambda: "Investment Assets" in screen_text(app), "the plan opens")
        await until(pilot, lambda: DEMO_KEYS.items() <= footer_keys(app).items(),
                    "the plan's footer lists the presenter keys")
        footer_line = screen_text(app).rstrip("\n").splitlines()[-1]
        assert "f6 Demo ±balance" in footer_line, footer_line
        assert "f8 Demo −account" in footer_line, footer_line
        await pilot.press("f6")
        await until(pilot, lambda: fake.state.demo_moves == 1, "F6 moved a balance")
        await pilot.press("f7")
        await until(pilot, lambda: fake.state.demo_adds == 1, "F7 added an account")


async def test_client_in_the_demo_has_no_presenter_keys(
        db_path: Path, fake: FakeRedtailServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Morticia (a client) in the demo: no presenter key in her footer, F6 does nothing."""
    from plantech_tui.service.workspace import Workspace

    ids = await prepare_plan(db_path, fake)
    ws = Workspace.open(db_path, "advisor")
    ws.add_user("morticia", "client", can_edit=True, plan_ids=[ids["plan_id"]])
    ws.close()
    app = PlantechApp(db_path, "morticia", demo_admin_url=fake.admin_url)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot)
        assert not set(footer_keys(app)) & set(DEMO_KEYS)
        await pilot.press("f6")
        await settle(pilot)
        assert fake.state.demo_moves == 0


async def test_add_integration_in_the_demo_shows_the_fakes_login(
        db_path: Path, fake: FakeRedtailServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The presenter showing step 1 (connect Redtail) does not have to know the fake's login:
    the form says it and has it filled in; outside the demo the form stays empty."""
    await prepare_plan(db_path, fake)
    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(120, 50)) as pilot:
        await settle(pilot)
        app.push_screen(AddIntegrationScreen())
        await settle(pilot)
        assert not app.screen.query("#demo-login")
        assert app.screen.query_one("#field-username", Input).value == ""

    monkeypatch.setenv("PLANTECH_DEMO_BASE_URL", fake.base_url)
    app = PlantechApp(db_path, "advisor", demo_admin_url=fake.admin_url)
    async with app.run_test(size=(120, 50)) as pilot:
        await settle(pilot)
        app.push_screen(AddIntegrationScreen())
        await settle(pilot)
        text = screen_text(app)
        assert f"Username {DEMO_USERNAME}, Password {DEMO_PASSWORD}" in text
        assert DEMO_API_KEY in text
        form = app.screen
        assert form.query_one("#field-username", Input).value == DEMO_USERNAME
        assert form.query_one("#field-password", Input).value == DEMO_PASSWORD
        assert form.query_one("#field-base_url", Input).value == fake.base_url


@pytest.fixture
def demo_db() -> Iterator[tuple[Path, dict[str, Any]]]:
    """`plantech demo`'s own set-up (fake, temp dir, seeded database), outside the test's loop."""
    with demo.demo_environment() as built:
        yield built


@pytest.mark.parametrize("user", [demo.CLIENT_USER, demo.PROFESSIONAL_USER])
async def test_demo_as_client_or_professional_shows_linked_accounts(
        user: str, demo_db: tuple[Path, dict[str, Any]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """`plantech demo --as morticia` / `--as lurch`: the client's view of the article, with
    accounts that flow from Redtail (the Redtail balance, the link), not only manual ones."""
    db_path, info = demo_db
    app = PlantechApp(db_path, user, demo_admin_url=info["admin_url"])
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot)
        assert "$1,500,000.00" in screen_text(app)  # the Linked column: two accounts
        await pilot.press("enter")
        await until(pilot, lambda: "Investment Assets" in screen_text(app), "plan opens")
        text = screen_text(app)
        assert "Charles Schwab 1937" in text  # added from Redtail
        assert "$250,000.00" in text  # Gomez 401(k): Redtail's balance, not the manual 240k
        assert "Pending" not in text
    detail = app.workspace.plan_detail(info["plan_id"])
    linked = sorted(a.description for a in detail.accounts if a.link is not None)
    assert linked == ["Charles Schwab 1937", "Gomez 401(k)"]
