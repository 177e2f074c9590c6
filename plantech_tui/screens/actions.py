"""Every action of every screen, declared once: its key, its title, its help, the permission it
needs, its tab and its button. Bindings, the command palette, the footer, the hint lines, the
buttons and `?` help are generated from these tuples (RoleGated reads a screen's `ACTIONS`).

An action's `id` is the name the `[keys]` table of the config file uses (and the Binding's
id, which `App.set_keymap` matches): actions that do the same thing on different screens share
it (`new`, `delete`, `export`), so one line remaps them everywhere. Gating is by
`check_action` (RoleGated): a refused action's key, footer entry, button, palette command and
help line are never shown.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from textual.binding import Binding

from ..domain.permissions import Action

if TYPE_CHECKING:
    from collections.abc import Iterable


@dataclass(frozen=True)
class ActionSpec:
    id: str  # the [keys] name and the Binding id
    action: str  # the Textual action run ("show_tab('pending')"); its method is action_<name>
    title: str  # the footer label and the help line
    key: str | None = None  # default key(s), comma-separated; None: palette (and menu) only
    help: str = ""  # the palette's help line
    requires: Action | None = None  # the permission it needs (None: every role)
    tabs: tuple[str, ...] = ()  # the tabs it acts on (empty: every tab, or a screen without)
    button: str | None = None  # the label of its button, the key appended ("Ignore (i)")
    show: bool = True  # in the footer
    palette: str | None = ""  # the palette title ("": the title; None: not in the palette)
    hint: str | None = None  # a word on the hint line under the table ("mark" → "space mark")
    menu_key: str | None = None  # its letter in a menu (the global menu: "i" Pending inbox)
    first: bool = False  # a narrow footer shows it before the screen's others
    tooltip: str | None = None
    priority: bool = False

    @property
    def name(self) -> str:
        """The method's name: `action_<name>` (the action without its arguments)."""
        return self.action.split("(", 1)[0].removeprefix("app.")

    @property
    def palette_title(self) -> str | None:
        return None if self.palette is None else (self.palette or self.title)

    def binding(self) -> Binding:
        assert self.key is not None
        return Binding(self.key, self.action, self.title, show=self.show, id=self.id,
                       priority=self.priority, tooltip=self.tooltip or "")


def bindings(specs: Iterable[ActionSpec]) -> list[Binding]:
    return [s.binding() for s in specs if s.key is not None]


def palette(specs: Iterable[ActionSpec]) -> tuple[tuple[str, str, str], ...]:
    """The command palette's entries: (title as in the seed, action, help)."""
    return tuple((s.palette_title, s.action, s.help) for s in specs
                 if s.palette_title is not None)


def hide(spec: ActionSpec, **changes: Any) -> ActionSpec:
    """The same action, not in the footer (and other changes) on one screen."""
    return replace(spec, show=False, **changes)


# ---------------------------------------------------------------- every screen / dialog

BACK = ActionSpec("back", "back", "Back", "escape", palette=None)
DEMO = (  # `plantech demo`'s presenter keys (the app's check_action hides them otherwise)
    ActionSpec("demo-move-balance", "app.demo_move_balance", "Demo ±balance", "f6",
               palette=None),
    ActionSpec("demo-add-account", "app.demo_add_account", "Demo +account", "f7", palette=None),
    ActionSpec("demo-remove-account", "app.demo_remove_account", "Demo −account", "f8",
               palette=None),
)
SCREEN = (BACK, *DEMO)
MODAL = (ActionSpec("cancel", "cancel", "Cancel", "escape", palette=None),)

COPY = ActionSpec("copy", "copy_rows", "Copy", "y", palette="Copy rows as CSV",
                  help="Copy the highlighted row, or the marked rows, to the clipboard",
                  tooltip="Copy the highlighted or marked rows as CSV")

# the table's own keys (widgets/record_table.py binds them; here for the hint lines and ?)
TABLE_KEYS = {"filter": "slash", "sort": "o"}

# ---------------------------------------------------------------- the app (global)

