"""Plan Integration (advisors only): the Integration table of linked Redtail contacts, and the
staged "Investment Assets" tab — Pending Data and Ignored Data — with triage.

Pending and Ignored are windowed tables over SQLite (filter /, sort o, 100k rows stay instant).
Triage acts on the marked rows (space, v range, * all in the filter), else on the cursor row,
then puts the cursor on the row that followed; u undoes the last action, bulk ones included."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Button, Static, TabbedContent, TabPane

from ..domain.errors import NotFound, PlantechError
from ..domain.models import PlanAccount, PlanContact, StagedAccount
from ..domain.permissions import Action
from ..service.workspace import TableQuery
from ..widgets.fmt import money_display, shown
from ..widgets.footer import KeyFooter
from ..widgets.record_table import Cell, Column, QuerySource, RecordTable
from ..widgets.topbar import ActionLink, TopBar
from . import actions
from .base import Command, PlantechScreen
from .copy_rows import STAGED_COLUMNS, CopyRows, staged_row
from .plan_menu import PlanMenuMixin

TABS = ("contacts", "pending", "ignored")
NO_ROW_NEEDED = {"add_integration"}
# the line under the tabs: the keys that work on the tab shown (contacts are not marked);
# pending's is at most 78 characters with the default keys: whole on one line at 80 columns
HINTS = {
    "contacts": ("filter", "sort"),
    "pending": ("toggle_mark", "mark_range", "mark_all", "filter", "enter edit description"),
    "ignored": ("toggle_mark", "mark_range", "mark_all", "filter", "sort"),
}
def type_column(crm: str) -> Column:
    """The partner's own account type ("Redtail type"; "CRM type" with several partners)."""
    return Column("type", f"{crm} type", short="RT type" if crm == "Redtail" else "Type")


def pending_columns(crm: str) -> list[Column]:
    return [Column("description", "Description", min_width=20, keep=True),
            Column("balance", "Balance", right=True),
            Column("contact", "Contact", min_width=8),
            Column("default", "Default type", short="Default"),
            Column("flags", "Notes"), type_column(crm)]


def ignored_columns(crm: str) -> list[Column]:
    return [Column("description", "Description", min_width=20, keep=True),
            Column("balance", "Balance", right=True),
            Column("contact", "Contact", min_width=8),
            Column("reason", "Reason"), type_column(crm)]


# a contact's place in the plan ("other": a household member who is neither, e.g. a child)
IN_PLAN_AS = {"client": "Client", "co_client": "Co-client", "other": "—"}


def joint_names(names: list[str]) -> str:
    """"Gomez"; a joint account "Gomez & Morticia"; none: "—"."""
    return " & ".join(names) or "—"


