"""What the pilot and snapshot tests share: a fake Redtail, a prepared database, the screen as
plain text, and keyboard helpers (type, go to a row, choose a menu item)."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from textual import events
from textual.pilot import Pilot
from textual.widgets import OptionList

from plantech_tui.app import PlantechApp
from plantech_tui.partners.redtail.fake import (
    DEMO_API_KEY,
    DEMO_PASSWORD,
    DEMO_USERNAME,
    FakeRedtailServer,
    load_demo_data,
)
from plantech_tui.service import connections, pulls
from plantech_tui.service.workspace import Workspace
from plantech_tui.sync import credentials
from plantech_tui.widgets.record_table import RecordTable

__all__ = ["DEMO_API_KEY", "DEMO_PASSWORD", "DEMO_USERNAME", "fake_redtail"]


@contextmanager
def fake_redtail() -> Iterator[FakeRedtailServer]:
    credentials.reset_credential_store()
    with FakeRedtailServer(load_demo_data()) as srv:
        yield srv
    credentials.reset_credential_store()


async def prepare_plan(db_path: Path, srv: FakeRedtailServer, *, advisor: str = "advisor",
                       link: bool = True, pull: bool = True) -> dict[str, Any]:
    """The seed article's set-up done through the workspace: integration, the Addams plan with
    a manual "Gomez 401(k)", Gomez and Morticia linked, one pull."""
    ws = Workspace.open(db_path, advisor)
    try:
        integ, _ = await connections.connect_integration(
            ws, base_url=srv.base_url, username=DEMO_USERNAME, password=DEMO_PASSWORD,
            api_key=DEMO_API_KEY)
        plan = ws.create_plan("Addams Family", ["Gomez Addams", "Morticia Addams"])
        manual = ws.add_account(plan.id, {"description": "Gomez 401(k)",
                                          "investment_type": "401(k)", "balance": "240000",
                                          "number_last4": "4401"})
        if link:
            await connections.link_contacts_async(ws, plan.id, integ.id, [101, 102])
        if link and pull:
            await pulls.refresh_async(ws, plan.id)
        return {"integration_id": integ.id, "plan_id": plan.id, "manual_id": manual.id}
    finally:
        ws.close()


def staged_id(ws: Workspace, plan_id: int, redtail_account_id: int) -> int:
    detail = ws.plan_detail(plan_id)
    for s in (*detail.pending, *detail.ignored):
        if s.redtail_account_id == redtail_account_id:
            return s.id
    raise AssertionError(f"Redtail account {redtail_account_id} is not pending or ignored")


def screen_text(app: PlantechApp) -> str:
    """The screen as a user sees it, as plain text."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True,
                      color_system=None, record=True, legacy_windows=False)
    console.print(app.screen._compositor.render_update(
        full=True, screen_stack=app._background_screens))
    return console.export_text()


async def settle(pilot: Pilot[Any]) -> None:
    """Let workers finish and the screen catch up (no sleeps)."""
    for _ in range(2):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


async def until(pilot: Pilot[Any], holds: Any, what: str, limit: float = 30.0) -> None:
    """Pause (no sleeps: one idle cycle at a time) until `holds()` is true; a slow machine
    may need many cycles for a chain of messages (or a timer) to reach the screen. `limit`
    seconds is only the point at which a wait that never ends is called a failure."""
    deadline = time.monotonic() + limit
    while not holds():
        if time.monotonic() > deadline:
            app = pilot.app
            notes = " | ".join(f"{n.title}: {n.message}" for n in app._notifications)
            raise AssertionError(f"never happened: {what}\nscreen {type(app.screen).__name__}:\n"
                                 f"{screen_text(app)}\nnotifications: {notes or 'none'}")
        await pilot.pause()


async def type_text(pilot: Pilot[Any], selector: str, text: str) -> None:
    """Click a field (the mouse works too), clear it and paste the text into it (one event,
    as a terminal delivers a paste; `pilot.press` per character costs ~60 ms a key)."""
    await pilot.click(selector)
    widget = pilot.app.screen.query_one(selector)
    assert pilot.app.focused is widget, f"{selector} did not take the focus"
    await pilot.press("ctrl+a", "ctrl+k")  # home, delete to the end
    widget.post_message(events.Paste(text))
    await pilot.pause()
    assert widget.value == text  # type: ignore[attr-defined]


async def choose_option(pilot: Pilot[Any], label: str) -> None:
    """Pick the option whose text contains `label` in the focused screen's OptionList, with
    the arrow keys and enter, as a user does.

    Each arrow key is pressed only once the previous one has moved the highlight: on a loaded
    machine `pilot.press` can return before the list has handled the key, and reading a stale
    highlight would send one arrow too many (enter then picks the neighbour)."""
    menu = pilot.app.screen
    options = menu.query_one(OptionList)
    texts = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
    index = next(i for i, t in enumerate(texts) if label in t)
    options.focus()
    await until(pilot, lambda: pilot.app.focused is options and options.highlighted is not None,
                "the menu has the focus and a highlighted option")
    while (current := options.highlighted) != index:
        assert current is not None
        step = 1 if current < index else -1
        await pilot.press("down" if step > 0 else "up")
        await until(pilot, lambda: options.highlighted == current + step,  # noqa: B023
                    f"the highlight moves to option {current + step}")
    await pilot.press("enter")
    await until(pilot, lambda: pilot.app.screen is not menu, f"{label!r} closes the menu")


async def go_to_row(pilot: Pilot[Any], table_id: str, column: str, text: str) -> str:
    """Move the cursor (with the arrow keys) to the row whose `column` contains `text`; each
    key once the previous one has moved the cursor (see `choose_option`)."""
    table = pilot.app.screen.query_one(f"#{table_id}", RecordTable)
    key = table.find(column, text)
    assert key is not None, f"no row with {text!r} in {table_id}: {table.keys}"
    table.focus()
    await until(pilot, lambda: table.has_focus_within, f"{table_id} has the focus")
    while table.cursor_key != key:
        here = table.cursor_key
        down = table.keys.index(key) > table.keys.index(here or table.keys[0])
        await pilot.press("down" if down else "up")
        # moved (a reload by a pull or a poll in between may change the rows: look again)
        await until(pilot, lambda: table.cursor_key != here,  # noqa: B023
                    f"the cursor leaves row {here} of {table_id}")
    return key
