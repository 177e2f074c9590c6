"""A plan's Investment Assets: totals and the summary table (link icon beside integrated
accounts); the account editor opens from here. Opening it runs the automatic pull."""

from __future__ import annotations

from functools import partial

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static

from ..domain.errors import NotFound, PlantechError
from ..domain.models import LinkState, PlanAccount
from ..domain.permissions import Action
from ..domain.triage import LINK_MOVES, Move, link_status, offered
from ..service.workspace import TableQuery
from ..widgets.fmt import money_display, shown
from ..widgets.footer import KeyFooter
from ..widgets.record_table import Cell, Column, QuerySource, RecordTable
from ..widgets.topbar import ActionLink, TopBar
from . import actions
from .base import PlantechScreen
from .copy_rows import ACCOUNT_COLUMNS, CopyRows, account_row
from .plan_menu import PlanMenuMixin


class PlanScreen(CopyRows, PlanMenuMixin, PlantechScreen):
    ACTIONS = actions.PLAN

    def __init__(self, plan_id: int) -> None:
        super().__init__()
        self.plan_id = plan_id

    def compose(self) -> ComposeResult:
        yield TopBar("Plans › Investment Assets")
        with Horizontal(classes="plan-head"):
            yield Static("", id="plan-title", markup=False)
            yield ActionLink(f"{self.icons.menu} {self.labelled(self.spec('plan_menu'))}",
                             "plan_menu", id="plan-menu-button")
        yield Static("Investment Assets", classes="screen-title")
        yield Static("", id="totals", markup=False)
        menu = self.key_of("plan_menu")
        empty = (f"No accounts yet — press {self.key_of('new')} to add one"
                 + (f", or link {self.crm} contacts from Plan Integration ({menu})."
                    if self.ws.can(Action.PLAN_INTEGRATION) else ".")
                 if self.ws.can(Action.EDIT_ACCOUNT) else "No accounts in this plan yet.")
        yield RecordTable([Column("description", "Description", min_width=20,
                                  keep=True),
                           Column("type", "Investment type", short="Type"),
                           Column("owner", "Owner"),
                           Column("balance", "Balance", right=True),
                           Column("link", f"{self.crm} link", short="Link")],
                          empty_text=empty, id="accounts")
        yield Static(self.hint_line("enter open", "filter", "sort", "pending"), classes="hint")
        yield KeyFooter()

    REFRESHED_ON_MOUNT = True  # on_mount reads the data (see PlantechScreen)

    def on_mount(self) -> None:
        self.query_one(RecordTable).set_source(
            QuerySource(self._keys, self._rows,
                        search=partial(self.ws.account_search, self.plan_id)), reload=False)
        if self.refresh_data() == "gone":
            return
        self.query_one(RecordTable).focus()
        self.papp.start_auto_pull(self.plan_id)

    # ------------------------------------------------------------------ data

    def _link_cell(self, a: PlanAccount) -> Text:
        i = self.icons
        if a.link is None:
            return Text("manual")
        state = a.link.state
        parts = []
        if state is LinkState.PAUSED:
            parts.append(f"{i.paused} paused")
        elif state is LinkState.SOURCE_UNLINKED:
            parts.append(f"{i.unlinked} source unlinked")
        else:
            parts.append("active")
        if a.link.missing_at_source:
            parts.append(f"{i.missing} missing at source")
        style = "" if state is LinkState.ACTIVE and not a.link.missing_at_source else "yellow"
        return Text(" · ".join(parts), style=style)

    def _row(self, a: PlanAccount) -> list[Cell]:
        desc = f"{self.icons.link} {a.description}" if a.link else a.description
        return [desc, a.investment_type, a.owner, money_display(a.balance), self._link_cell(a)]

    def _keys(self, text: str, sort: str | None, descending: bool) -> list[int]:
        return self.ws.account_keys(self.plan_id, TableQuery(text, sort, descending))

    def _rows(self, ids: list[int]) -> list[tuple[int, list[Cell], PlanAccount]]:
        return [(a.id, self._row(a), a) for a in self.ws.accounts_by_id(self.plan_id, ids)]

    def refresh_data(self) -> str | None:
        try:
            summary = self.ws.plan_totals(self.plan_id)
        except NotFound as exc:
            self.fail(exc)
            self.app.call_later(self.papp.leave_plan)
            return "gone"
        except PlantechError as exc:
            self.fail(exc)
            return None
        plan = summary.plan
        self.query_one(TopBar).set_crumbs(f"Plans › {plan.name} › Investment Assets")
        self.query_one("#plan-title", Static).update(
            shown(f"{plan.name} — {' & '.join(plan.clients) or 'no clients'}"))
        totals = (f"Linked {money_display(summary.total_linked)} · "
                  f"Manual {money_display(summary.total_manual)}")
        if self.ws.can(Action.PLAN_INTEGRATION):
            totals += (f" · Pending {summary.pending:,} "
                       f"({money_display(summary.total_pending)})")
        self.query_one("#totals", Static).update(totals)
        changes = self.query_one(RecordTable).reload()
        self.refresh_bindings()
        return f"{plan.name}: {changes.describe('account')}" if changes.any else None

    def copy_columns(self) -> tuple[str, ...]:
        return ACCOUNT_COLUMNS

    def copy_record(self, key: str, record: object) -> dict[str, object] | None:
        return account_row(record) if isinstance(record, PlanAccount) else None

    def current(self) -> PlanAccount | None:
        table = self.query_one(RecordTable)
        record = table.record(table.cursor_key)
        return record if isinstance(record, PlanAccount) else None

    # ------------------------------------------------------------------ actions

    def action_state(self, action: str) -> bool | None:
        a = self.current()
        if action in LINK_MOVES:  # what triage offers for the row's link (none: manual)
            return Move(action) in offered(link_status(a))
        if action == "delete_account":
            return True if a else None
        return super().action_state(action)

    def on_record_table_highlighted(self, event: RecordTable.Highlighted) -> None:
        self.refresh_bindings()

    def on_record_table_opened(self, event: RecordTable.Opened) -> None:
        self.open_account(int(event.key))

    def open_account(self, account_id: int) -> None:
        from .account_editor import AccountEditorScreen

        self.app.push_screen(AccountEditorScreen(self.plan_id, account_id=account_id))

    def action_new_account(self) -> None:
        from .account_editor import AccountEditorScreen

        if self.refused("new_account"):
            return
        self.app.push_screen(AccountEditorScreen(self.plan_id))

    def _after(self) -> None:
        self.refresh_data()

    def action_pause(self) -> None:
        self._switch("pause")

    def action_play(self) -> None:
        self._switch("play")

    def _switch(self, verb: str) -> None:
        from .account_actions import pause_or_play

        if self.refused(verb):
            return
        a = self.current()
        if a is not None and pause_or_play(self, a, verb) is not None:
            self.refresh_data()

    def action_stop(self) -> None:
        from .account_actions import confirm_stop

        a = self.current()
        if a is not None and not self.refused("stop"):
            confirm_stop(self, a, self._after)

    def action_delete_account(self) -> None:
        from .account_actions import confirm_delete

        a = self.current()
        if a is not None and not self.refused("delete_account"):
            confirm_delete(self, a, self._after)
