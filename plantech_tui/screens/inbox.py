"""The Pending inbox (advisors, from the global menu): every pending Redtail account of every
plan the advisor sees, in one windowed table; enter opens that plan's Pending pane at the row."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from ..domain.models import Plan, StagedAccount
from ..domain.permissions import Action
from ..service.workspace import TableQuery
from ..widgets.fmt import money_display
from ..widgets.footer import KeyFooter
from ..widgets.record_table import Cell, Column, QuerySource, RecordTable
from ..widgets.topbar import TopBar
from . import actions
from .base import PlantechScreen
from .copy_rows import STAGED_COLUMNS, CopyRows, staged_row


def columns(crm: str) -> list[Column]:
    from .plan_integration import type_column

    return [Column("plan", "Plan", min_width=14),
            Column("description", "Description", min_width=20, keep=True),
            Column("balance", "Balance", right=True),
            Column("default", "Default type", short="Default"),
            Column("flags", "Notes"), type_column(crm)]


class InboxScreen(CopyRows, PlantechScreen):
    ACTIONS = actions.INBOX

    def compose(self) -> ComposeResult:
        yield TopBar("Pending inbox")
        yield Static("Pending inbox", id="inbox-title", classes="screen-title", markup=False)
        yield RecordTable(columns(self.crm), id="inbox-table",
                          empty_text="Nothing pending in any of your plans.")
        yield Static("enter open in its plan · / filter (plan, description, company, last 4, "
                     "type, contact) · o sort", classes="hint")
        yield KeyFooter()

    REFRESHED_ON_MOUNT = True  # on_mount reads the data (see PlantechScreen)

    def on_mount(self) -> None:
        if not self.shown_to(Action.PLAN_INTEGRATION):
            return
        table = self.query_one(RecordTable)
        table.set_source(QuerySource(self._keys, self._rows, search=self.ws.inbox_search),
                         reload=False)
        self.refresh_data()
        table.focus()

    def _keys(self, text: str, sort: str | None, descending: bool) -> list[int]:
        return self.ws.inbox_keys(TableQuery(text, sort, descending))

    def _rows(self, ids: list[int]) -> list[tuple[int, list[Cell], tuple[Plan, StagedAccount]]]:
        out: list[tuple[int, list[Cell], tuple[Plan, StagedAccount]]] = []
        for plan, s in self.ws.inbox_rows(ids):
            out.append((s.id, [plan.name, s.description, money_display(s.balance, "unknown"),
                               s.default_investment_type, self._flags(s),
                               s.account_type or "unknown"], (plan, s)))
        return out

    def _flags(self, s: StagedAccount) -> Text:
        i = self.icons
        parts = [text for flag, text in (
            (s.suggested_account_id is not None, f"{i.suggested} suggested link"),
            (s.review_type, f"{i.warning} review type"), (s.balance is None, "balance unknown"),
            (s.missing_at_source, f"{i.missing} missing at source"),
            (len(s.contact_ids) > 1, "joint"), (s.held_away, "held away")) if flag]
        return Text("; ".join(parts), style="yellow" if parts else "")

    def refresh_data(self) -> str | None:
        table = self.query_one(RecordTable)
        changes = table.reload()
        self.query_one("#inbox-title", Static).update(
            f"Pending inbox — {table.row_count:,} pending account"
            f"{'' if table.row_count == 1 else 's'}"
            + (" in the filter" if table.filter_text else " across your plans"))
        return f"Pending inbox: {changes.describe('pending account')}" if changes.any else None

    def copy_columns(self) -> tuple[str, ...]:
        return ("plan", *STAGED_COLUMNS)

    def copy_record(self, key: str, record: object) -> dict[str, object] | None:
        if not isinstance(record, tuple):
            return None
        plan, staged = record
        return {"plan": plan.name, **staged_row(staged)}

    def on_record_table_opened(self, event: RecordTable.Opened) -> None:
        from .plan_integration import PlanIntegrationScreen

        found = event.table.record(event.key)
        if found is None:
            return
        plan, staged = found
        self.app.push_screen(PlanIntegrationScreen(plan.id, tab="pending",
                                                   focus_key=str(staged.id)))
