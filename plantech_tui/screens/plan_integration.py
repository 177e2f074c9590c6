"""Plan Integration (advisors only): the Integration table of linked Redtail contacts, and the
staged "Investment Assets" tab — Pending Data and Ignored Data — with triage.

Triage acts on the marked rows (space, *), else on the cursor row, then advances."""

from __future__ import annotations

from functools import partial
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Button, Footer, Static, TabbedContent, TabPane

from ..domain.errors import NotFound, PlantechError
from ..domain.models import PlanContact, PlanDetail, StagedAccount
from ..domain.permissions import Action
from ..widgets.fmt import money_display
from ..widgets.record_table import Column, RecordTable
from ..widgets.topbar import ActionLink, TopBar
from .base import Command, PlantechScreen, button
from .plan_menu import PlanMenuMixin

TABS = ("contacts", "pending", "ignored")
BY_TAB = {
    "contacts": {"add_integration", "link_household", "remove_link"},
    "pending": {"ignore", "link_existing", "add_to_plan", "edit_description", "toggle_mark",
                "mark_all"},
    "ignored": {"stop_ignoring", "toggle_mark", "mark_all"},
}
NO_ROW_NEEDED = {"add_integration"}


class PlanIntegrationScreen(PlanMenuMixin, PlantechScreen):
    BINDINGS: ClassVar[list[Binding]] = [  # type: ignore[assignment]
        Binding("n", "add_integration", "Add Integration", id="new"),
        Binding("h", "link_household", "Link household", id="link-household"),
        Binding("d", "remove_link", "Remove link", id="delete"),
        Binding("i", "ignore", "Ignore", id="ignore"),
        Binding("I", "stop_ignoring", "Stop Ignoring", id="stop-ignoring"),
        Binding("l", "link_existing", "Link to Existing Item", id="link"),
        Binding("a", "add_to_plan", "Add to Plan", id="add"),
        Binding("space", "toggle_mark", "Mark", id="mark"),
        Binding("asterisk", "mark_all", "Mark all", id="mark-all", show=False),
        Binding("u", "undo", "Undo", id="undo"),
        Binding("r", "refresh", "Refresh Integrations", id="refresh"),
        Binding("m", "plan_menu", "Plan menu", id="plan-menu"),
        Binding("e", "export", "Export", id="export", show=False),
        Binding("1", "show_tab('contacts')", "Integration", id="tab-1", show=False),
        Binding("2", "show_tab('pending')", "Pending", id="tab-2", show=False),
        Binding("3", "show_tab('ignored')", "Ignored", id="tab-3", show=False),
    ]
    REQUIRES = {
        "add_integration": Action.LINK_CONTACT,
        "link_household": Action.LINK_CONTACT,
        "remove_link": Action.LINK_CONTACT,
        "ignore": Action.TRIAGE,
        "stop_ignoring": Action.TRIAGE,
        "link_existing": Action.TRIAGE,
        "add_to_plan": Action.TRIAGE,
        "edit_description": Action.TRIAGE,
        "toggle_mark": Action.TRIAGE,
        "mark_all": Action.TRIAGE,
        "undo": Action.TRIAGE,
        "show_tab": Action.PLAN_INTEGRATION,
        **PlanMenuMixin.MENU_REQUIRES,
    }
    PALETTE = (
        ("Add Integration", "add_integration", "Search Redtail contacts and link them"),
        ("Link household", "link_household", "Link the highlighted contact's Redtail family"),
        ("Remove link", "remove_link", "Unlink the highlighted contact from this plan"),
        ("Ignore", "ignore", "Move the pending account(s) to Ignored Data"),
        ("Stop Ignoring", "stop_ignoring", "Return the ignored account(s) to Pending Data"),
        ("Link to Existing Item", "link_existing", "Link to one of the plan's accounts"),
        ("Add to Plan", "add_to_plan", "Create a linked account from this Redtail account"),
        ("Edit description", "edit_description", "Edit the staged description"),
        ("Undo", "undo", "Undo the last triage action of this session"),
        *PlanMenuMixin.MENU_PALETTE,
    )

    def __init__(self, plan_id: int, tab: str = "contacts") -> None:
        super().__init__()
        self.plan_id = plan_id
        self.initial_tab = tab if tab in TABS else "contacts"
        self.detail: PlanDetail | None = None
        self._contacts: dict[str, PlanContact] = {}
        self._staged: dict[str, StagedAccount] = {}

    def compose(self) -> ComposeResult:
        yield TopBar("Plans › Plan Integration")
        with Horizontal(classes="plan-head"):
            yield Static("", id="plan-title", markup=False)
            yield ActionLink(f"{self.icons.menu} Plan menu (m)", "plan_menu",
                             id="plan-menu-button")
        with TabbedContent(initial=self.initial_tab, id="tabs"):
            with TabPane("Integration", id="contacts"):
                yield RecordTable(
                    [Column("name", "Redtail contact"), Column("contact", "Contact id"),
                     Column("integration", "Integration"), Column("party", "In plan as")],
                    empty_text="No linked Redtail contacts yet — press n (Add Integration) to "
                    "search Redtail and link them.", id="contacts-table")
                with Horizontal(classes="buttons"):
                    yield button("Add Integration (n)", "btn-add_integration", "primary")
                    yield button("Link household (h)", "btn-link_household")
                    yield button("Remove link (d)", "btn-remove_link")
                    yield button("Refresh Integrations (r)", "btn-refresh")
            with TabPane("Pending Data", id="pending"):
                yield Static("Investment Assets — Redtail accounts to link, add or ignore.",
                             classes="note")
                yield RecordTable(
                    [Column("description", "Description"), Column("balance", "Balance"),
                     Column("default", "Default type"), Column("flags", "Notes"),
                     Column("type", "Redtail type")],
                    empty_text="Nothing pending. Refresh Integrations (r) pulls new accounts.",
                    markable=True, id="pending-table")
                with Horizontal(classes="buttons"):
                    yield button("Ignore (i)", "btn-ignore")
                    yield button("Link to Existing Item (l)", "btn-link_existing")
                    yield button("Add to Plan (a)", "btn-add_to_plan", "primary")
            with TabPane("Ignored Data", id="ignored"):
                yield RecordTable(
                    [Column("description", "Description"), Column("balance", "Balance"),
                     Column("reason", "Reason"), Column("type", "Redtail type")],
                    empty_text="No ignored accounts.", markable=True, id="ignored-table")
                with Horizontal(classes="buttons"):
                    yield button("Stop Ignoring (I)", "btn-stop_ignoring")
        yield Static("space mark · * mark all · enter edit description · 1 2 3 tabs",
                     classes="hint")
        yield Footer()

    def on_mount(self) -> None:
        if not self.ws.can(Action.PLAN_INTEGRATION):  # never drawn for other roles
            self.app.call_later(self.dismiss, None)
            return
        if self.refresh_data() == "gone":
            return
        self.table().focus()

    # ------------------------------------------------------------------ data

    @property
    def tab(self) -> str:
        return self.query_one(TabbedContent).active or "contacts"

    def table(self, tab: str | None = None) -> RecordTable:
        return self.query_one(f"#{tab or self.tab}-table", RecordTable)

    def _flags(self, s: StagedAccount) -> Text:
        i = self.icons
        parts: list[str] = []
        if s.suggested_account_id is not None and self.detail is not None:
            match = next((a for a in self.detail.accounts if a.id == s.suggested_account_id), None)
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
        return Text("; ".join(parts), style="yellow" if parts else "")

    def refresh_data(self) -> str | None:
        try:
            detail = self.ws.plan_detail(self.plan_id)
            integrations = {i.id: i for i in self.ws.list_integrations()}
        except NotFound as exc:
            self.fail(exc)
            self.app.call_later(self.papp.leave_plan)
            return "gone"
        except PlantechError as exc:
            self.fail(exc)
            return None
        self.detail = detail
        plan = detail.plan
        self.query_one(TopBar).set_crumbs(f"Plans › {plan.name} › Plan Integration")
        self.query_one("#plan-title", Static).update(
            f"{plan.name} — {' & '.join(plan.clients) or 'no clients'}")
        self._contacts = {str(c.id): c for c in detail.contacts}
        self._staged = {str(s.id): s for s in (*detail.pending, *detail.ignored)}

        def integration_label(integration_id: int) -> str:
            i = integrations.get(integration_id)
            return f"Redtail CRM · {i.username} ({i.environment})" if i else "Redtail CRM"

        self.table("contacts").set_empty_text(
            "No linked Redtail contacts yet — press n (Add Integration) to search Redtail and "
            "link them." if integrations else
            "No Redtail integration yet: connect Redtail from ⋮ (g) → Advisor Integration, "
            "then press n here to link contacts.")
        changes = [
            self.table("contacts").set_rows(
                (str(c.id), [c.name, str(c.redtail_contact_id),
                             integration_label(c.integration_id),
                             "Co-client" if c.party == "co_client" else "Client"])
                for c in detail.contacts),
            self.table("pending").set_rows(
                (str(s.id), [s.description, money_display(s.balance, "unknown"),
                             s.default_investment_type, self._flags(s),
                             s.account_type or "unknown"]) for s in detail.pending),
            self.table("ignored").set_rows(
                (str(s.id), [s.description, money_display(s.balance, "unknown"),
                             s.ignore_reason or "", s.account_type or "unknown"])
                for s in detail.ignored),
        ]
        tabs = self.query_one(TabbedContent)
        tabs.get_tab("contacts").label = f"Integration ({len(detail.contacts)})"
        tabs.get_tab("pending").label = f"Pending Data ({len(detail.pending)})"
        tabs.get_tab("ignored").label = f"Ignored Data ({len(detail.ignored)})"
        self.refresh_bindings()
        said = [c.describe(noun) for c, noun in zip(
            changes, ("linked contact", "pending account", "ignored account"), strict=True)]
        said = [s for s in said if s]
        return f"{plan.name}: {'; '.join(said)}" if said else None

    def _chosen_staged(self, tab: str) -> list[StagedAccount]:
        return [self._staged[k] for k in self.table(tab).chosen() if k in self._staged]

    # ------------------------------------------------------------------ state

    def action_state(self, action: str) -> bool | None:
        for tab, actions in BY_TAB.items():
            if action in actions:
                if self.tab != tab:
                    return False
                if action in NO_ROW_NEEDED:
                    return True
                return True if self.table(tab).cursor_key else None
        if action == "undo":
            return bool(self.ws.undo_depth)
        return super().action_state(action)

    def palette_state(self, action: str) -> bool:
        return True  # palette commands switch to their tab first

    async def run_from_palette(self, action: str) -> None:
        for tab, actions in BY_TAB.items():
            if action in actions:
                self.show_tab(tab)
        await self.run_action(action)

    def palette_commands(self) -> list[Command]:
        return [(title, help_, partial(self.run_from_palette, action))
                for title, action, help_ in self.PALETTE if self.permitted(action)]

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self.refresh_bindings()
        self.call_after_refresh(self.table().focus)

    def on_record_table_highlighted(self, event: RecordTable.Highlighted) -> None:
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
            self.notify("Connect Redtail first: ⋮ (g) → Advisor Integration → Add Integration.",
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
        from ..sync.actions import link_household_async

        before = {c.redtail_contact_id for c in self.ws.contacts(self.plan_id)}
        try:
            linked = await link_household_async(self.ws, self.plan_id, contact.integration_id,
                                                contact.redtail_contact_id,
                                                client_for=self.papp.client_for)
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

    def _done(self, message: str, tab: str) -> None:
        self.notify(message)
        table = self.table(tab)
        table.clear_marks()
        self.refresh_data()

    def action_ignore(self) -> None:
        from .staged_dialogs import IgnoreModal

        rows = self._chosen_staged("pending")
        if not rows:
            return

        def chosen(reason: str | None) -> None:
            if reason is None:
                return
            try:
                changed = self.ws.ignore(self.plan_id, [s.id for s in rows], reason)
            except PlantechError as exc:
                self.fail(exc)
                return
            self._done(f"Ignored {len(changed)} account(s)"
                       + (f": {rows[0].description}" if len(rows) == 1 else "") + ".", "pending")

        self.app.push_screen(IgnoreModal(rows), chosen)

    def action_stop_ignoring(self) -> None:
        rows = self._chosen_staged("ignored")
        if not rows:
            return
        try:
            changed = self.ws.stop_ignoring(self.plan_id, [s.id for s in rows])
        except PlantechError as exc:
            self.fail(exc)
            return
        self._done(f"{len(changed)} account(s) back in Pending Data"
                   + (f": {rows[0].description}" if len(rows) == 1 else "") + ".", "ignored")

    def _one_pending(self) -> StagedAccount | None:
        rows = self._chosen_staged("pending")
        if len(rows) > 1:
            self.notify("Link to Existing Item and Add to Plan take one account at a time: "
                        "clear the marks (esc) first.", severity="warning")
            return None
        return rows[0] if rows else None

    def action_link_existing(self) -> None:
        from .staged_dialogs import LinkExistingModal

        staged = self._one_pending()
        if staged is None or self.detail is None:
            return
        unlinked = [a for a in self.detail.accounts if a.link is None]

        def chosen(account_id: int | None) -> None:
            if account_id is None:
                return
            try:
                account = self.ws.link_to_existing(self.plan_id, staged.id, account_id)
            except PlantechError as exc:
                self.fail(exc)
                return
            self._done(f"Linked {staged.description} to {account.description}; its balance is "
                       f"now {money_display(account.balance)}.", "pending")

        self.app.push_screen(LinkExistingModal(staged, unlinked), chosen)

    def action_add_to_plan(self) -> None:
        from .account_editor import AccountEditorScreen
        from .staged_dialogs import AddToPlanModal

        staged = self._one_pending()
        if staged is None or self.detail is None:
            return
        suggested = next((a for a in self.detail.accounts
                          if a.id == staged.suggested_account_id), None)

        def edited(account_id: int | None) -> None:
            if account_id is not None:
                self.refresh_data()

        def chosen(values: dict[str, str] | None) -> None:
            if values is None:
                return
            self.app.push_screen(AccountEditorScreen(self.plan_id, staged=staged,
                                                     prefill=values), edited)

        self.app.push_screen(AddToPlanModal(staged, self.ws.mapping.investment_types,
                                            suggested), chosen)

    def action_edit_description(self) -> None:
        from .staged_dialogs import EditDescriptionModal

        rows = self._chosen_staged("pending")
        if not rows:
            return
        staged = rows[0]

        def chosen(text: str | None) -> None:
            if text is None:
                return
            try:
                self.ws.edit_staged_description(self.plan_id, staged.id, text)
            except PlantechError as exc:
                self.fail(exc)
                return
            self._done(f"Description saved: {' '.join(text.split())}.", "pending")

        self.app.push_screen(EditDescriptionModal(staged), chosen)

    def action_toggle_mark(self) -> None:
        self.table().toggle_mark()
        self.table().advance()

    def action_mark_all(self) -> None:
        self.table().mark_all()

    def action_undo(self) -> None:
        try:
            label = self.ws.undo()
        except PlantechError as exc:
            self.fail(exc, "Undo")
            return
        self.notify(f"Undid {label}.")
        self.refresh_data()