APP = (
    ActionSpec("quit", "quit", "Quit", "ctrl+q", show=False, priority=True, palette=None),
    ActionSpec("global-menu", "global_menu", "Menu", "g", palette=None),
    ActionSpec("help", "help", "Help", "question_mark", help="Keys and what they do"),
    # only while a plan's pull runs and no dialog is open (the app's check_action)
    ActionSpec("cancel-pull", "cancel_pull", "Cancel pull", "escape", show=False,
               priority=True, palette=None),
    ActionSpec("advisor-integration", "advisor_integration", "Advisor Integration",
               help="Your Redtail integrations", requires=Action.ADVISOR_INTEGRATION),
    ActionSpec("inbox", "inbox", "Pending inbox", menu_key="i", requires=Action.PLAN_INTEGRATION,
               help="Every pending Redtail account of all your plans"),
    ActionSpec("refresh-all", "refresh_all", "Refresh all my plans", menu_key="R",
               requires=Action.REFRESH,
               help="Pull every plan from Redtail; a report per plan"),
    ActionSpec("user-audit", "user_audit", "User changes", menu_key="u",
               requires=Action.MANAGE_USERS,
               help="Who added, changed or removed which user, when"),
    ActionSpec("plans", "plans", "Plans", help="Back to the list of plans"),
    # the presenter keys: on every screen's footer (SCREEN above); the app's own for dialogs,
    # the palette and the global menu (its letters b, a, x)
    replace(DEMO[0], action="demo_move_balance", show=False, menu_key="b",
            requires=Action.ADVISOR_INTEGRATION, palette="Demo: move a balance",
            help="Presenter: the fake Redtail moves a balance"),
    replace(DEMO[1], action="demo_add_account", show=False, menu_key="a",
            requires=Action.ADVISOR_INTEGRATION, palette="Demo: add an account",
            help="Presenter: the fake Redtail adds an account"),
    replace(DEMO[2], action="demo_remove_account", show=False, menu_key="x",
            requires=Action.ADVISOR_INTEGRATION, palette="Demo: remove an account",
            help="Presenter: the fake Redtail removes an account"),
)

# ---------------------------------------------------------------- screens

PLANS = (
    ActionSpec("new", "new_plan", "New plan", "n", "Create a plan",
               requires=Action.MANAGE_PLANS),
    ActionSpec("rename", "rename_plan", "Rename", "R", "Rename the highlighted plan",
               requires=Action.MANAGE_PLANS, palette="Rename plan"),
    ActionSpec("delete", "delete_plan", "Delete", "d", "Delete the highlighted plan",
               requires=Action.MANAGE_PLANS, palette="Delete plan"),
    ActionSpec("export", "export", "Export CSV", "e",
               "Write the highlighted plan's accounts to a CSV file"),
)

# the plan menu (m) and the plan-level actions every plan screen has (PlanMenuMixin)
REFRESH = ActionSpec("refresh", "refresh", "Refresh Integrations", "r",
                     "Pull this plan's accounts from Redtail now", requires=Action.REFRESH)
PLAN_MENU_KEY = ActionSpec("plan-menu", "plan_menu", "Plan menu", "m", palette=None)
EXPORT = ActionSpec("export", "export", "Export", "e", "Write this plan's accounts to a CSV file",
                    palette="Export CSV")
PLAN_MENU_ITEMS = (  # in the plan menu and the palette, no key of their own
    ActionSpec("investment-assets", "investment_assets", "Investment Assets",
               help="This plan's accounts"),
    ActionSpec("plan-integration", "plan_integration", "Plan Integration",
               help="Linked Redtail contacts, Pending and Ignored",
               requires=Action.PLAN_INTEGRATION),
    ActionSpec("audit-log", "audit_log", "Audit log",
               help="Who did what in this plan, when; exportable as CSV",
               requires=Action.PLAN_INTEGRATION),
)

PAUSE_PLAY_STOP = (
    ActionSpec("pause-play", "pause", "Pause", "p", "Freeze the highlighted account's balance",
               requires=Action.PAUSE_PLAY_STOP),
    ActionSpec("pause-play", "play", "Play", "p",
               "Resume Redtail updates of the highlighted account",
               requires=Action.PAUSE_PLAY_STOP),
    ActionSpec("stop", "stop", "Stop", "s", "Break the Redtail link, keep the account",
               requires=Action.PAUSE_PLAY_STOP),
)