class PlanIntegrationScreen(CopyRows, PlanMenuMixin, PlantechScreen):
    ACTIONS = actions.PLAN_INTEGRATION

    REFRESHED_ON_MOUNT = True  # on_mount reads the data (see PlantechScreen)
    # -narrow below 100 columns: the Integration tab's four buttons go on two lines (app.tcss)
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]] | None] = [  # type: ignore[misc]
        (0, "-narrow"), (100, "-wide")]

    def __init__(self, plan_id: int, tab: str = "contacts", focus_key: str | None = None
                 ) -> None:
        super().__init__()
        self.plan_id = plan_id
        self.initial_tab = tab if tab in TABS else "contacts"
        self.focus_key = focus_key  # the row to put the cursor on (from the Pending inbox)
        self._contacts: dict[str, PlanContact] = {}
        self._accounts: dict[int, PlanAccount] = {}

    def compose(self) -> ComposeResult:
        crm = self.crm
        yield TopBar("Plans › Plan Integration")
        with Horizontal(classes="plan-head"):
            yield Static("", id="plan-title", markup=False)
            yield ActionLink(f"{self.icons.menu} {self.labelled(self.spec('plan_menu'))}", "plan_menu",
                             id="plan-menu-button")
        with TabbedContent(initial=self.initial_tab, id="tabs"):
            with TabPane("Integration", id="contacts"):
                yield RecordTable(
                    [Column("name", f"{crm} contact", min_width=20, keep=True),
                     Column("contact", "Contact id", short="Id"),
                     Column("integration", "Integration", short="Integ."),
                     Column("party", "In plan as")],
                    empty_text=f"No linked {crm} contacts yet — press {self.key_of('new')} "
                    f"(Add Integration) to search {crm} and link them.", id="contacts-table")
                with Horizontal(classes="buttons"):
                    yield self.action_button("add_integration", "primary")
                    yield self.action_button("link_household")
                    yield self.action_button("remove_link")
                    yield self.action_button("refresh")
            with TabPane("Pending Data", id="pending"):
                yield Static(f"Investment Assets — {crm} accounts to link, add or ignore.",
                             classes="note")
                yield RecordTable(
                    pending_columns(crm), markable=True, id="pending-table",
                    empty_text=f"Nothing pending. Refresh Integrations ({self.key_of('refresh')})"
                    " pulls new accounts.")
                with Horizontal(classes="buttons"):
                    yield self.action_button("ignore")
                    yield self.action_button("link_existing")
                    yield self.action_button("add_to_plan", "primary")
            with TabPane("Ignored Data", id="ignored"):
                yield RecordTable(
                    ignored_columns(crm), markable=True, id="ignored-table",
                    empty_text="No ignored accounts.")
                with Horizontal(classes="buttons"):
                    yield self.action_button("stop_ignoring")
        yield Static(self.tab_hint(self.initial_tab), id="tab-hint", classes="hint",
                     markup=False)
        yield KeyFooter()

    def on_mount(self) -> None:
        if not self.shown_to(Action.PLAN_INTEGRATION):
            return
        for state, rows in (("pending", self._pending_rows), ("ignored", self._ignored_rows)):
            self.table(state).set_source(QuerySource(
                partial(self._keys, state), rows, partial(self._existing, state),
                search=partial(self.ws.staged_search, self.plan_id, state)), reload=False)
        if self.refresh_data() == "gone":
            return
        if self.focus_key is not None:
            self.table().move_to(self.focus_key)
        self.table().focus()

    # ------------------------------------------------------------------ data

    @property
    def tab(self) -> str:
        return self.query_one(TabbedContent).active or "contacts"

    def table(self, tab: str | None = None) -> RecordTable:
        return self.query_one(f"#{tab or self.tab}-table", RecordTable)

    def _keys(self, state: str, text: str, sort: str | None, descending: bool) -> list[int]:
        return self.ws.staged_keys(self.plan_id, state, TableQuery(text, sort, descending))

    def _existing(self, state: str, ids: list[int]) -> list[int]:
        return self.ws.staged_in_state(self.plan_id, state, ids)

    def _pending_rows(self, ids: list[int]) -> list[tuple[int, list[Cell], StagedAccount]]:
        return [(s.id, [s.description, money_display(s.balance, "unknown"),
                        self._contact_names(s), s.default_investment_type, self._flags(s),
                        s.account_type or "unknown"],
                 s) for s in self.ws.staged_rows(self.plan_id, ids) if s.state == "pending"]

    def _ignored_rows(self, ids: list[int]) -> list[tuple[int, list[Cell], StagedAccount]]:
        return [(s.id, [s.description, money_display(s.balance, "unknown"),
                        self._contact_names(s), s.ignore_reason or "",
                        s.account_type or "unknown"], s)
                for s in self.ws.staged_rows(self.plan_id, ids) if s.state == "ignored"]

    def _contact_names(self, s: StagedAccount) -> str:
        """Whose account it is: the plan's linked contacts that list it ("Gomez Addams"; a
        joint account "Gomez & Morticia", or "Ann Lee; Bo Chan"), "—" when none is."""
        names = self._contact_short_names()
        listed = sorted({names[(s.integration_id, c)] for c in s.contact_ids
                         if (s.integration_id, c) in names}, key=str.casefold)
        return joint_names(listed)

    def _contact_short_names(self) -> dict[tuple[int, str], str]:
        """(integration, contact) → the name the Contact column shows: without the family
        name when every linked contact shares it (one household: "Gomez", "Morticia"; the
        plan's title names the family), else whole."""
        contacts = list(self._contacts.values())
        parts = [c.name.split() for c in contacts]
        family = {p[-1].casefold() for p in parts if p}
        shared = len(family) == 1 and all(len(p) > 1 for p in parts)
        return {(c.integration_id, c.source_contact_id): " ".join(p[:-1]) if shared else c.name
                for c, p in zip(contacts, parts, strict=True)}

    def _flags(self, s: StagedAccount) -> Text:
        i = self.icons
        parts: list[str] = []
        match = self._accounts.get(s.suggested_account_id or 0)
        if match is not None:
            parts.append(f"{i.suggested} looks like {match.description}")
        if s.review_type:
            parts.append(f"{i.warning} review type")
        if s.balance is None:
            parts.append("balance unknown")
        if s.missing_at_source:
            parts.append(f"{i.missing} missing at source")
        if len(s.contact_ids) > 1:
            parts.append("joint")
        if s.held_away:
            parts.append("held away")
        return Text("; ".join(parts), style="yellow" if parts else "")

    def refresh_data(self) -> str | None:
        try:
            plan = self.ws.plan(self.plan_id)
            contacts = self.ws.contacts(self.plan_id)
            integrations = {i.id: i for i in self.ws.list_integrations()}
            counts = self.ws.staged_counts(self.plan_id)
            self._accounts = {a.id: a for a in self.ws.unlinked_accounts(self.plan_id)}
        except NotFound as exc:
            self.fail(exc)
            self.app.call_later(self.papp.leave_plan)
            return "gone"
        except PlantechError as exc:
            self.fail(exc)
            return None
        self.query_one(TopBar).set_crumbs(f"Plans › {plan.name} › Plan Integration")
        self.query_one("#plan-title", Static).update(
            shown(f"{plan.name} — {' & '.join(plan.clients) or 'no clients'}"))
        self._contacts = {str(c.id): c for c in contacts}

        def integration_label(integration_id: int) -> str:
            i = integrations.get(integration_id)
            return f"{i.partner} · {i.username} ({i.environment})" if i else "—"

        new, menu = self.key_of("new"), self.papp.key_display_of("global-menu", "g")
        crm = self.crm
        self.table("contacts").set_empty_text(
            f"No linked {crm} contacts yet — press {new} (Add Integration) to search {crm} "
            "and link them." if integrations else
            f"No {crm} integration yet: connect {crm} from ⋮ ({menu}) → Advisor "
            f"Integration, then press {new} here to link contacts.")
        changes = [
            self.table("contacts").set_rows(
                (str(c.id), [c.name, str(c.redtail_contact_id),
                             integration_label(c.integration_id),
                             IN_PLAN_AS.get(c.party, "—")])
                for c in contacts),
            self.table("pending").reload(),
            self.table("ignored").reload(),
        ]
        tabs = self.query_one(TabbedContent)
        tabs.get_tab("contacts").label = f"Integration ({len(contacts)})"
        tabs.get_tab("pending").label = f"Pending Data ({counts['pending']:,})"
        tabs.get_tab("ignored").label = f"Ignored Data ({counts['ignored']:,})"
        self.refresh_bindings()
        said = [c.describe(noun) for c, noun in zip(
            changes, ("linked contact", "pending account", "ignored account"), strict=True)]
        said = [s for s in said if s]
        return f"{plan.name}: {'; '.join(said)}" if said else None

    def copy_table(self) -> RecordTable:
        return self.table()

    def copy_columns(self) -> tuple[str, ...]:
        if self.tab == "contacts":
            return ("name", "redtail_contact_id", "in_plan_as")
        return STAGED_COLUMNS

    def copy_record(self, key: str, record: object) -> dict[str, object] | None:
        if self.tab == "contacts":
            c = self._contacts.get(key)
            return None if c is None else {
                "name": c.name, "redtail_contact_id": c.redtail_contact_id,
                "in_plan_as": IN_PLAN_AS.get(c.party, "—")}
        return staged_row(record) if isinstance(record, StagedAccount) else None

    def _current(self, tab: str) -> StagedAccount | None:
        table = self.table(tab)
        record = table.record(table.cursor_key)
        return record if isinstance(record, StagedAccount) else None

    # ------------------------------------------------------------------ state

    def tab_hint(self, tab: str) -> str:
        tabs = " ".join(self.key_display(self.spec(f"tab-{n}")) for n in (1, 2, 3))
        return self.hint_line(*HINTS[tab], f"{tabs} tabs")

    def tabs_of(self, action: str) -> tuple[str, ...]:
        """The tabs an action acts on (empty: it is not one tab's)."""
        try:
            return self.spec(action).tabs
        except KeyError:
            return ()

    def action_state(self, action: str) -> bool | None:
        tabs = self.tabs_of(action)
        if tabs:
            tab = self.tab
            if tab not in tabs:
                return False
            if action in NO_ROW_NEEDED:
                return True
            if action == "link_suggested":
                current = self._current(tab)
                return current is not None and current.suggested_account_id in self._accounts
            return True if self.table(tab).cursor_key else None
        if action == "undo":
            return bool(self.ws.undo_depth)
        if action == "clear_marks":
            return self.tab != "contacts" and bool(self.table().marks)
        return super().action_state(action)

    def palette_state(self, action: str) -> bool:
        return True  # palette commands switch to their tab first

    async def run_from_palette(self, action: str) -> None:
        tabs = self.tabs_of(action)
        if tabs and self.tab not in tabs:  # switch to the tab the action belongs to
            self.show_tab(tabs[0])
        await self.run_action(action)

    def palette_commands(self) -> list[Command]:
        return [(title, help_, partial(self.run_from_palette, action))
                for title, action, help_ in self.PALETTE if self.permitted(action)]

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self.query_one("#tab-hint", Static).update(self.tab_hint(self.tab))
        self.refresh_bindings()
        self.call_after_refresh(self.table().focus)

    def on_record_table_highlighted(self, event: RecordTable.Highlighted) -> None:
        self.refresh_bindings()

    def on_record_table_marks_changed(self, event: RecordTable.MarksChanged) -> None:
        self.refresh_bindings()

    def on_record_table_opened(self, event: RecordTable.Opened) -> None:
        if event.table.id == "pending-table" and self.check_action("edit_description", ()):
            self.action_edit_description()

    async def on_button_pressed(self, event: Button.Pressed) -> None:
        action = (event.button.id or "").removeprefix("btn-")
        await self.run_action(action)

    def show_tab(self, tab: str) -> None:
        if tab in TABS:
            self.query_one(TabbedContent).active = tab
            self.refresh_bindings()

    def action_show_tab(self, tab: str) -> None:
        self.show_tab(tab)

    def action_back(self) -> None:
        if self.tab != "contacts" and self.table().clear_marks():
            return
        super().action_back()

    # ------------------------------------------------------------------ contacts

    def _contact(self) -> PlanContact | None:
        key = self.table("contacts").cursor_key
        return self._contacts.get(key) if key else None

    def action_add_integration(self) -> None:
        from .contact_search import ContactSearchScreen

        if not self.ws.list_integrations():
            menu = self.papp.key_display_of("global-menu", "g")
            self.notify(f"Connect {self.crm} first: ⋮ ({menu}) → Advisor Integration → Add "
                        "Integration.",
                        title="No integration", severity="warning", timeout=8)
            return
        self.app.push_screen(ContactSearchScreen(self.plan_id))

    def action_link_household(self) -> None:
        contact = self._contact()
        if contact is None:
            self.notify("Highlight a linked contact first (or use Add Integration).")
            return
        self.run_worker(self._link_household(contact), group="contacts", exit_on_error=False)

    async def _link_household(self, contact: PlanContact) -> None:
        from ..service.connections import link_household_async

        before = {c.redtail_contact_id for c in self.ws.contacts(self.plan_id)}
        try:
            linked = await link_household_async(self.ws, self.plan_id, contact.integration_id,
                                                contact.redtail_contact_id,
                                                connection_for=self.papp.connection_for)
        except PlantechError as exc:
            self.fail(exc, "Link household")
            return
        new = [c.name for c in linked if c.redtail_contact_id not in before]
        self.notify(f"Linked {', '.join(new)}." if new else
                    f"The household of {contact.name} was already linked.",
                    title="Link household")
        self.refresh_data()

    def action_remove_link(self) -> None:
        from .dialogs import ConfirmModal

        contact = self._contact()
        if contact is None:
            return

        def chosen(value: str | None) -> None:
            if value != "remove":
                return
            try:
                self.ws.unlink_contact(self.plan_id, contact.integration_id,
                                       contact.redtail_contact_id)
            except PlantechError as exc:
                self.fail(exc)
                return
            self.notify(f"{contact.name} is no longer linked to this plan.")
            self.refresh_data()

        self.app.push_screen(ConfirmModal(
            f"Remove the link to {contact.name}?",
            "Its pending and ignored accounts that no other linked contact lists are removed. "
            "Its linked plan accounts are kept but no longer updated (source unlinked) until "
            "the contact is linked again or you press Stop.",
            [("Remove link", "remove", "error")]), chosen)

    # ------------------------------------------------------------------ triage

    def _chosen(self, tab: str) -> list[int]:
        return [int(k) for k in self.table(tab).chosen()]

    def _done(self, message: str | None, tab: str, acted: list[int], then: str | None) -> None:
        """After an action: say what happened (unless the screen that did it said so),
        unmark the rows that left, put the cursor on the row that followed them."""
        if message is not None:
            self.notify(message)
        table = self.table(tab)
        table.unmark(str(i) for i in acted)
        self.refresh_data()
        if then is not None:
            table.move_to(then)

    def _next_after(self, tab: str, ids: list[int]) -> str | None:
        return self.table(tab).next_key_after({str(i) for i in ids})

    def _bulk_confirm(self, title: str, body: str, verb: str, then: Callable[[], None]) -> None:
        from .dialogs import ConfirmModal

        def chosen(value: str | None) -> None:
            if value == "go":
                then()

        self.app.push_screen(ConfirmModal(title, body, [(verb, "go", "primary")]), chosen)

    def action_ignore(self) -> None:
        from .staged_dialogs import IgnoreModal

        ids = self._chosen("pending")
        if not ids:
            return
        table = self.table("pending")
        preview = self.ws.staged_rows(self.plan_id, ids[:8])
        then = self._next_after("pending", ids)

        def chosen(reason: str | None) -> None:
            if reason is None:
                return
            try:
                changed = self.ws.ignore(self.plan_id, ids, reason)
            except PlantechError as exc:
                self.fail(exc)
                return
            self._done(f"Ignored {len(changed):,} account(s)"
                       + (f": {preview[0].description}" if len(ids) == 1 and preview else "")
                       + ". Undo: u.", "pending", ids, then)

        self.app.push_screen(IgnoreModal(preview, total=len(ids), hidden=table.hidden_marks),
                             chosen)

    def action_stop_ignoring(self) -> None:
        from .staged_dialogs import CONFIRM_ABOVE, bulk_line

        ids = self._chosen("ignored")
        if not ids:
            return
        then = self._next_after("ignored", ids)

        def go() -> None:
            try:
                changed = self.ws.stop_ignoring(self.plan_id, ids)
            except PlantechError as exc:
                self.fail(exc)
                return
            first = self._current("ignored")
            self._done(f"{len(changed):,} account(s) back in Pending Data"
                       + (f": {first.description}" if len(ids) == 1 and first else "") + ".",
                       "ignored", ids, then)

        if len(ids) > CONFIRM_ABOVE:
            hidden = self.table("ignored").hidden_marks
            self._bulk_confirm(f"Stop Ignoring {len(ids):,} accounts?",
                               f"{bulk_line(len(ids), hidden)} go back to Pending Data. "
                               "Undo (u) takes the whole step back.", "Stop Ignoring", go)
        else:
            go()

    def _one_pending(self) -> StagedAccount | None:
        ids = self._chosen("pending")
        if len(ids) > 1:
            self.notify("Link to Existing Item takes one account at a time: clear the marks "
                        "(esc) first.", severity="warning")
            return None
        if not ids:
            return None
        rows = self.ws.staged_rows(self.plan_id, ids)
        return rows[0] if rows else None

    def action_link_existing(self) -> None:
        from .staged_dialogs import LinkExistingModal

        staged = self._one_pending()
        if staged is None:
            return
        unlinked = list(self._accounts.values())
        then = self._next_after("pending", [staged.id])

        def chosen(account_id: int | None) -> None:
            if account_id is None:
                return
            self._link(staged, account_id, then)

        self.app.push_screen(LinkExistingModal(staged, unlinked), chosen)

    def _link(self, staged: StagedAccount, account_id: int, then: str | None,
              how: str = "") -> None:
        try:
            account = self.ws.link_to_existing(self.plan_id, staged.id, account_id)
        except PlantechError as exc:
            self.fail(exc)
            return
        self._done(f"Linked {staged.description} to {account.description}{how}; its balance "
                   f"is now {money_display(account.balance)}.", "pending", [staged.id], then)

    def action_link_suggested(self) -> None:
        """L: accept the suggestion (★) of the highlighted pending row in one key."""
        staged = self._one_pending()
        if staged is None:
            return
        account = self._accounts.get(staged.suggested_account_id or 0)
        if account is None:
            self.notify(f"No suggested link for {staged.description}: use Link to Existing "
                        "Item (l).", severity="warning")
            return
        self._link(staged, account.id, self._next_after("pending", [staged.id]),
                   " (suggested)")

    def action_add_to_plan(self) -> None:
        ids = self._chosen("pending")
        if len(ids) > 1:
            self._bulk_add(ids)
        elif ids:
            self._add_one(ids[0])

    def _add_one(self, staged_id: int) -> None:
        from .account_editor import AccountEditorScreen
        from .staged_dialogs import AddToPlanModal

        rows = self.ws.staged_rows(self.plan_id, [staged_id])
        if not rows:
            return
        staged = rows[0]
        suggested = self._accounts.get(staged.suggested_account_id or 0)
        then = self._next_after("pending", [staged_id])

        def edited(account_id: int | None) -> None:
            if account_id is not None:  # the editor said "Added …" (one notice a save)
                self._done(None, "pending", [staged_id], then)

        def chosen(values: dict[str, str] | None) -> None:
            if values is None:
                return
            self.app.push_screen(AccountEditorScreen(self.plan_id, staged=staged,
                                                     prefill=values), edited)

        self.app.push_screen(AddToPlanModal(staged, self.ws.mapping.investment_types,
                                            suggested), chosen)

    def _bulk_add(self, ids: list[int]) -> None:
        from .staged_dialogs import BulkAddModal

        table = self.table("pending")
        try:
            left = self.ws.bulk_add_check(self.plan_id, ids)
        except PlantechError as exc:
            self.fail(exc)
            return
        then = self._next_after("pending", [i for i in ids if i not in left])

        def chosen(owner: str | None) -> None:
            if owner is None:
                return
            try:
                result = self.ws.bulk_add_to_plan(self.plan_id, ids, owner or None)
            except PlantechError as exc:
                self.fail(exc)
                return
            added = [i for i in ids if i not in result.left_pending]
            message = f"Added {len(result.added):,} accounts to the plan, linked to {self.crm}."
            if result.left_pending:
                reasons: dict[str, int] = {}
                for why in result.left_pending.values():
                    reasons[why] = reasons.get(why, 0) + 1
                message += (" Left pending (still marked): "
                            + "; ".join(f"{n:,} {why}" for why, n in sorted(reasons.items()))
                            + ".")
            self._done(message + " Undo: u.", "pending", added, then)

        self.app.push_screen(BulkAddModal(len(ids), table.hidden_marks, left,
                                          self.ws.staged_rows(self.plan_id, ids[:8])), chosen)

    def action_edit_description(self) -> None:
        from .staged_dialogs import EditDescriptionModal

        staged = self._current("pending")
        if staged is None:
            return

        def chosen(text: str | None) -> None:
            if text is None:
                return
            try:
                self.ws.edit_staged_description(self.plan_id, staged.id, text)
            except PlantechError as exc:
                self.fail(exc)
                return
            self._done(f"Description saved: {' '.join(text.split())}.", "pending", [],
                       str(staged.id))

        self.app.push_screen(EditDescriptionModal(staged), chosen)

    def action_toggle_mark(self) -> None:
        self.table().toggle_mark()
        self.table().advance()

    def action_mark_range(self) -> None:
        self.table().mark_range()

    def action_mark_all(self) -> None:
        self.table().mark_all()

    def action_clear_marks(self) -> None:
        self.table().clear_marks()

    def action_undo(self) -> None:
        try:
            label = self.ws.undo()
        except PlantechError as exc:
            self.fail(exc, "Undo")
            self.refresh_data()
            return
        self.notify(f"Undid {label}.", title="Undo")
        self.refresh_data()
