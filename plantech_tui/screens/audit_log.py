"""The plan's audit log (advisors): who did what, when, before → after; a windowed table,
newest first, filterable (/) and sortable (o); enter shows an entry whole; e exports CSV with
the CLI's CSV rules."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from textual.app import ComposeResult
from textual.widgets import Static

from ..domain.errors import NotFound
from ..domain.models import AuditEntry
from ..domain.permissions import Action
from ..service.workspace import TableQuery
from ..widgets.fmt import local_time, shown
from ..widgets.footer import KeyFooter
from ..widgets.record_table import Cell, Column, QuerySource, RecordTable
from ..widgets.topbar import TopBar
from . import actions
from .base import PlantechScreen, TextModal

AUDIT_CSV_COLUMNS = ["id", "at", "user_name", "action", "object_type", "object_id", "before",
                     "after", "detail"]
COLUMNS = [Column("when", "When", min_width=16), Column("who", "Who"),
           Column("action", "Action", min_width=14),
           Column("object", "Object"), Column("detail", "Change")]


def _load(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _short(value: Any, limit: int = 24) -> str:
    text = "—" if value is None else value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def change_summary(entry: AuditEntry) -> str:
    """The detail, then what changed: "state: pending → ignored" (a few fields at most)."""
    before, after = _load(entry.before), _load(entry.after)
    parts = [entry.detail] if entry.detail else []
    if isinstance(before, dict) and isinstance(after, dict):
        changed = [k for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k)]
        parts += [f"{k}: {_short(before.get(k))} → {_short(after.get(k))}" for k in changed[:3]]
        if len(changed) > 3:
            parts.append(f"… {len(changed) - 3:,} more")
    elif after is not None and before is None:
        parts.append("created" if not entry.detail else "")
    elif before is not None and after is None:
        parts.append("removed")
    return "; ".join(p for p in parts if p)


def object_label(entry: AuditEntry, name: str | None) -> str:
    """What an entry is about: "account 'Fidelity 1234'" when its name is known, else the
    object's type and id ("plan 3")."""
    if name is not None:
        return f"{entry.object_type} '{name}'"
    return f"{entry.object_type} {entry.object_id if entry.object_id is not None else ''}"


def csv_rows(entries: list[AuditEntry]) -> list[dict[str, Any]]:
    return [e.as_dict() for e in entries]


class AuditEntryModal(TextModal):
    TEXT_ID = "entry"

    def __init__(self, entry: AuditEntry) -> None:
        super().__init__()
        self.entry = entry

    def heading(self) -> str:
        e = self.entry
        return f"{e.action} — {e.object_type} {e.object_id or ''}"

    def text(self) -> str:
        e = self.entry

        def pretty(text: str | None) -> str:
            value = _load(text)
            return "—" if value is None else json.dumps(value, indent=2, sort_keys=True)

        return (f"When: {local_time(e.at)} (local time) · {e.at}\nWho: {e.user_name}\n"
                + (f"Detail: {e.detail}\n" if e.detail else "")
                + f"\nBefore:\n{pretty(e.before)}\n\nAfter:\n{pretty(e.after)}")


class AuditLogScreen(PlantechScreen):
    ACTIONS = actions.AUDIT_LOG

    def __init__(self, plan_id: int) -> None:
        super().__init__()
        self.plan_id = plan_id

    def compose(self) -> ComposeResult:
        yield TopBar("Plans › Audit log")
        yield Static("", id="audit-title", classes="screen-title", markup=False)
        yield RecordTable(COLUMNS, empty_text="Nothing recorded for this plan yet.",
                          id="audit-table")
        yield Static(self.hint_line("enter details", "filter", "sort", "export_audit"),
                     classes="hint")
        yield KeyFooter()

    REFRESHED_ON_MOUNT = True  # on_mount reads the data (see PlantechScreen)

    def on_mount(self) -> None:
        if not self.shown_to(Action.PLAN_INTEGRATION):
            return
        table = self.query_one(RecordTable)
        table.set_source(QuerySource(self._keys, self._rows,
                                     search=partial(self.ws.audit_search, self.plan_id)),
                         reload=False)
        if self.refresh_data() != "gone":
            table.focus()

    def _keys(self, text: str, sort: str | None, descending: bool) -> list[int]:
        return self.ws.audit_keys(self.plan_id, TableQuery(text, sort, descending))

    def _rows(self, ids: list[int]) -> list[tuple[int, list[Cell], AuditEntry]]:
        entries = self.ws.audit_entries(self.plan_id, ids)
        names = self.ws.audit_object_names(self.plan_id, entries)
        return [(e.id, [local_time(e.at), e.user_name, e.action, object_label(e, names.get(e.id)),
                        change_summary(e)], e)
                for e in entries]

    def refresh_data(self) -> str | None:
        try:
            plan = self.ws.plan(self.plan_id)
        except NotFound as exc:
            self.fail(exc)
            self.app.call_later(self.papp.leave_plan)
            return "gone"
        table = self.query_one(RecordTable)
        table.reload()
        self.query_one(TopBar).set_crumbs(f"Plans › {plan.name} › Audit log")
        self.query_one("#audit-title", Static).update(shown(
            f"Audit log — {plan.name} ({table.row_count:,} entries"
            + (" in the filter" if table.filter_text else "") + ", newest first)"))
        return None

    def on_record_table_opened(self, event: RecordTable.Opened) -> None:
        entry = event.table.record(event.key)
        if isinstance(entry, AuditEntry):
            self.app.push_screen(AuditEntryModal(entry))

    def action_export_audit(self) -> None:
        from .export import ExportModal

        if self.refused("export_audit"):
            return
        table = self.query_one(RecordTable)
        ids = [int(k) for k in table.keys]

        def rows() -> list[dict[str, Any]]:
            return csv_rows(self.ws.audit_entries(self.plan_id, ids))

        what = f"the {len(ids):,} entries of the filter" if table.filter_text else \
            f"all {len(ids):,} entries"
        self.app.push_screen(ExportModal(
            self.plan_id, title="Export audit log CSV",
            note=f"One row per audit entry: {what}, in the order shown.", rows=rows,
            columns=AUDIT_CSV_COLUMNS, suffix="-audit"))
