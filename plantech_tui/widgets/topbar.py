"""The header: where you are, the pull in progress, who you are, and the "⋮" global menu."""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static

from .fmt import shown
from .icons import icons


class ActionLink(Static):
    """A clickable piece of text that runs an action (e.g. the "⋮" menus)."""

    DEFAULT_CSS = """
    ActionLink { width: auto; padding: 0 1; text-style: bold; }
    ActionLink:hover { background: $accent; color: $text; }
    """

    def __init__(self, label: str, action: str, *, id: str | None = None,
                 tooltip: str | None = None) -> None:
        super().__init__(label, id=id)
        self.action = action
        if tooltip:
            self.tooltip = tooltip

    async def on_click(self, event: events.Click) -> None:
        event.stop()
        await self.app.run_action(self.action, self.screen)


class TopBar(Horizontal):
    DEFAULT_CSS = """
    TopBar { dock: top; height: 1; background: $panel; }
    TopBar > #brand { width: auto; padding: 0 1; text-style: bold; color: $accent; }
    TopBar > #crumbs { width: 1fr; padding: 0 1; }
    TopBar > #pull-status { width: auto; padding: 0 1; color: $warning; }
    TopBar > #user { width: auto; padding: 0 1; color: $text-muted; }
    """

    def __init__(self, crumbs: str = "") -> None:
        super().__init__()
        self._crumbs = crumbs

    def compose(self) -> ComposeResult:
        yield Static("PlanTech", id="brand")
        yield Static(shown(self._crumbs), id="crumbs", markup=False)
        yield Static("", id="pull-status", markup=False)
        yield Static(shown(self.app.sub_title), id="user", markup=False)
        yield ActionLink(icons().menu, "app.global_menu", id="global-menu-button",
                         tooltip="Global menu (g)")

    def on_mount(self) -> None:
        self.watch(self.app, "pull_status", self._show_pull, init=True)

    def set_crumbs(self, text: str) -> None:
        self.query_one("#crumbs", Static).update(shown(text))

    def _show_pull(self, status: str) -> None:
        self.query_one("#pull-status", Static).update(
            f"{icons().pulling} {status}" if status else "")
