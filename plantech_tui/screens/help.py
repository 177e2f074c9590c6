"""`?`: the keys of the screen you came from (only those your role has), and the global ones."""

from __future__ import annotations

from typing import Any

from textual.screen import Screen

from .base import TextModal

GENERAL = [
    ("enter", "Open the highlighted row"),
    ("escape", "Back"),
    ("/", "Filter the table (description, company, last 4, type, contact)"),
    ("o", "Sort by the next column, again to reverse (or click a column header)"),
    ("tab / shift+tab", "Move between fields and tables"),
    ("ctrl+p", "Command palette: every action by name"),
    ("g", "Global menu (Plans)"),
    ("?", "This help"),
    ("ctrl+q", "Quit at once"),
]
# what advisors have besides (never shown to other roles)
ADVISOR_GENERAL = {
    "escape": "Back (or clear the marks)",
    "g": "Global menu: Plans, Advisor Integration, Pending inbox (i), Refresh all (R)",
}
DEMO_GENERAL = ("F6 / F7 / F8 (or g then b / a / x)",
                "Demo: move a balance / add / remove an account")


def general_lines(app: Any) -> list[tuple[str, str]]:
    from ..domain.permissions import Action

    lines = list(GENERAL)
    if app.workspace.can(Action.TRIAGE):
        lines = [(k, ADVISOR_GENERAL.get(k, d)) for k, d in lines]
    if app.workspace.can(Action.REFRESH):
        lines.insert(2, ("escape (while refreshing)",
                         "Cancel Refresh Integrations: nothing changes"))
    if app.permitted("demo_move_balance"):
        lines.insert(-2, DEMO_GENERAL)
    return lines


def key_lines(screen: Screen[Any]) -> list[tuple[str, str]]:
    """(key, description) of the screen's own bindings — the ones this role has (the others
    were removed when the screen was built), whether or not they apply to the row at hand."""
    app = screen.app
    seen: set[str] = set()
    out = []
    for _key, binding in screen._bindings:
        if binding.id is None:  # Textual's own widget keys (cursor movement, copy, ...)
            continue
        if not binding.description or binding.action in seen:
            continue
        if binding.action in ("back", "cancel"):
            continue
        seen.add(binding.action)
        out.append((app.get_key_display(binding), binding.description))
    return out


class HelpScreen(TextModal):
    TEXT_ID = "help-text"

    def __init__(self, under: Screen[Any]) -> None:
        super().__init__()
        self.lines = key_lines(under)
        self.under_title = type(under).__name__.removesuffix("Screen")

    def heading(self) -> str:
        return "Help — keys"

    def text(self) -> str:
        general = general_lines(self.app)
        width = max([len(k) for k, _ in self.lines + general] + [8])
        body = ["Keys here:"] + [f"  {k:<{width}}  {d}" for k, d in self.lines]
        body += ["", "Everywhere:"] + [f"  {k:<{width}}  {d}" for k, d in general]
        return "\n".join(body)
