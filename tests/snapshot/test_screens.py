"""Snapshots of the main screens (pytest-textual-snapshot), each also checking the screen's key
text. Deterministic: the data comes from the fake's demo set; the clock-dependent values
(pull times, "added" dates, the fake's port) are pinned in the test database and TZ=UTC.

`make test` never passes --snapshot-update; re-record deliberately and look at the SVGs."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from plantech_tui.app import PlantechApp
from plantech_tui.service.workspace import Workspace
from tests.pilot.helpers import fake_redtail, prepare_plan, screen_text, staged_id

SIZE = (120, 40)
PINNED_URL = "http://127.0.0.1:8765/api/public/v1"
PINNED_PULL = "2026-01-15T14:30:00Z"
SnapCompare = Callable[..., bool]


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def pin_clock(db_path: Path) -> None:
    """Test data only: fixed times (the app would not pull again today: local_date stays)."""
    conn = sqlite3.connect(db_path)
    with conn:
        conn.execute("UPDATE sync_runs SET started_at = ?, finished_at = ?",
                     [PINNED_PULL, PINNED_PULL])
        conn.execute("UPDATE staged_accounts SET last_updated = ?", [PINNED_PULL])
        conn.execute("UPDATE integrations SET created_at = '2026-01-02T09:00:00Z', "
                     "base_url = ?", [PINNED_URL])
        conn.execute("UPDATE balance_history SET at = ?", [PINNED_PULL])
    conn.close()


@pytest.fixture
def addams(db_path: Path) -> dict[str, Any]:
    """The Addams plan after a pull: Fidelity linked to "Gomez 401(k)" and paused, two
    accounts ignored, a second plan never pulled, a client with edit rights."""
    with fake_redtail() as srv:
        ids = asyncio.run(prepare_plan(db_path, srv))
    ws = Workspace.open(db_path, "advisor")
    plan_id = ids["plan_id"]
    ws.link_to_existing(plan_id, staged_id(ws, plan_id, 5001), ids["manual_id"])
    ws.pause(plan_id, ids["manual_id"])
    ws.ignore(plan_id, [staged_id(ws, plan_id, 5009)], "closed at maturity")
    ws.ignore(plan_id, [staged_id(ws, plan_id, 5007)], "held away")
    ws.create_plan("Munster Family", ["Herman Munster", "Lily Munster"])
    ws.add_user("morticia", "client", True, [plan_id])
    ws.close()
    pin_clock(db_path)
    return ids


def check(*texts: str, absent: tuple[str, ...] = ()) -> Callable[[Pilot[Any]], None]:
    def assert_text(pilot: Pilot[Any]) -> None:
        text = screen_text(pilot.app)  # type: ignore[arg-type]
        for expected in texts:
            assert expected in text, f"{expected!r} not on screen:\n{text}"
        for unexpected in absent:
            assert unexpected not in text, f"{unexpected!r} on screen:\n{text}"
    return assert_text


def steps(keys: tuple[str, ...], then: Callable[[Pilot[Any]], None]
          ) -> Callable[[Pilot[Any]], Awaitable[None]]:
    """Press keys (waiting for workers), stop the cursor blinking, then check the text."""
    async def run_before(pilot: Pilot[Any]) -> None:
        for key in keys:
            await pilot.press(key)
            await pilot.app.workers.wait_for_complete()
            await pilot.pause()
        for field in pilot.app.query(Input):
            field.cursor_blink = False
        await pilot.pause()
        then(pilot)
    return run_before


def test_plans(snap_compare: SnapCompare, db_path: Path, addams: dict[str, Any]) -> None:
    app = PlantechApp(db_path, "advisor")
    assert snap_compare(app, terminal_size=SIZE, run_before=steps((), check(
        "Addams Family", "Gomez Addams; Morticia Addams", "Munster Family",
        "2026-01-15 14:30 ⚠ stale", "never", "$250,000.00",
        "advisor (advisor, can edit)", "n New plan")))


NARROW = (80, 24)


def footer(*labels: str) -> Callable[[Pilot[Any]], None]:
    """The bottom line shows each label whole (and `?` for the rest), none cut."""
    def assert_footer(pilot: Pilot[Any]) -> None:
        last = screen_text(pilot.app).rstrip("\n").splitlines()[-1]  # type: ignore[arg-type]
        for label in (*labels, "? Help", "^p palette"):
            assert label in last, f"{label!r} not whole in the footer: {last!r}"
        assert "…" not in last
    return assert_footer


def both(*checks: Callable[[Pilot[Any]], None]) -> Callable[[Pilot[Any]], None]:
    def run(pilot: Pilot[Any]) -> None:
        for c in checks:
            c(pilot)
    return run


def test_plans_at_80x24(snap_compare: SnapCompare, db_path: Path,
                        addams: dict[str, Any]) -> None:
    """An advisor on an 80×24 SSH terminal: the plan names and the whole last-pull time (the
    stale mark) come first; Accounts and Clients make room (clients are in each plan's
    title); the footer's labels are whole."""
    app = PlantechApp(db_path, "advisor")
    assert snap_compare(app, terminal_size=NARROW, run_before=steps((), both(check(
        "Addams Family", "Munster Family", "2026-01-15 14:30 ⚠ stale", "Last pull",
        "$250,000.00"), footer("n New plan", "R Rename", "d Delete", "e Export CSV"))))


def test_investment_assets_at_80x24(snap_compare: SnapCompare, db_path: Path,
                                    addams: dict[str, Any]) -> None:
    """Investment Assets at 80×24: every column with its header, the account whole, the
    footer's keys whole (the ones that do not fit are on ?)."""
    app = PlantechApp(db_path, "advisor")
    assert snap_compare(app, terminal_size=NARROW, run_before=steps(("enter",), both(check(
        "Gomez 401(k)", "Description", "Investment type", "Owner", "Balance", "Redtail link",
        "$250,000.00", "⏸ paused"), footer("n New account", "p Play", "s Stop", "d Delete"))))


