"""Dialogs of the Pending / Ignored panes: Ignore (optional reason), Link to Existing Item,
Add to Plan (description + investment type, then the editor), edit the staged description."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, OptionList, Select, Static
from textual.widgets.option_list import Option

from ..domain.errors import ValidationFailed
from ..domain.models import OWNERS, PlanAccount, StagedAccount
from ..widgets.fmt import money_display, plain, shown
from . import actions
from .base import FormMixin, PlantechModal, button, field_row


def staged_line(s: StagedAccount) -> str:
    return shown(f"{s.description} — Redtail type {s.account_type or 'unknown'}, "
                 f"{money_display(s.balance, 'balance unknown')}")


CONFIRM_ABOVE = 25  # a bulk action on more rows than this asks before it acts


def bulk_line(total: int, hidden: int, noun: str = "account") -> str:
    return (f"{total:,} {noun}{'' if total == 1 else 's'}"
            + (f" ({hidden:,} of them hidden by the filter)" if hidden else ""))


class IgnoreModal(PlantechModal[str | None]):
    """Dismisses with the reason ("" for none), or None when cancelled. Above CONFIRM_ABOVE
    rows it is also the confirmation: enter in the reason field goes to the button, so it
    takes a second, deliberate enter."""

    def __init__(self, rows: Sequence[StagedAccount], *, total: int | None = None,
                 hidden: int = 0) -> None:
        super().__init__()
        self.rows = list(rows)
        self.total = len(self.rows) if total is None else total
        self.hidden = hidden

    @property
    def confirming(self) -> bool:
        return self.total > CONFIRM_ABOVE

    def compose(self) -> ComposeResult:
        n = self.total
        with Vertical(classes="dialog form"):
            yield Static("Ignore" + (f" {n:,} accounts" if n > 1 else "")
                         + ("?" if self.confirming else ""), classes="dialog-title")
            first = self.rows[:8]
            yield Static("\n".join(staged_line(s) for s in first)
                         + (f"\n… and {n - len(first):,} more" if n > len(first) else ""),
                         markup=False)
            if self.hidden:
                yield Static(f"{self.icons.warning} {self.hidden:,} of the {n:,} marked "
                             "accounts are hidden by the filter.", classes="warning",
                             markup=False)
            yield Static("Ignored accounts move to Ignored Data and get no updates until you "
                         "Stop Ignoring them. Undo (u) brings them back.", classes="note")
            yield field_row("Reason (optional)", Input("", id="field-reason",
                                                       placeholder="e.g. held away, closed"))
            with Horizontal(classes="buttons"):
                yield button(f"Ignore {n:,} accounts" if self.confirming else "Ignore", "ok",
                             "primary")
                yield button("Cancel", "cancel")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.confirming:
            self.query_one("#ok", Button).focus()
        else:
            self.dismiss(event.value)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(self.query_one(Input).value if event.button.id == "ok" else None)


class BulkAddModal(PlantechModal[str | None]):
    """Bulk Add to Plan: one owner for all (or each row's own, from its contacts), the type
    defaulted per row; says which rows will stay pending and why. Dismisses with the owner
    ("" for each row's own) or None."""

    FROM_CONTACTS = "from-contacts"

    def __init__(self, total: int, hidden: int, left: dict[int, str],
                 sample: Sequence[StagedAccount]) -> None:
        super().__init__()
        self.total = total
        self.hidden = hidden
        self.left = left
        self.sample = list(sample)

    def compose(self) -> ComposeResult:
        adding = self.total - len(self.left)
        with Vertical(classes="dialog form wide"):
            yield Static(f"Add {adding:,} accounts to the plan"
                         + ("?" if self.total > CONFIRM_ABOVE else ""), classes="dialog-title",
                         markup=False)
            yield Static(f"Marked: {bulk_line(self.total, self.hidden)}.", markup=False)
            yield Static("Each becomes an account linked to Redtail with its Redtail "
                         "description and its defaulted investment type (you can edit each "
                         "later). Undo (u) takes the whole step back.", classes="note")
            if self.left:
                reasons: dict[str, int] = {}
                for why in self.left.values():
                    reasons[why] = reasons.get(why, 0) + 1
                text = "; ".join(f"{n:,} {why}" for why, n in sorted(reasons.items()))
                yield Static(f"{self.icons.warning} {len(self.left):,} will stay pending "
                             f"(and marked): {text}. Add those one at a time (a).",
                             classes="warning", id="left-pending", markup=False)
            yield field_row("Owner for all", Select(
                [("Each row's own (from its contacts)", self.FROM_CONTACTS),
                 *((o, o) for o in OWNERS)], value=self.FROM_CONTACTS,
                id="field-owner", allow_blank=False))
            with Horizontal(classes="buttons"):
                if adding:
                    yield button(f"Add {adding:,}", "ok", "primary")
                yield button("Cancel", "cancel")

    def on_mount(self) -> None:
        for ok in self.query("#ok").results(Button):
            ok.focus()
            return
        self.query_one("#cancel", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id != "ok":
            self.dismiss(None)
            return
        owner = self.query_one("#field-owner", Select).value
        self.dismiss("" if owner == self.FROM_CONTACTS else str(owner))


class EditDescriptionModal(FormMixin, PlantechModal[str | None]):
    ACTIONS = actions.FORM_SAVE

    def __init__(self, staged: StagedAccount) -> None:
        super().__init__()
        self.staged = staged

    def compose(self) -> ComposeResult:
        s = self.staged
        with Vertical(classes="dialog form"):
            yield Static(f"Redtail account {s.redtail_account_id}", classes="dialog-title")
            yield Static(shown(
                f"Company: {s.company or '—'} · number …{s.number_last4 or '—'}\n"
                f"Redtail type: {s.account_type or 'unknown'} → "
                f"{s.default_investment_type} ({s.type_note})\n"
                f"Balance: {money_display(s.balance, 'unknown')}"), markup=False)
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
                yield OptionList(*(Option(plain(self._label(a)), id=str(a.id))
                                   for a in self.accounts),
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

    ACTIONS = actions.CONTINUE

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
                yield Static(shown(f"{self.icons.warning} This looks like the existing account "
                                   f"{self.suggested.description!r}. To update that account "
                                   "instead, Cancel and use Link to Existing Item (l)."),
                             classes="warning", id="suggested-warning", markup=False)
            yield field_row("Description", Input(s.description, id="field-description"))
            yield field_row("Investment type", Select(
                [(t, t) for t in self.types], value=s.default_investment_type,
                id="field-investment_type", allow_blank=False))
            note = s.type_note or f"defaulted from Redtail type {s.account_type}"
            if s.review_type:
                note += f" — {self.icons.warning} please review the type"
            yield Static(shown(note), id="type-note", classes="note", markup=False)
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
