"""`?`: the keys of the screen you came from (only those your role has), and the global ones."""

from __future__ import annotations

from typing import Any

from textual.screen import Screen

from .actions import ActionSpec
from .base import TextModal

# (action id, its default key, the line); the key shown is the one `[keys]` gives it
GENERAL = [
    (None, "enter", "Open the highlighted row"),
    ("back", "escape", "Back"),
    ("filter", "/", "Filter the table (description, company, last 4, type, contact)"),
    ("sort", "o", "Sort by the next column, again to reverse (or click a column header)"),
    (None, "tab / shift+tab", "Move between fields and tables"),
    (None, "ctrl+p", "Command palette: every action by name"),
    ("global-menu", "g", "Global menu (Plans)"),
    ("help", "?", "This help"),
    ("quit", "ctrl+q", "Quit at once"),
]
# what advisors have besides (never shown to other roles)
ADVISOR_GENERAL = {
    "back": "Back (or clear the marks)",
    "global-menu": "Global menu: Plans, Advisor Integration, Pending inbox (i), Refresh all (R)",
}
DEMO_GENERAL = "Demo: move a balance / add / remove an account"


def general_lines(app: Any) -> list[tuple[str, str]]:
    from ..domain.permissions import Action

    def shown(action_id: str | None, key: str) -> str:
        """The key as written above, or the one `[keys]` put in its place."""
        return app.key_display_of(action_id, key) if action_id in app.keys else key

    advisor = app.workspace.can(Action.TRIAGE)
    lines = [(shown(action_id, key), ADVISOR_GENERAL.get(action_id or "", d) if advisor else d)
             for action_id, key, d in GENERAL]
    if app.workspace.can(Action.REFRESH):
        lines.insert(2, (f"{shown('cancel-pull', 'escape')} (while refreshing)",
                         "Cancel Refresh Integrations: nothing changes"))
    if app.permitted("demo_move_balance"):
        keys = " / ".join(shown(f"demo-{what}", f"F{n}") for what, n in (
            ("move-balance", 6), ("add-account", 7), ("remove-account", 8)))
        lines.insert(-2, (f"{keys} (or g then b / a / x)", DEMO_GENERAL))
    return lines


def key_lines(screen: Screen[Any]) -> list[tuple[str, str]]:
    """(key, description) of the screen's own keys — those this role may use (its registry's,
    with their keys as `[keys]` remapped them), whether or not they apply to the row at hand."""
    return [(key, spec.title) for spec, key in help_entries(screen)]


def help_entries(screen: Screen[Any]) -> list[tuple[ActionSpec, str]]:
    """(action, its key as the footer shows it) for every key of the screen the role has."""
    app: Any = screen.app
    permitted = getattr(screen, "permitted", lambda action: True)
    seen: set[str] = set()
    out = []
    for spec in getattr(screen, "SPECS", ()):
        if spec.key is None or spec.name in seen or spec.name in ("back", "cancel"):
            continue
        if spec.action.startswith("app.") or not permitted(spec.name):
            continue  # the presenter keys are the app's (general_lines)
        seen.add(spec.name)
        out.append((spec, app.key_display(spec, footer=True)))
    return out


class HelpScreen(TextModal):
    TEXT_ID = "help-text"

    def __init__(self, under: Screen[Any]) -> None:
        super().__init__()
        self.lines = key_lines(under)
        self.ids = list(dict.fromkeys(spec.id for spec, _key in help_entries(under)))
        self.under_title = type(under).__name__.removesuffix("Screen")

    def heading(self) -> str:
        return "Help — keys"

    def text(self) -> str:
        general = general_lines(self.app)
        width = max([len(k) for k, _ in self.lines + general] + [8])
        body = ["Keys here:"] + [f"  {k:<{width}}  {d}" for k, d in self.lines]
        body += ["", "Everywhere:"] + [f"  {k:<{width}}  {d}" for k, d in general]
        body += ["", remap_note(self.ids)]
        return "\n".join(body)


def remap_note(ids: list[str]) -> str:
    """Where keys are remapped, with this screen's action ids (the names `[keys]` takes)."""
    from ..config import config_path

    here = f" Here: {', '.join(ids)}." if ids else ""
    return (f'Remap a key in {config_path()}: a [keys] table of action id = "key" '
            f'(help = "f1"; "f1,ctrl+h" for two).{here}')
