"""Create or rename a plan (a name, a client and an optional co-client)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Static

from ..domain.errors import PlantechError
from ..domain.models import Plan
from . import actions
from .base import FormMixin, PlantechModal, button, field_row

FIELDS = ("name", "client", "co_client")


class PlanFormModal(FormMixin, PlantechModal[int | None]):
    ACTIONS = actions.FORM_SAVE

    def __init__(self, plan: Plan | None = None) -> None:
        super().__init__()
        self.plan = plan
        self._as_loaded: dict[str, object] = {}

    def compose(self) -> ComposeResult:
        p = self.plan
        with Vertical(classes="dialog form"):
            yield Static("Rename plan" if p else "New plan", classes="dialog-title")
            yield field_row("Plan name", Input(p.name if p else "", id="field-name",
                                               placeholder="e.g. Addams Family"))
            yield field_row("Client", Input(p.client if p else "", id="field-client",
                                            placeholder="Gomez Addams"))
            yield field_row("Co-client (optional)", Input(
                (p.co_client or "") if p else "", id="field-co_client",
                placeholder="Morticia Addams"))
            yield Static("", id="form-error", classes="form-error", markup=False)
            with Horizontal(classes="buttons"):
                yield button("Save", "save", "primary")
                yield button("Cancel", "cancel")

    def on_mount(self) -> None:
        self.clear_form_error()
        self._as_loaded = self.field_values(FIELDS)
        self.query_one("#field-name", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self.action_save()
        else:
            self.action_cancel()

    def action_cancel(self) -> None:
        """esc / Cancel: asks first when something was typed."""
        self.leave_or_ask(self.form_changes(FIELDS, self._as_loaded), lambda: self.dismiss(None))

    def action_save(self) -> None:
        v = self.field_values(FIELDS)
        clients = [v["client"], v["co_client"]]
        try:
            if self.plan is None:
                plan = self.ws.create_plan(v["name"], clients)
                self.notify(f"Created plan {plan.name}.")
            else:
                plan = self.ws.rename_plan(self.plan.id, v["name"], clients)
                self.notify(f"Saved plan {plan.name}.")
        except PlantechError as exc:
            self.show_form_error(exc)
            return
        self.dismiss(plan.id)