def test_pending_at_80x24(snap_compare: SnapCompare, db_path: Path,
                          addams: dict[str, Any]) -> None:
    """Pending Data at 80×24: company + last 4 is what a row must show, so the description is
    whole ("Jackson National 2207", not "Jackson National 22…"); the other columns shrink,
    with short headers rather than cut ones; the hint line and the triage keys are whole."""
    app = PlantechApp(db_path, "advisor")
    assert snap_compare(app, terminal_size=NARROW, run_before=steps(("enter", "P"), both(check(
        "Jackson National 2207", "Charles Schwab 1937", "Northern Trust 0931",
        "Wells Fargo 7264", "Allianz Life 0356", "Description", "Balance", "Default",
        "Notes", "RT type", "$1,250,000.00",
        "space mark · v range · * all · / filter · enter edit description · 1 2 3 tabs",
        absent=("National 22…", "Default ty…", "Redtail ty…")),
        footer("i Ignore", "l Link to Existing Item", "a Add to Plan"))))


def test_plan_integration_at_80x24(snap_compare: SnapCompare, db_path: Path,
                                   addams: dict[str, Any]) -> None:
    """Plan Integration's contacts at 80×24: the contact names whole, headers shown, the four
    buttons whole on two lines, the contact keys whole in the footer."""
    app = PlantechApp(db_path, "advisor")
    assert snap_compare(app, terminal_size=NARROW, run_before=steps(
        ("enter", "m", "down", "enter"), both(check(
            "Integration (2)", "Pending Data (8)", "Ignored Data (2)", "Redtail contact",
            "Gomez Addams", "Morticia Addams", "Contact id", "In plan as", "Co-client",
            "Add Integration (n)", "Link household (h)", "Remove link (d)",
            "Refresh Integrations (r)"),
            footer("n Add Integration", "h Link household", "d Remove link"))))


def test_advisor_integration(snap_compare: SnapCompare, db_path: Path,
                             addams: dict[str, Any]) -> None:
    app = PlantechApp(db_path, "advisor")
    assert snap_compare(app, terminal_size=SIZE, run_before=steps(("g", "down", "enter"), check(
        "Advisor Integration", "Redtail CRM", "Custom", "demo", "✓ connected", PINNED_URL,
        "Add Integration (n)")))


def test_plan_integration_pending(snap_compare: SnapCompare, db_path: Path,
                                  addams: dict[str, Any]) -> None:
    app = PlantechApp(db_path, "advisor")
    assert snap_compare(app, terminal_size=SIZE, run_before=steps(
        ("enter", "m", "down", "enter", "2"), check(
            "Pending Data (8)", "Ignored Data (2)", "Integration (2)", "Charles Schwab 1937",
            "Rollover IRA", "Traditional IRA", "balance unknown", "joint",
            "i Ignore", "l Link to Existing Item", "a Add to Plan",
            absent=("Fidelity 4401",))))


def test_ignored_pane(snap_compare: SnapCompare, db_path: Path,
                      addams: dict[str, Any]) -> None:
    app = PlantechApp(db_path, "advisor")
    assert snap_compare(app, terminal_size=SIZE, run_before=steps(
        ("enter", "m", "down", "enter", "3"), check(
            "Ignored Data (2)", "Chase", "closed at maturity", "HSA 0977", "held away",
            "I Stop Ignoring", "Stop Ignoring (I)")))


def test_account_editor_linked_and_paused(snap_compare: SnapCompare, db_path: Path,
                                          addams: dict[str, Any]) -> None:
    app = PlantechApp(db_path, "advisor")
    assert snap_compare(app, terminal_size=SIZE, run_before=steps(("enter", "enter"), check(
        "Gomez 401(k)", "🔗 Redtail CRM — Redtail account 5001 · ⏸ paused",
        "Last updated: 2026-01-15 14:30 (local time)",
        "Redtail updated_at: 2023-04-27 19:56 UTC", "▶ Play", "Stop", "Delete",
        "Save (ctrl+s)",
        # the description has the focus: p, s and d type there, so no button claims them
        absent=("Play (p)", "Stop (s)", "Delete (d)"))))


def test_account_editor_as_a_client(snap_compare: SnapCompare, db_path: Path,
                                    addams: dict[str, Any]) -> None:
    app = PlantechApp(db_path, "morticia")
    assert snap_compare(app, terminal_size=SIZE, run_before=steps(("enter", "enter"), check(
        "Gomez 401(k)", "🔗 Redtail CRM — Redtail account 5001 · ⏸ paused",
        "Last updated: 2026-01-15 14:30 (local time)", "morticia (client, can edit)",
        "Save (ctrl+s)", "Delete",
        absent=("Play", "Pause (p)", "Stop", "Delete (d)", "Plan Integration", "Refresh"))))


def test_pending_marked_and_filtered_at_80x24(snap_compare: SnapCompare, db_path: Path,
                                              addams: dict[str, Any]) -> None:
    app = PlantechApp(db_path, "advisor")
    assert snap_compare(app, terminal_size=(80, 24), run_before=steps(
        ("enter", "P", "space", "space", "slash", *"vanguard", "enter", "asterisk"), check(
            "Pending Data (8)", "Filter /", "vanguard", "Vanguard 0045", "Vanguard 0046",
            "4 marked, 2 hidden by the filter", "filter “vanguard”: 2 rows", "i Ignore",
            absent=("Charles Schwab 1937",))))
