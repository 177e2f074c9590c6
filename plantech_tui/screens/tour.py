"""The demo's tour: one screen with the article's steps, shown the first time `plantech demo`
runs (and again with `--tour`). Any key or a click closes it; it is marked seen as it opens."""

from __future__ import annotations

from pathlib import Path

from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from ..paths import make_private_dir
from .base import PlantechModal

TITLE = "Welcome to the PlanTech demo"
STEPS = """\
Two fake CRMs and a throw-away database: the Addams in Redtail, the Munsters in
Salesforce. The article's steps, on the plan "Addams Family" (enter on it):

  1. Connect a CRM       g → Advisor Integration → Add Integration (both are done
                         for you; Salesforce shows a code, approved after 4 s)
  2. Link contacts       m → Plan Integration → n: search "Addams",
                         mark Morticia (space), ctrl+s   (Gomez is linked already;
                         Wednesday comes from Salesforce: choose that integration)
  3. Refresh             r pulls every linked contact's accounts; a report follows
  4. Triage Pending      tab 2: i Ignore · l Link to Existing Item · a Add to Plan
  5. Pause, Play, Stop   on a linked account in Investment Assets: p and s

Presenter keys (in the footer): F6 moves a balance at Redtail, F7 adds an account,
F8 removes one; then r in the plan shows the change.
Try `plantech demo --as morticia` for the client's view. ? lists every key.

Any key to start (this tour opens once; plantech demo --tour shows it again)."""


class TourScreen(PlantechModal[None]):
    def __init__(self, marker: Path | None = None) -> None:
        super().__init__()
        self.marker = marker

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide tour", id="tour"):
            yield Static(TITLE, classes="dialog-title", markup=False)
            yield Static(STEPS, id="tour-steps", markup=False)

    def on_mount(self) -> None:
        self.mark_seen()

    def mark_seen(self) -> None:
        if self.marker is None:
            return
        try:
            make_private_dir(self.marker.parent)
            self.marker.touch()
        except OSError:  # a read-only home: the tour shows again next time, nothing worse
            pass

    def on_key(self, event: events.Key) -> None:
        event.stop()
        self.dismiss(None)

    def on_click(self, event: events.Click) -> None:
        event.stop()
        self.dismiss(None)
