"""Dialogs of the Pending / Ignored panes: Ignore (optional reason), Link to Existing Item,
Add to Plan (description + investment type, then the editor), edit the staged description."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, OptionList, Select, Static
from textual.widgets.option_list import Option

from ..domain.errors import ValidationFailed
from ..domain.models import PlanAccount, StagedAccount
from ..widgets.fmt import money_display
from .base import FormMixin, PlantechModal, button, field_row


def staged_line(s: StagedAccount) -> str:
    return (f"{s.description} — Redtail type {s.account_type or 'unknown'}, "
            f"{money_display(s.balance, 'balance unknown')}")


class IgnoreModal(PlantechModal[str | None]):
    """Dismisses with the reason ("" for none), or None when cancelled."""

    def __init__(self, rows: Sequence[StagedAccount]) -> None:
        super().__init__()
        self.rows = list(rows)

    def compose(self) -> ComposeResult:
        n = len(self.rows)
        with Vertical(classes="dialog form"):
            yield Static("Ignore" + (f" {n} accounts" if n > 1 else ""), classes="dialog-title")
            yield Static("\n".join(staged_line(s) for s in self.rows[:8])
                         + (f"\n… and {n - 8} more" if n > 8 else ""), markup=False)
            yield Static("Ignored accounts move to Ignored Data and get no updates until you "
                         "Stop Ignoring them.", classes="note")
            yield field_row("Reason (optional)", Input("", id="field-reason",
                                                       placeholder="e.g. held away, closed"))
            with Horizontal(classes="buttons"):
                yield button("Ignore", "ok", "primary")
                yield button("Cancel", "cancel")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(self.query_one(Input).value if event.button.id == "ok" else None)


class EditDescriptionModal(FormMixin, PlantechModal[str | None]):
    BINDINGS: ClassVar[list[Binding]] = [  # type: ignore[assignment]
        Binding("ctrl+s", "save", "Save", id="save"),
    ]

    def __init__(self, staged: StagedAccount) -> None:
        super().__init__()
        self.staged = staged

    def compose(self) -> ComposeResult:
        s = self.staged
        with Vertical(classes="dialog form"):
            yield Static(f"Redtail account {s.redtail_account_id}", classes="dialog-title")
            yield Static(
                f"Company: {s.company or '—'} · number …{s.number_last4 or '—'}\n"
                f"Redtail type: {s.account_type or 'unknown'} → "
                f"{s.default_investment_type} ({s.type_note})\n"
                f"Balance: {money_display(s.balance, 'unknown')}", markup=False)
            yield field_row("Description", Input(s.description, id="field-description"))
            yield Static("", id="form-error", classes="form-error", markup=False)
            with Horizontal(classes="buttons"):
                yield button("Save", "ok", "primary")
                yield button("Cancel", "cancel")

    def on_mount(self) -> None:
        self.clear_form_error()
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ok":
            self.action_save()
        else:
            self.dismiss(None)

    def action_save(self) -> None:
        text = self.query_one(Input).value
        if not text.strip():
            self.show_form_error(ValidationFailed("description is required", field="description"))
            return
        self.dismiss(text)


class LinkExistingModal(PlantechModal[int | None]):
    """The plan's unlinked accounts, the suggested one first; dismisses with its id."""

    def __init__(self, staged: StagedAccount, accounts: Sequence[PlanAccount]) -> None:
        super().__init__()
        self.staged = staged
        suggested = staged.suggested_account_id
        self.accounts = sorted(accounts, key=lambda a: (a.id != suggested, a.id))

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Static("Link to Existing Item", classes="dialog-title")
            yield Static(staged_line(self.staged), markup=False)
            yield Static("Choose the plan account this Redtail account is. Only its balance "
                         "is updated from then on.", classes="note")
            if self.accounts:
                yield OptionList(*(Option(self._label(a), id=str(a.id)) for a in self.accounts),
                                 id="accounts")
            else:
                yield Static("This plan has no unlinked accounts. Add one on Investment Assets "
                             "(n) first, or use Add to Plan.", classes="note")
            with Horizontal(classes="buttons"):
                if self.accounts:
                    yield button("Save", "ok", "primary")
                yield button("Cancel", "cancel")

    def _label(self, a: PlanAccount) -> str:
        mark = (f"{self.icons.suggested} suggested · "
                if a.id == self.staged.suggested_account_id else "")
        return (f"{mark}{a.description} — {a.investment_type}, {a.owner}, "
                f"{money_display(a.balance)}")

    def on_mount(self) -> None:
        for options in self.query(OptionList):
            options.highlighted = 0
            options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(int(event.option.id or 0))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id != "ok":
            self.dismiss(None)
            return
        options = self.query_one(OptionList)
        if options.highlighted is not None:
            self.dismiss(int(options.get_option_at_index(options.highlighted).id or 0))


class AddToPlanModal(FormMixin, PlantechModal[dict[str, Any] | None]):
    """Description and investment type (defaulted, and says from what) → Continue."""

    BINDINGS: ClassVar[list[Binding]] = [  # type: ignore[assignment]
        Binding("ctrl+s", "save", "Continue", id="save"),
    ]

    def __init__(self, staged: StagedAccount, investment_types: Sequence[str],
                 suggested: PlanAccount | None) -> None:
        super().__init__()
        self.staged = staged
        self.types = list(investment_types)
        if staged.default_investment_type not in self.types:
            self.types.append(staged.default_investment_type)
        self.suggested = suggested

    def compose(self) -> ComposeResult:
        s = self.staged
        with Vertical(classes="dialog form wide"):
            yield Static("Add to Plan", classes="dialog-title")
            yield Static(staged_line(s), markup=False)
            if self.suggested is not None:
                yield Static(f"{self.icons.warning} This looks like the existing account "
                             f"{self.suggested.description!r}. To update that account instead, "
                             "Cancel and use Link to Existing Item (l).",
                             classes="warning", id="suggested-warning", markup=False)
            yield field_row("Description", Input(s.description, id="field-description"))
            yield field_row("Investment type", Select(
                [(t, t) for t in self.types], value=s.default_investment_type,
                id="field-investment_type", allow_blank=False))
            note = s.type_note or f"defaulted from Redtail type {s.account_type}"
            if s.review_type:
                note += f" — {self.icons.warning} please review the type"
            yield Static(note, id="type-note", classes="note", markup=False)
            yield Static("", id="form-error", classes="form-error", markup=False)
            with Horizontal(classes="buttons"):
                yield button("Continue", "ok", "primary")
                yield button("Cancel", "cancel")

    def on_mount(self) -> None:
        self.clear_form_error()
        self.query_one("#field-description", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ok":
            self.action_save()
        else:
            self.dismiss(None)

    def action_save(self) -> None:
        values = self.field_values(("description", "investment_type"))
        if not str(values["description"] or "").strip():
            self.show_form_error(ValidationFailed("description is required", field="description"))
            return
        self.dismiss(values)
