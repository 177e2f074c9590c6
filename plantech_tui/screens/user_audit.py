"""User changes (⋮ → User changes): the audit entries of user changes — who added, changed,
granted or removed whom, before → after — that the user may see (Workspace.user_audit_*:
every one for an administrator; for another advisor, those of the people of their plans).
The plan audit log's table and entry dialog, on a query that is not one plan's."""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.widgets import Static

from ..domain.models import AuditEntry
from ..domain.permissions import Action
from ..service.workspace import TableQuery
from ..widgets.fmt import local_time
from ..widgets.footer import KeyFooter
from ..widgets.record_table import Cell, QuerySource, RecordTable
from ..widgets.topbar import TopBar
from .audit_log import COLUMNS, AuditLogScreen, change_summary


class UserAuditScreen(AuditLogScreen):
    def __init__(self) -> None:
        super().__init__(plan_id=0)  # not one plan's: every query below is the user changes'

    def permitted(self, action: str) -> bool:
        return action != "export_audit" and super().permitted(action)  # no CSV of it (yet)

    def compose(self) -> ComposeResult:
        yield TopBar("User changes")
        yield Static("", id="audit-title", classes="screen-title", markup=False)
        yield RecordTable(COLUMNS, empty_text="No user changes you may see yet.",
                          id="audit-table")
        yield Static(self.hint_line("enter details", "filter", "sort"), classes="hint")
        yield KeyFooter()

    def on_mount(self, event: events.Mount) -> None:  # type: ignore[override]
        event.prevent_default()  # the plan audit log's on_mount (a plan's query) is not ours
        if not self.shown_to(Action.MANAGE_USERS):
            return
        table = self.query_one(RecordTable)
        table.set_source(QuerySource(self._keys, self._rows, search=self.ws.user_audit_search),
                         reload=False)
        self.refresh_data()
        table.focus()

    def _keys(self, text: str, sort: str | None, descending: bool) -> list[int]:
        return self.ws.user_audit_keys(TableQuery(text, sort, descending))

    def _rows(self, ids: list[int]) -> list[tuple[int, list[Cell], AuditEntry]]:
        return [(e.id, [local_time(e.at), e.user_name, e.action,
                        f"{e.object_type} {e.object_id if e.object_id is not None else ''}",
                        change_summary(e)], e)
                for e in self.ws.user_audit_entries(ids)]

    def refresh_data(self) -> str | None:
        table = self.query_one(RecordTable)
        table.reload()
        scope = "every user" if self.ws.user.is_admin else "the people of your plans"
        self.query_one("#audit-title", Static).update(
            f"User changes — {scope} ({table.row_count:,} entries"
            + (" in the filter" if table.filter_text else "") + ", newest first)")
        return None
