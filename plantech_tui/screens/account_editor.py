"""The investment-account editor: a manual account, a linked one (Redtail CRM, last updated,
Redtail's updated_at; Pause/Play/Stop for advisors), or a new one from a staged Redtail account
(Add to Plan → Continue). Form errors keep what was typed and focus the field at fault."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Footer, Input, Select, Sparkline, Static

from ..domain.errors import NotFound, PlantechError
from ..domain.models import OWNERS, LinkState, PlanAccount, StagedAccount
from ..domain.permissions import Action
from ..domain.triage import LINK_MOVES, Move, link_status, offered
from ..widgets.fmt import local_time, money_display, shown, utc_label
from ..widgets.topbar import TopBar
from . import actions
from .base import FormMixin, PlantechScreen, button, field_row

FIELDS = ("description", "investment_type", "owner", "balance", "number_last4", "equity_pct",
          "fixed_income_pct", "cash_pct", "annual_contribution", "notes")


def _plain(d: Decimal | None) -> str:
    if d is None:
        return ""
    text = f"{d:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


class AccountEditorScreen(FormMixin, PlantechScreen):
    ACTIONS = actions.ACCOUNT_EDITOR

    def __init__(self, plan_id: int, *, account_id: int | None = None,
                 staged: StagedAccount | None = None,
                 prefill: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.plan_id = plan_id
        self.account_id = account_id
        self.staged = staged
        self.prefill = prefill or {}
        self.account: PlanAccount | None = None
        self._as_loaded: dict[str, Any] = {}  # the form as shown, to tell unsaved changes

    # ------------------------------------------------------------------ layout

    @property
    def can_edit(self) -> bool:
        return self.ws.can(Action.EDIT_ACCOUNT)

    def compose(self) -> ComposeResult:
        if self.account_id is not None:
            self.account = self.ws.account(self.plan_id, self.account_id)
        a = self.account
        values = self._initial_values()
        types = list(self.ws.mapping.investment_types)
        if values["investment_type"] and values["investment_type"] not in types:
            types.append(values["investment_type"])
        yield TopBar("Plan Integration › Add to Plan" if self.staged is not None
                     else "Investment Assets › " + (a.description if a else "New account"))
        with VerticalScroll(classes="form page-form", id="editor"):
            yield Static(shown(self._title()), classes="screen-title", id="editor-title",
                         markup=False)
            yield Static("", id="link-info", classes="link-info", markup=False)
            yield field_row("Description", Input(values["description"],
                                                 id="field-description"))
            yield field_row("Investment type", Select(
                [(t, t) for t in types], value=values["investment_type"] or Select.NULL,
                id="field-investment_type", prompt="Choose a type"))
            yield field_row("Owner", Select(
                [(o, o) for o in OWNERS], value=values["owner"] or Select.NULL,
                id="field-owner", prompt="Client, Co-client or Joint"))
            yield field_row("Balance", Input(values["balance"], id="field-balance",
                                             placeholder="e.g. 125000.00"))
            yield Static("", id="balance-note", classes="note field-note", markup=False)
            yield field_row("Account number (last 4)", Input(
                values["number_last4"], id="field-number_last4", max_length=4,
                placeholder="optional"))
            yield field_row(
                "Allocation %",
                Input(values["equity_pct"], id="field-equity_pct", placeholder="equity %"),
                Input(values["fixed_income_pct"], id="field-fixed_income_pct",
                      placeholder="fixed income %"),
                Input(values["cash_pct"], id="field-cash_pct", placeholder="cash %"),
                id="row-allocation")
            yield field_row("Annual contribution", Input(
                values["annual_contribution"], id="field-annual_contribution",
                placeholder="optional"))
            yield field_row("Notes", Input(values["notes"], id="field-notes",
                                           placeholder="optional"))
            if a is not None:
                yield Static("", id="history-label", classes="note", markup=False)
                yield Sparkline([], id="history")
            yield Static("", id="form-error", classes="form-error", markup=False)
            with Horizontal(classes="buttons"):
                if self.can_edit:
                    yield self.action_button("save", "primary", id="save")
                if self.ws.can(Action.PAUSE_PLAY_STOP) and a is not None:
                    yield button("Pause", "pause-play")
                    yield button("Stop", "stop", "warning")
                if self.can_edit and a is not None:
                    yield button("Delete", "delete", "error")
                yield button("Back (esc)" if a is not None else "Cancel (esc)", "cancel")
        yield Footer()

    def _title(self) -> str:
        if self.staged is not None:
            return (f"Add to Plan — from {self.crm}: {self.staged.description} "
                    f"({self.staged.account_type or 'type unknown'})")
        if self.account is None:
            return "New investment account"
        return self.account.description

    def _initial_values(self) -> dict[str, str]:
        a = self.account
        if a is not None:
            return {"description": a.description, "investment_type": a.investment_type,
                    "owner": a.owner, "balance": _plain(a.balance),
                    "number_last4": a.number_last4 or "", "equity_pct": _plain(a.equity_pct),
                    "fixed_income_pct": _plain(a.fixed_income_pct),
                    "cash_pct": _plain(a.cash_pct),
                    "annual_contribution": _plain(a.annual_contribution), "notes": a.notes}
        values = dict.fromkeys(FIELDS, "")
        if self.staged is not None:
            s = self.staged
            values.update(description=s.description, investment_type=s.default_investment_type,
                          owner=self.ws.default_owner(self.plan_id, s),
                          balance=_plain(s.balance), number_last4=s.number_last4 or "")
        else:
            values["owner"] = "Client"
        values.update({k: v for k, v in self.prefill.items() if v is not None})
        return values

    def on_mount(self) -> None:
        self.clear_form_error()
        if not self.can_edit:
            for widget in self.query("Input, Select"):
                widget.disabled = True
        self._show_state()
        self._as_loaded = self.field_values(FIELDS)
        if self.can_edit:
            self.query_one("#field-description", Input).focus()
        else:
            self.query_one("#cancel", Button).focus()

    # ------------------------------------------------------------------ state

    def _balance_locked(self) -> str | None:
        """Why the balance cannot be typed, or None."""
        a = self.account
        if a is not None and a.link is not None and a.link.state is LinkState.ACTIVE:
            if self.ws.can(Action.PAUSE_PLAY_STOP):
                return (f"The balance comes from {self.crm} while the link is active: Pause or "
                        "Stop the link to edit it.")
            return f"The balance comes from {self.crm} while the account is linked."
        if self.staged is not None and self.staged.balance is not None:
            return (f"From {self.crm} ({money_display(self.staged.balance)}); each pull updates "
                    "it once the account is linked.")
        return None

    def _show_state(self) -> None:
        a = self.account
        i = self.icons
        if not self.can_edit:
            self.query_one("#editor-title", Static).update(
                shown(f"{self._title()} (read only)"))
        info = self.query_one("#link-info", Static)
        if a is not None and a.link is not None:
            link = a.link
            state = {LinkState.ACTIVE: "active", LinkState.PAUSED: f"{i.paused} paused",
                     LinkState.SOURCE_UNLINKED: f"{i.unlinked} source unlinked"}[link.state]
            lines = [f"{i.link} {link.integration} — {self.crm} account "
                     f"{link.redtail_account_id} · {state}",
                     f"Last updated: {local_time(link.last_updated)} (local time)",
                     f"{self.crm} updated_at: {utc_label(link.source_updated_at)}"]
            if link.state is LinkState.PAUSED:
                lines.append("Paused: the balance is kept until you press Play."
                             if self.ws.can(Action.PAUSE_PLAY_STOP) else
                             f"Paused by the advisor: {self.crm} does not update the balance.")
            if link.state is LinkState.SOURCE_UNLINKED:
                lines.append(f"Its {self.crm} contact was unlinked from the plan: not updated "
                             "until "
                             "the contact is linked again.")
            if link.missing_at_source:
                lines.append(f"{i.missing} Missing at source: {self.crm} no longer lists this "
                             "account.")
            info.update(shown("\n".join(lines)))
            info.display = True
        elif self.staged is not None:
            s = self.staged
            info.update(f"{i.link} {self.crm} account {s.redtail_account_id}; "
                        "Save creates an account linked to it.")
            info.display = True
        else:
            info.display = False
        locked = self._balance_locked()
        balance = self.query_one("#field-balance", Input)
        balance.disabled = bool(locked) or not self.can_edit
        text = locked or (f"{self.crm} has no balance for this account: enter one."
                          if self.staged is not None else "")
        note = self.query_one("#balance-note", Static)
        note.update(f"{i.warning} {text}" if text and self.staged is None else text)
        note.display = bool(text)
        for switch in self.query("#pause-play").results(Button):
            linked = a is not None and a.link is not None
            switch.display = linked
            if linked:
                assert a is not None and a.link is not None
                switch.disabled = a.link.state is LinkState.SOURCE_UNLINKED
        for stop in self.query("#stop").results(Button):
            stop.display = a is not None and a.link is not None
        self._label_keys()
        if a is not None:
            history = self.ws.balance_history(self.plan_id, a.id)
            spark = self.query_one("#history", Sparkline)
            spark.data = [float(b) for _, b, _ in history]
            spark.display = len(history) > 1
            self.query_one("#history-label", Static).update(
                f"Balance history: {len(history)} point(s)" + (
                    f", {money_display(history[0][1])} → {money_display(history[-1][1])}"
                    if len(history) > 1 else ""))
        self.refresh_bindings()

    def refresh_data(self) -> str | None:
        if self.account_id is None:
            return None
        try:
            self.account = self.ws.account(self.plan_id, self.account_id)
        except NotFound as exc:
            self.fail(exc)
            self.app.call_later(self.papp.leave_plan)
            return "gone"
        if self._balance_locked():
            self.query_one("#field-balance", Input).value = _plain(self.account.balance)
        self._show_state()
        return None

    # p, s and d are letters: in a text field they type themselves. So they are shown (on the
    # buttons and in the footer) and work only while the focus is elsewhere (tab to the
    # buttons); in a field the buttons and the palette (ctrl+p) do the same without a key.
    # (A key remapped to ctrl+… works in a field too.)
    LETTER_KEYS: ClassVar[frozenset[str]] = frozenset(
        {"pause", "play", "stop", "delete_account"})

    def _letter(self, action: str) -> bool:
        """The action's key types a character: it only works off the fields."""
        if action not in self.LETTER_KEYS:
            return False
        spec = self.spec(action)
        keys = (self.papp.keys.get(spec.id) or spec.key or "").split(",")
        return any(len(key.strip()) == 1 for key in keys)

    def _typing(self) -> bool:
        return isinstance(self.focused, Input)

    def _hint(self, name: str) -> str:
        return "" if self._typing() and self._letter(name) else \
            f" ({self.key_display(self.spec(name))})"

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self._typing() and self._letter(action):
            return False
        return super().check_action(action, parameters)

    def _label_keys(self) -> None:
        """The buttons' labels, with their key only where the key works (see LETTER_KEYS)."""
        a, i = self.account, self.icons
        paused = a is not None and a.link is not None and a.link.state is LinkState.PAUSED
        for switch in self.query("#pause-play").results(Button):
            switch.label = (f"{i.play} Play" if paused else f"{i.paused} Pause") + self._hint("pause")
        for stop in self.query("#stop").results(Button):
            stop.label = "Stop" + self._hint("stop")
        for delete in self.query("#delete").results(Button):
            delete.label = "Delete" + self._hint("delete_account")

    def on_descendant_focus(self) -> None:
        self._label_keys()
        self.refresh_bindings()

    def on_descendant_blur(self) -> None:
        self.call_after_refresh(self._label_keys)

    def action_state(self, action: str) -> bool | None:
        a = self.account
        if action in LINK_MOVES:  # what triage offers for the account's link (none: manual)
            return Move(action) in offered(link_status(a))
        if action == "delete_account":
            return a is not None
        return True

    # ------------------------------------------------------------------ actions

    async def on_button_pressed(self, event: Button.Pressed) -> None:
        button = event.button.id
        if button == "save":
            await self.run_action("save")
        elif button == "pause-play":
            paused = self.account and self.account.link and \
                self.account.link.state is LinkState.PAUSED
            await self.run_action("play" if paused else "pause")
        elif button == "stop":
            await self.run_action("stop")
        elif button == "delete":
            await self.run_action("delete_account")
        else:
            self.action_back()

    def unsaved(self) -> list[str]:
        """The fields changed since the form was shown (none for a read-only user)."""
        if not self.can_edit or not self._as_loaded:
            return []
        locked = bool(self._balance_locked())  # a pull may change it: not the user's change
        return [name for name in self.form_changes(FIELDS, self._as_loaded)
                if not (locked and name == "balance")]

    def action_back(self) -> None:
        """esc (or Back/Cancel): asks first when there are unsaved changes."""
        self.leave_or_ask(self.unsaved(), lambda: self.dismiss(None))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()

    def action_save(self) -> None:
        if self.refused("save"):
            return
        values = self.field_values(FIELDS)
        if self._balance_locked():
            values.pop("balance")
        self.clear_form_error()
        try:
            if self.staged is not None:
                account = self.ws.add_to_plan(self.plan_id, self.staged.id, values)
                self.notify(f"Added {account.description} to the plan, linked to {self.crm}.")
            elif self.account is None:
                account = self.ws.add_account(self.plan_id, values)
                self.notify(f"Added {account.description}.")
            else:
                account = self.ws.edit_account(self.plan_id, self.account.id, values)
                self.notify(f"Saved {account.description}.")
        except PlantechError as exc:
            self.show_form_error(exc)
            return
        self.dismiss(account.id)

    def _switch(self, verb: str) -> None:
        from .account_actions import pause_or_play

        if self.refused(verb):
            return
        if self.account is not None and pause_or_play(self, self.account, verb) is not None:
            self.refresh_data()

    def action_pause(self) -> None:
        self._switch("pause")

    def action_play(self) -> None:
        self._switch("play")

    def action_stop(self) -> None:
        from .account_actions import confirm_stop

        if self.account is not None and not self.refused("stop"):
            confirm_stop(self, self.account, lambda: self.refresh_data())

    def action_delete_account(self) -> None:
        from .account_actions import confirm_delete

        if self.account is not None and not self.refused("delete_account"):
            confirm_delete(self, self.account, lambda: self.dismiss(None))
