"""Add Integration (in a plan): choose the integration, search Redtail contacts, select one or
several (already linked ones marked), Save — or link a contact's whole household."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Footer, Input, Select, SelectionList, Static
from textual.widgets.selection_list import Selection

from ..domain.errors import PlantechError, UsageError
from ..domain.permissions import Action
from ..partners.base import Partner
from ..widgets.checklist import CheckList
from ..widgets.fmt import plain, shown
from ..widgets.topbar import TopBar
from . import actions
from .base import FormMixin, PlantechScreen, button, field_row

CRITERIA = (("name", "Name"), ("first_name", "First name"), ("last_name", "Last name"),
            ("email", "Email"), ("account_number", "Account number"))


class ContactSearchScreen(FormMixin, PlantechScreen):
    ACTIONS = actions.CONTACT_SEARCH

    # -narrow below 100 columns: the result buttons go one under the other (app.tcss)
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]] | None] = [  # type: ignore[misc]
        (0, "-narrow"), (100, "-wide")]

    def __init__(self, plan_id: int) -> None:
        super().__init__()
        self.plan_id = plan_id
        self.found: dict[int | str, dict[str, Any]] = {}
        self.criteria: list[tuple[str, str]] = list(CRITERIA)
        self.busy = False

    def compose(self) -> ComposeResult:
        integrations = self.ws.list_integrations()
        plan = self.ws.plan(self.plan_id)
        yield TopBar(f"Plans › {plan.name} › Plan Integration › Add Integration")
        with Horizontal(id="search-layout"):
            # not a tab stop of its own: tab goes from field to field (and Cancel to them)
            with VerticalScroll(classes="form search-form", can_focus=False):
                yield Static("Add Integration", classes="screen-title")
                yield field_row("Integration", Select(
                    [(plain(f"{self._partner_label(i.partner)} · {i.username} "
                            f"({i.environment})"), i.id) for i in integrations],
                    value=integrations[0].id if integrations else Select.NULL,
                    allow_blank=not integrations, id="field-integration"))
                yield Static("Search criteria (any of):", classes="note")
                self.criteria = self._criteria(integrations)
                for name, label in self.criteria:
                    yield field_row(label, Input("", id=f"field-{name}"), id=f"row-{name}")
                yield Static("", id="form-error", classes="form-error", markup=False)
                with Horizontal(classes="buttons"):
                    yield button("Search (enter)", "search", "primary")
            with Vertical(classes="results"):
                yield Static(f"Matching {self._label()} contacts: enter search criteria and "
                             "press enter.", id="results-status", markup=False)
                yield CheckList(id="results")
                with Horizontal(classes="buttons"):
                    yield self.action_button("save", "primary", id="save")
                    yield self.action_button("link_household", id="household")
                    yield button("Cancel (esc)", "cancel")
        yield Footer()

    def on_mount(self) -> None:
        if not self.ws.can(Action.LINK_CONTACT):
            self.dismiss(None)
            return
        self.clear_form_error()
        self._show_criteria()
        self.query_one("#field-name", Input).focus()

    def on_select_changed(self, event: Select.Changed) -> None:
        """Another integration: its partner's own criteria and name (Salesforce searches by
        name or email; Redtail by five)."""
        if event.select.id == "field-integration":
            self._show_criteria()
            if not self.busy:
                self._status(f"Matching {self._label()} contacts: enter search criteria and "
                             "press enter.")

    def _show_criteria(self) -> None:
        own = {key for key, _ in self._partner().search_fields}
        for name, _label in self.criteria:
            row = self.query_one(f"#row-{name}")
            row.display = name in own
            if name not in own:
                self.query_one(f"#field-{name}", Input).value = ""

    @staticmethod
    def _partner_label(name: str) -> str:
        """"Redtail", "Salesforce": short enough for the chooser's width."""
        from ..partners import registry

        try:
            return registry.by_name(name).label
        except PlantechError:
            return name

    @staticmethod
    def _criteria(integrations: list[Any]) -> list[tuple[str, str]]:
        """Redtail's criteria, then any other partner's own (for the integrations shown)."""
        from ..partners import registry

        out = list(CRITERIA)
        for integration in integrations:
            try:
                partner = registry.by_name(integration.partner)
            except PlantechError:
                continue
            out += [f for f in partner.search_fields if f[0] not in {k for k, _ in out}]
        return out

    def _integration(self) -> int | None:
        value = self.query_one("#field-integration", Select).value
        return value if isinstance(value, int) else None

    def _partner(self, integration_id: int | None = None) -> Partner:
        """The partner of the chosen integration (before the form is mounted: the first
        integration's; none, or one this version does not know: the default)."""
        from ..partners import registry

        if integration_id is None:
            try:
                integration_id = self._integration()
            except Exception:  # before the form is mounted: the first integration
                found = self.ws.list_integrations()
                integration_id = found[0].id if found else None
        if integration_id is None:
            return registry.get()
        try:
            return registry.by_name(self.ws.integration(integration_id).partner)
        except PlantechError:
            return registry.get()

    def _label(self, integration_id: int | None = None) -> str:
        """The partner of the chosen integration as running text names it ("Redtail")."""
        return self._partner(integration_id).label

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_search()

    async def on_button_pressed(self, event: Button.Pressed) -> None:
        action = {"search": "search", "save": "save", "household": "link_household"}.get(
            event.button.id or "")
        if action:
            await self.run_action(action)
        else:
            self.dismiss(None)

    def _status(self, text: str) -> None:
        self.query_one("#results-status", Static).update(shown(text))

    # ------------------------------------------------------------------ search

    def action_search(self) -> None:
        if self.busy:
            return
        integration = self._integration()
        criteria = self.field_values(name for name, _ in self.criteria)
        self.clear_form_error()
        if integration is None:
            self.show_form_error(UsageError("choose an integration"))
            return
        if not any(str(v).strip() for v in criteria.values()):
            self.show_form_error(UsageError("give at least one search criterion"))
            self.query_one("#field-name", Input).focus()
            return
        self.busy = True
        self._status(f"{self.icons.pulling} Searching {self._label(integration)}…")
        self._search(integration, criteria)

    @work(exclusive=True, group="contact-search", exit_on_error=False)
    async def _search(self, integration: int, criteria: dict[str, str]) -> None:
        from ..service.connections import search_contacts_async

        try:
            found = await search_contacts_async(self.ws, self.plan_id, integration, criteria,
                                                connection_for=self.papp.connection_for)
        except PlantechError as exc:
            self.busy = False
            self._status("")
            self.show_form_error(exc)
            return
        self.busy = False
        source = self._label(integration)
        # Redtail's ids stay numbers (its rows keep redtail_contact_id); others are text
        self.found = {c.get("redtail_contact_id", c["source_contact_id"]): c
                      for c in found["contacts"]}
        results = self.query_one("#results", SelectionList)
        results.clear_options()
        for key, c in self.found.items():
            linked = c["linked"]
            label = (f"{self.icons.ok} {c['name']} ({source} {key}) — already linked" if linked
                     else f"{c['name']} ({source} {key})")
            results.add_option(Selection(plain(label), key, disabled=linked))
        n = len(found["contacts"])
        if n:
            # focus first and synchronously: keys typed as soon as the results show go to
            # them; on the first contact that can be selected (not an already linked one)
            results.highlighted = next(
                (i for i, c in enumerate(found["contacts"]) if not c["linked"]), 0)
            self.set_focus(results)
        self._status(
            (f"{n} matching contact(s)" if n else f"No {source} contact matches.")
            + (" — more than 200: narrow the search." if found["truncated"] else "")
            + (" Space selects; Save links the selected ones." if n else ""))

    # ------------------------------------------------------------------ link

    def action_save(self) -> None:
        integration = self._integration()
        chosen = list(self.query_one("#results", SelectionList).selected)
        if integration is None or self.busy:
            return
        if not chosen:
            self.notify("Select one or more contacts first (space).", severity="warning")
            return
        self.busy = True
        self._status(f"{self.icons.pulling} Linking…")
        self._link(integration, chosen, household=False)

    def action_link_household(self) -> None:
        integration = self._integration()
        results = self.query_one("#results", SelectionList)
        if integration is None or self.busy or results.highlighted is None:
            self.notify("Search, then highlight a contact whose household to link.",
                        severity="warning")
            return
        contact_id = results.get_option_at_index(results.highlighted).value
        self.busy = True
        self._status(f"{self.icons.pulling} Linking the household…")
        self._link(integration, [contact_id], household=True)

    @work(exclusive=True, group="contact-link", exit_on_error=False)
    async def _link(self, integration: int, contact_ids: list[int | str],
                    household: bool) -> None:
        from ..service.connections import link_contacts_async, link_household_async

        try:
            if household:
                linked = await link_household_async(self.ws, self.plan_id, integration,
                                                    contact_ids[0],
                                                    connection_for=self.papp.connection_for)
            else:
                linked = await link_contacts_async(self.ws, self.plan_id, integration,
                                                   contact_ids,
                                                   connection_for=self.papp.connection_for)
        except PlantechError as exc:
            self.busy = False
            self._status("")
            self.show_form_error(exc)
            return
        self.busy = False
        # as the web product: their accounts come with the plan's next launch, or at once
        # with Refresh Integrations
        self.notify(f"Linked {', '.join(c.name for c in linked)} to the plan. Refresh "
                    "Integrations (r) pulls their accounts now; otherwise the plan's next "
                    "launch does.", title="Plan Integration", timeout=8)
        self.dismiss(len(linked))
