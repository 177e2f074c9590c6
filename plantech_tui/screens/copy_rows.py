"""`y` (yank): copy what you see — the marked rows, else the cursor row — as CSV through the
terminal's clipboard (OSC 52, which works over SSH; `App.copy_to_clipboard` writes it).

A screen with a table mixes in `CopyRows`, lists `COPY_BINDING` and `COPY_PALETTE` with its
other keys, and says which table is in front (`copy_table`) and what a row is as CSV
(`copy_columns`, `copy_record`). Every role may copy, and copies only the rows its screen
shows: marked rows the filter hides are left out (the notice says so). The CSV is the
export's (csv_text: formula-looking text prefixed with ')."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from textual.binding import Binding

from ..domain.models import PlanAccount, StagedAccount
from ..service.export import csv_text
from ..widgets.record_table import RecordTable
from .base import PaletteEntry

if TYPE_CHECKING:
    from textual.screen import Screen

COPY_BINDING = Binding("y", "copy_rows", "Copy", id="copy",
                       tooltip="Copy the highlighted or marked rows as CSV")
COPY_PALETTE: PaletteEntry = ("Copy rows as CSV", "copy_rows",
                              "Copy the highlighted row, or the marked rows, to the clipboard")

ACCOUNT_COLUMNS = ("description", "last4", "balance", "investment_type", "owner", "link",
                   "redtail_account_id")
STAGED_COLUMNS = ("description", "company", "last4", "balance", "redtail_type", "state",
                  "ignore_reason", "redtail_account_id", "redtail_contact_ids")


def account_row(a: PlanAccount) -> dict[str, Any]:
    return {"description": a.description, "last4": a.number_last4 or "",
            "balance": a.balance, "investment_type": a.investment_type, "owner": a.owner,
            "link": a.link.state.value if a.link else "manual",
            "redtail_account_id": a.link.redtail_account_id if a.link else ""}


def staged_row(s: StagedAccount) -> dict[str, Any]:
    return {"description": s.description, "company": s.company or "",
            "last4": s.number_last4 or "", "balance": s.balance,
            "redtail_type": s.account_type or "", "state": str(s.state),
            "ignore_reason": s.ignore_reason or "",
            "redtail_account_id": s.redtail_account_id,
            "redtail_contact_ids": " ".join(str(c) for c in s.contact_ids)}


class CopyRows:
    """Mixin for screens with a RecordTable: `action_copy_rows`."""

    def copy_table(self) -> RecordTable:
        return cast("Screen[Any]", self).query_one(RecordTable)

    def copy_columns(self) -> Sequence[str]:
        raise NotImplementedError

    def copy_record(self, key: str, record: Any) -> dict[str, Any] | None:
        """A row as CSV cells by column (None: nothing to copy)."""
        raise NotImplementedError

    def copy_text(self) -> tuple[str, int, int]:
        """(the CSV, rows copied, marked rows left out because the filter hides them)."""
        table = self.copy_table()
        if table.marks:
            keys = [k for k in table.keys if k in table.marks]
            hidden = table.hidden_marks
        else:
            keys = [table.cursor_key] if table.cursor_key else []
            hidden = 0
        rows = [row for key in keys
                if (row := self.copy_record(key, table.record(key))) is not None]
        if not rows:
            return "", 0, hidden
        return csv_text(rows, list(self.copy_columns())), len(rows), hidden

    def action_copy_rows(self) -> None:
        screen = cast("Screen[Any]", self)
        text, count, hidden = self.copy_text()
        if not count:
            screen.notify("Nothing to copy: no row here", severity="warning", markup=False)
            return
        screen.app.copy_to_clipboard(text)
        said = f"Copied {count:,} row{'' if count == 1 else 's'}"
        if hidden:
            said += (f" ({hidden:,} marked row{'' if hidden == 1 else 's'} hidden by the "
                     "filter not copied)")
        screen.notify(said, markup=False)
