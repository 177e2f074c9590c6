"""Any failure of a background task is reported and logged in one place (issue 11, workers).

Adversary: a bug nobody foresaw in a background task — a KeyError from a record a partner
shaped oddly, a ValueError deep in a library — in a worker that only expects PlantechError.
Before, such a worker ended in silence (exit_on_error=False): a spinner turning forever, a
search that never answered. Now the app's one handler says so in a notice, logs the
traceback, and the session carries on.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from plantech_tui.app import PlantechApp
from plantech_tui.domain.errors import InvalidState
from plantech_tui.screens.plans import PlansScreen

from .helpers import screen_text, settle, until


def notices(app: PlantechApp) -> list[str]:
    return [f"{n.title}: {n.message}" for n in app._notifications]


def explode() -> None:
    raise KeyError("custodian_code")


async def explode_async() -> None:
    raise ValueError("odd record shape")


async def test_a_worker_failing_unexpectedly_is_reported_and_logged(
        db_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A screen's thread worker and an app worker both raise what no one caught: the user
    reads a notice naming the task and the error, the log has the traceback, and the app
    still answers keys."""
    caplog.set_level(logging.ERROR, logger="plantech.app")
    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, PlansScreen)
        screen.run_worker(explode, name="contact search", thread=True, exit_on_error=False)
        await until(pilot, lambda: any("contact search failed unexpectedly" in n
                                       for n in notices(app)), "the screen worker's notice")
        app.run_worker(explode_async(), name="refresh 7", exit_on_error=False)
        await until(pilot, lambda: any("refresh 7 failed unexpectedly" in n
                                       for n in notices(app)), "the app worker's notice")
        said = [n for n in notices(app) if "failed unexpectedly" in n]
        assert "KeyError" in said[0] and "custodian_code" in said[0]
        assert "ValueError: odd record shape" in said[1]
        assert all(n.startswith("Something went wrong:") for n in said)
        logged = [r for r in caplog.records if r.name == "plantech.app" and r.exc_info]
        assert {r.exc_info[0] for r in logged if r.exc_info} >= {KeyError, ValueError}
        await pilot.press("n")  # still alive: the New Plan form opens
        await until(pilot, lambda: "New plan" in screen_text(app), "the app still answers keys")


async def test_an_expected_failure_says_its_own_message(db_path: Path) -> None:
    """A PlantechError from a worker reads as the product wrote it, nothing more."""
    app = PlantechApp(db_path, "advisor")

    def refused() -> None:
        raise InvalidState("account 5 cannot pause: its link is source unlinked")

    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.screen.run_worker(refused, thread=True, exit_on_error=False)
        await until(pilot, lambda: any(n.endswith("account 5 cannot pause: its link is "
                                                  "source unlinked") for n in notices(app)),
                    "the error's own message")
        assert not any("unexpectedly" in n for n in notices(app))