PLAN = (
    ActionSpec("new", "new_account", "New account", "n", "Add a manual investment account",
               requires=Action.EDIT_ACCOUNT),
    *PAUSE_PLAY_STOP,
    ActionSpec("delete", "delete_account", "Delete", "d", "Delete the highlighted account",
               requires=Action.EDIT_ACCOUNT, palette="Delete account"),
    REFRESH, PLAN_MENU_KEY,
    ActionSpec("pending", "plan_integration('pending')", "Pending Data", "P", show=False,
               palette=None, requires=Action.PLAN_INTEGRATION, hint="Pending Data"),
    EXPORT, COPY, *PLAN_MENU_ITEMS,
)

ACCOUNT_EDITOR = (
    ActionSpec("save", "save", "Save", "ctrl+s", "Save this account",
               requires=Action.EDIT_ACCOUNT, button="Save"),
    *(replace(spec, help=spec.help.replace("the highlighted account", "this account"))
      for spec in PAUSE_PLAY_STOP),
    ActionSpec("delete", "delete_account", "Delete", "d", "Delete this account",
               requires=Action.EDIT_ACCOUNT, palette="Delete account", button="Delete"),
)

MARKING = ("toggle_mark", "mark_range", "mark_all")
_STAGED = ("pending", "ignored")
PLAN_INTEGRATION = (
    ActionSpec("new", "add_integration", "Add Integration", "n",
               "Search Redtail contacts and link them", requires=Action.LINK_CONTACT,
               tabs=("contacts",), button="Add Integration", first=True),
    ActionSpec("link-household", "link_household", "Link household", "h",
               "Link the highlighted contact's Redtail family", requires=Action.LINK_CONTACT,
               tabs=("contacts",), button="Link household", first=True),
    ActionSpec("delete", "remove_link", "Remove link", "d",
               "Unlink the highlighted contact from this plan", requires=Action.LINK_CONTACT,
               tabs=("contacts",), button="Remove link", first=True),
    ActionSpec("ignore", "ignore", "Ignore", "i", "Move the pending account(s) to Ignored Data",
               requires=Action.TRIAGE, tabs=("pending",), button="Ignore", first=True),
    ActionSpec("stop-ignoring", "stop_ignoring", "Stop Ignoring", "I",
               "Return the ignored account(s) to Pending Data", requires=Action.TRIAGE,
               tabs=("ignored",), button="Stop Ignoring", first=True),
    ActionSpec("link", "link_existing", "Link to Existing Item", "l",
               "Link to one of the plan's accounts", requires=Action.TRIAGE, tabs=("pending",),
               button="Link to Existing Item", first=True),
    ActionSpec("link-suggested", "link_suggested", "Link to Suggested", "L",
               "Link to the account it looks like (★)", requires=Action.TRIAGE,
               tabs=("pending",)),
    ActionSpec("add", "add_to_plan", "Add to Plan", "a",
               "Create linked account(s) from the Redtail account(s)", requires=Action.TRIAGE,
               tabs=("pending",), button="Add to Plan", first=True),
    ActionSpec("mark", "toggle_mark", "Mark", "space",
               "Mark or unmark the highlighted row (space)", requires=Action.TRIAGE,
               tabs=_STAGED, hint="mark",
               tooltip="Mark or unmark the row (then the next one)"),
    ActionSpec("mark-range", "mark_range", "Mark range", "v",
               "Mark from the last mark to the cursor (v)", requires=Action.TRIAGE,
               tabs=_STAGED, show=False, hint="range"),
    ActionSpec("mark-all", "mark_all", "Mark all in the filter", "asterisk",
               "Mark every row of the current filter (*)", requires=Action.TRIAGE,
               tabs=_STAGED, show=False, palette="Mark all", hint="all"),
    ActionSpec("undo", "undo", "Undo", "u", "Undo the last triage action of this session",
               requires=Action.TRIAGE),
    replace(REFRESH, button="Refresh Integrations"), PLAN_MENU_KEY,
    hide(EXPORT),
    COPY,
    ActionSpec("tab-1", "show_tab('contacts')", "Integration", "1", show=False, palette=None,
               requires=Action.PLAN_INTEGRATION),
    ActionSpec("tab-2", "show_tab('pending')", "Pending", "2", show=False, palette=None,
               requires=Action.PLAN_INTEGRATION),
    ActionSpec("tab-3", "show_tab('ignored')", "Ignored", "3", show=False, palette=None,
               requires=Action.PLAN_INTEGRATION),
    # no key of their own: enter (the table's Open) and esc (Back)
    ActionSpec("edit-description", "edit_description", "Edit description",
               help="Edit the staged description", requires=Action.TRIAGE, tabs=("pending",)),
    ActionSpec("clear-marks", "clear_marks", "Clear marks", help="Unmark every row (esc)",
               requires=Action.TRIAGE),
    *PLAN_MENU_ITEMS,
)

