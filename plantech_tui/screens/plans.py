"""Plans: the home screen (name, clients, totals, pending, last successful pull, staleness)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from ..domain.errors import PlantechError
from ..domain.models import PlanSummary
from ..domain.permissions import Action
from ..widgets.fmt import STALE_DAYS, days_since, local_time, money_display
from ..widgets.footer import KeyFooter
from ..widgets.record_table import Column, RecordTable
from ..widgets.topbar import TopBar
from . import actions
from .base import PlantechScreen


class PlansScreen(PlantechScreen):
    ACTIONS = actions.PLANS

    def compose(self) -> ComposeResult:
        yield TopBar("Plans")
        # the columns an advisor scans first come first: at 80 columns they still show
        columns = [Column("name", "Plan", min_width=20, keep=True),
                   Column("last_pull", "Last pull", min_width=24)]
        if self.ws.can(Action.PLAN_INTEGRATION):
            columns.append(Column("pending", "Pending", right=True))
        columns += [Column("linked", "Linked", right=True),
                    Column("manual", "Manual", right=True),
                    Column("accounts", "Accounts", right=True, short="Accts"),
                    Column("clients", "Clients")]
        empty = (f"No plans yet — press {self.key_of('new')} to create one." if self.ws.can(Action.MANAGE_PLANS)
                 else "No plans are shared with you yet.")
        yield Static("Plans", classes="screen-title")
        yield RecordTable(columns, empty_text=empty, id="plans")
        yield Static("enter open", classes="hint")
        yield KeyFooter()

    REFRESHED_ON_MOUNT = True  # on_mount reads the data (see PlantechScreen)

    def on_mount(self) -> None:
        self.refresh_data()
        self.query_one(RecordTable).focus()

    def _row(self, s: PlanSummary, failed: dict[int, str]) -> list[str | Text]:
        age = days_since(s.last_pull)
        last: str | Text = local_time(s.last_pull)
        if s.plan.id in failed:  # the last pull failed: said in words, not by colour alone
            last = Text(f"{last} {self.icons.error} {failed[s.plan.id]}", style="red")
        elif age is not None and age >= STALE_DAYS:
            last = Text(f"{last} {self.icons.warning} stale", style="yellow")
        cells: list[str | Text] = [s.plan.name, last]
        if self.ws.can(Action.PLAN_INTEGRATION):
            cells.append(f"{s.pending:,}" if s.pending else "—")
        cells += [money_display(s.total_linked), money_display(s.total_manual),
                  str(s.accounts), "; ".join(s.plan.clients) or "—"]
        return cells

    def refresh_data(self) -> str | None:
        table = self.query_one(RecordTable)
        plans = self.ws.list_plans()
        failed = self.ws.failed_pulls([s.plan.id for s in plans])
        changes = table.set_rows((str(s.plan.id), self._row(s, failed)) for s in plans)
        self.refresh_bindings()
        return changes.describe("plan") or None

    def _current(self) -> int | None:
        key = self.query_one(RecordTable).cursor_key
        return int(key) if key else None

    def action_state(self, action: str) -> bool | None:
        if action == "back":
            return False  # the home screen
        if action in ("rename_plan", "delete_plan", "export"):
            return None if self._current() is None else True
        return True

    def on_record_table_highlighted(self, event: RecordTable.Highlighted) -> None:
        self.refresh_bindings()

    def on_record_table_opened(self, event: RecordTable.Opened) -> None:
        self.papp.open_plan(int(event.key))

    def action_new_plan(self) -> None:
        from .plan_form import PlanFormModal

        if self.refused("new_plan"):
            return

        def done(plan_id: int | None) -> None:
            if plan_id:
                self.refresh_data()
                self.query_one(RecordTable).move_to(str(plan_id))

        self.app.push_screen(PlanFormModal(), done)

    def action_rename_plan(self) -> None:
        from .plan_form import PlanFormModal

        plan_id = self._current()
        if plan_id is None or self.refused("rename_plan"):
            return
        try:
            plan = self.ws.plan(plan_id)
        except PlantechError as exc:
            self.fail(exc)
            return
        def done(_plan_id: int | None) -> None:
            self.refresh_data()

        self.app.push_screen(PlanFormModal(plan), done)

    def action_delete_plan(self) -> None:
        from .dialogs import ConfirmModal

        plan_id = self._current()
        if plan_id is None:
            return
        try:
            plan = self.ws.plan(plan_id)
        except PlantechError as exc:
            self.fail(exc)
            return

        def chosen(value: str | None) -> None:
            if value != "delete":
                return
            try:
                self.ws.delete_plan(plan_id)
            except PlantechError as exc:
                self.fail(exc)
                return
            self.notify(f"Deleted plan {plan.name}.")
            self.refresh_data()

        self.app.push_screen(ConfirmModal(
            f"Delete plan {plan.name}?",
            "Its accounts, linked Redtail contacts, pending and ignored accounts are deleted. "
            "Nothing changes in Redtail.",
            [("Delete plan", "delete", "error")]), chosen)

    def action_export(self) -> None:
        from .export import ExportModal

        plan_id = self._current()
        if plan_id is not None:
            self.app.push_screen(ExportModal(plan_id))
