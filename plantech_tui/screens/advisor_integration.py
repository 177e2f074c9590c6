"""Advisor Integration: the advisor's integrations (Redtail, Salesforce) and their status
(advisors only)."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Button, Static

from ..domain.errors import PlantechError
from ..domain.models import Integration
from ..domain.permissions import Action
from ..widgets.fmt import local_time
from ..widgets.footer import KeyFooter
from ..widgets.record_table import Column, RecordTable
from ..widgets.topbar import TopBar
from . import actions
from .base import PlantechScreen


class AdvisorIntegrationScreen(PlantechScreen):
    ACTIONS = actions.ADVISOR_INTEGRATION

    def compose(self) -> ComposeResult:
        yield TopBar("Advisor Integration")
        yield Static("Advisor Integration", classes="screen-title")
        yield RecordTable(
            [Column("partner", "Partner", min_width=35), Column("environment", "Environment"),
             Column("username", "Username", min_width=24), Column("status", "Status"),
             Column("base_url", "Base URL"), Column("created", "Added")],
            empty_text=f"No integrations yet — press {self.key_of('add_integration')} (Add "
            "Integration) to connect Redtail CRM or Salesforce.",
            id="integrations")
        with Horizontal(classes="buttons"):
            for spec in self.SPECS:
                if spec.button and self.permitted(spec.name):
                    yield self.action_button(spec.name, "primary" if spec.id == "new"
                                             else "default")
        yield Static(self.hint_line("enter reconnect"), classes="hint")
        yield KeyFooter()

    REFRESHED_ON_MOUNT = True  # on_mount reads the data (see PlantechScreen)

    def on_mount(self) -> None:
        if not self.ws.can(Action.ADVISOR_INTEGRATION):  # never drawn for others
            self.app.call_later(self.dismiss, None)
            return
        self.refresh_data()
        self.query_one(RecordTable).focus()

    def _status(self, i: Integration) -> Text:
        if i.status == "connected":
            return Text(f"{self.icons.ok} connected", style="green")
        text = f"{self.icons.warning} {i.status}"
        if i.status_message:
            text += f": {i.status_message}"
        return Text(text, style="yellow")

    def refresh_data(self) -> str | None:
        try:
            items = self.ws.list_integrations()
        except PlantechError as exc:
            self.fail(exc)
            return None
        self._items = {str(i.id): i for i in items}
        changes = self.query_one(RecordTable).set_rows(
            (str(i.id), [i.partner, i.environment, i.username, self._status(i), i.base_url,
                         local_time(i.created_at)]) for i in items)
        self.refresh_bindings()
        return changes.describe("integration") or None

    def _current(self) -> Integration | None:
        key = self.query_one(RecordTable).cursor_key
        return self._items.get(key) if key else None

    def action_state(self, action: str) -> bool | None:
        if action in ("remove_integration", "reconnect"):
            return None if self._current() is None else True
        return True

    def on_record_table_highlighted(self, event: RecordTable.Highlighted) -> None:
        self.refresh_bindings()

    def on_record_table_opened(self, event: RecordTable.Opened) -> None:
        self.action_reconnect()

    async def on_button_pressed(self, event: Button.Pressed) -> None:
        await self.run_action((event.button.id or "").removeprefix("btn-"))

    def action_add_integration(self) -> None:
        from .add_integration import AddIntegrationScreen

        self.app.push_screen(AddIntegrationScreen())

    def action_reconnect(self) -> None:
        from .add_integration import AddIntegrationScreen

        current = self._current()
        if current is not None:
            self.app.push_screen(AddIntegrationScreen(current))

    @work(group="remove-integration", exit_on_error=False)
    async def _remove(self, current: Integration, *, keep_accounts: bool) -> None:
        """The rows go at once; the partner's revocation and the keyring run off the UI
        loop (a slow D-Bus or partner never freezes the screen)."""
        from ..service.connections import remove_integration_async

        try:
            _, warning = await remove_integration_async(self.ws, current.id,
                                                        keep_accounts=keep_accounts)
        except PlantechError as exc:
            self.fail(exc)
            return
        self.notify(f"Removed the integration {current.username} ({current.environment}).")
        if warning:
            self.notify(warning, title="Remove Integration", severity="warning", timeout=10)
        self.refresh_data()

    def action_remove_integration(self) -> None:
        from .dialogs import ConfirmModal

        current = self._current()
        if current is None:
            return

        def chosen(value: str | None) -> None:
            if value in ("keep", "delete"):
                self._remove(current, keep_accounts=value == "keep")

        self.app.push_screen(ConfirmModal(
            f"Remove {current.partner} integration {current.username} ({current.environment})?",
            "Its pending and ignored accounts are removed from every plan. What should happen "
            "to the plan accounts linked through it?",
            [("Keep them as manual accounts", "keep", "primary"),
             ("Delete them", "delete", "error")]), chosen)