ADVISOR_INTEGRATION = (
    ActionSpec("new", "add_integration", "Add Integration", "n", "Connect a Redtail CRM login",
               requires=Action.ADVISOR_INTEGRATION, button="Add Integration"),
    ActionSpec("delete", "remove_integration", "Remove", "d",
               "Remove the highlighted integration", requires=Action.ADVISOR_INTEGRATION,
               palette="Remove integration", button="Remove"),
    ActionSpec("reconnect", "reconnect", "Reconnect integration",
               help="Re-enter the login of the highlighted one",
               requires=Action.ADVISOR_INTEGRATION),
)

AUDIT_LOG = (
    ActionSpec("export", "export_audit", "Export CSV", "e",
               "Write the audit entries shown (the filter's) to a CSV file",
               requires=Action.PLAN_INTEGRATION, palette="Export audit log CSV",
               hint="export CSV"),
)

INBOX = (COPY,)

ADD_INTEGRATION = (
    ActionSpec("save", "save", "Save", "ctrl+s", "Connect with this login",
               requires=Action.ADVISOR_INTEGRATION, palette=None, button="Save"),
)

CONTACT_SEARCH = (
    ActionSpec("search", "search", "Search", None, "Search the partner's contacts",
               requires=Action.LINK_CONTACT, palette=None),  # the form's enter: no key
    ActionSpec("save", "save", "Save", "ctrl+s", "Link the chosen contacts",
               requires=Action.LINK_CONTACT, palette=None, button="Save"),
    ActionSpec("link-household", "link_household", "Link household", "h",
               "Link the highlighted contact's whole household", requires=Action.LINK_CONTACT,
               palette=None, button="Link household"),
)

DEVICE_CODE = (  # the OAuth device-flow dialog: the login goes on elsewhere
    ActionSpec("cancel", "cancel", "Cancel login", "escape", palette=None),
    ActionSpec("copy-code", "copy_code", "Copy code", "y", "Copy the code to the clipboard",
               palette=None, button="Copy code"),
)

FORM_SAVE = (ActionSpec("save", "save", "Save", "ctrl+s", palette=None),)
CONTINUE = (ActionSpec("save", "save", "Continue", "ctrl+s", palette=None),)


# every screen's registry by name (the consistency test and `[keys]` read them all)
REGISTRIES: dict[str, tuple[ActionSpec, ...]] = {
    "app": APP, "screen": SCREEN, "modal": MODAL, "plans": PLANS, "plan": PLAN,
    "account_editor": ACCOUNT_EDITOR, "plan_integration": PLAN_INTEGRATION,
    "advisor_integration": ADVISOR_INTEGRATION, "audit_log": AUDIT_LOG, "inbox": INBOX,
    "form_save": FORM_SAVE, "continue": CONTINUE, "add_integration": ADD_INTEGRATION,
    "device_code": DEVICE_CODE, "contact_search": CONTACT_SEARCH,
}
# ids bound by widgets, not by a registry here (the table's keys): [keys] may remap them too
WIDGET_IDS = frozenset({"filter", "sort", "clear-filter"})


def known_ids() -> frozenset[str]:
    """Every id the `[keys]` table of the config file may name."""
    return frozenset(s.id for specs in REGISTRIES.values() for s in specs
                     if s.key is not None) | WIDGET_IDS
