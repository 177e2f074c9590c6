"""RecordTable: keyed rows, updated in place by key, with optional marks.

Screens talk only to this interface (`set_rows`, `cursor_key`, marks, `Opened`), never to the
DataTable inside, so a windowed SQLite-backed table can replace it later for very large plans
without touching the screens.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.message import Message
from textual.widget import Widget
from textual.widgets import DataTable, Static

from .icons import icons

Cell = str | Text
Row = tuple[str, Sequence[Cell]]
MARK_COLUMN = "_mark"


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    width: int | None = None


@dataclass(frozen=True)
class RowChanges:
    added: int = 0
    changed: int = 0
    removed: int = 0

    @property
    def any(self) -> bool:
        return bool(self.added or self.changed or self.removed)

    def describe(self, noun: str) -> str:
        """ "2 accounts added, 1 changed" (only what happened)."""
        parts = [(n, verb) for n, verb in ((self.added, "added"), (self.changed, "changed"),
                                           (self.removed, "removed")) if n]
        if not parts:
            return ""
        (n, verb), rest = parts[0], parts[1:]
        return ", ".join([f"{n} {noun}{'' if n == 1 else 's'} {verb}"]
                         + [f"{m} {v}" for m, v in rest])

    def __add__(self, other: RowChanges) -> RowChanges:
        return RowChanges(self.added + other.added, self.changed + other.changed,
                          self.removed + other.removed)


def cell_text(cell: object) -> str:
    return cell.plain if isinstance(cell, Text) else str(cell)


class RecordTable(Widget):
    """A table of records identified by string keys."""

    DEFAULT_CSS = """
    RecordTable { height: 1fr; }
    RecordTable > DataTable { height: auto; max-height: 100%; }
    RecordTable > .empty { color: $text-muted; padding: 1 2; display: none; }
    RecordTable.-empty > .empty { display: block; }
    """

    class Opened(Message):
        """Enter (or a click) on a row."""

        def __init__(self, table: RecordTable, key: str) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> RecordTable:
            return self.table

    class Highlighted(Message):
        def __init__(self, table: RecordTable, key: str | None) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> RecordTable:
            return self.table

    def __init__(self, columns: Sequence[Column], *, empty_text: str = "",
                 markable: bool = False, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._columns = list(columns)
        self._empty_text = empty_text
        self.markable = markable
        self._rows: dict[str, tuple[Cell, ...]] = {}
        self._order: list[str] = []
        self.marks: set[str] = set()

    def compose(self) -> ComposeResult:
        yield DataTable(cursor_type="row", zebra_stripes=True)
        yield Static(self._empty_text, classes="empty")

    @property
    def table(self) -> DataTable[Cell]:
        return self.query_one(DataTable)

    def on_mount(self) -> None:
        table = self.table
        if self.markable:
            table.add_column(" ", key=MARK_COLUMN, width=max(1, len(icons().mark)))
        for col in self._columns:
            table.add_column(col.label, key=col.key, width=col.width)
        self.set_class(not self._order, "-empty")

    def focus(self, scroll_visible: bool = True) -> RecordTable:
        self.table.focus(scroll_visible)
        return self

    def set_empty_text(self, text: str) -> None:
        self._empty_text = text
        self.query_one(".empty", Static).update(text)

    # ------------------------------------------------------------------ rows

    @property
    def keys(self) -> list[str]:
        return list(self._order)

    @property
    def row_count(self) -> int:
        # not __len__: a widget must stay truthy (Textual tests `if self._parent`)
        return len(self._order)

    def _mark_cell(self, key: str) -> str:
        return icons().mark if key in self.marks else ""

    def _full(self, key: str, cells: Sequence[Cell]) -> list[Cell]:
        return ([self._mark_cell(key)] if self.markable else []) + list(cells)

    def set_rows(self, rows: Iterable[Row]) -> RowChanges:
        """Show exactly these rows, in this order; unchanged rows are not touched."""
        new_rows = [(k, tuple(cells)) for k, cells in rows]
        new_keys = [k for k, _ in new_rows]
        new_map = dict(new_rows)
        table = self.table
        cursor = self.cursor_key
        removed = [k for k in self._order if k not in new_map]
        kept = [k for k in self._order if k in new_map]
        added = [k for k in new_keys if k not in self._rows]
        changed = [k for k in kept if self._rows[k] != new_map[k]]
        if new_keys == kept + added:
            for key in removed:
                table.remove_row(key)
            for key in changed:
                for col, value in zip(self._columns, new_map[key], strict=True):
                    table.update_cell(key, col.key, value, update_width=True)
            for key in added:
                table.add_row(*self._full(key, new_map[key]), key=key)
        else:  # the order changed: rebuild (rare; keeps the cursor on its record)
            table.clear()
            for key in new_keys:
                table.add_row(*self._full(key, new_map[key]), key=key)
        self._rows = new_map
        self._order = new_keys
        self.marks &= set(new_keys)
        if cursor in new_map:
            self.move_to(cursor)
        self.set_class(not new_keys, "-empty")
        return RowChanges(len(added), len(changed), len(removed))

    def cells(self, key: str) -> list[str]:
        """The text of a row's cells (without the mark column)."""
        return [cell_text(c) for c in self._rows[key]]

    def cell(self, key: str, column: str) -> str:
        index = [c.key for c in self._columns].index(column)
        return cell_text(self._rows[key][index])

    def find(self, column: str, text: str) -> str | None:
        """The key of the first row whose cell in `column` contains `text`."""
        for key in self._order:
            if text in self.cell(key, column):
                return key
        return None

    # ------------------------------------------------------------------ cursor

    @property
    def cursor_key(self) -> str | None:
        if not self._order:
            return None
        row = self.table.cursor_row
        if 0 <= row < len(self._order):
            return self._order[row]
        return None

    def move_to(self, key: str) -> None:
        if key in self._rows:
            self.table.move_cursor(row=self._order.index(key), animate=False)

    def advance(self) -> None:
        row = self.table.cursor_row
        if row + 1 < len(self._order):
            self.table.move_cursor(row=row + 1, animate=False)

    # ------------------------------------------------------------------ marks

    def toggle_mark(self, key: str | None = None) -> None:
        key = key or self.cursor_key
        if key is None or not self.markable:
            return
        self.marks.symmetric_difference_update({key})
        self.table.update_cell(key, MARK_COLUMN, self._mark_cell(key))

    def mark_all(self) -> None:
        for key in self._order:
            if key not in self.marks:
                self.toggle_mark(key)

    def clear_marks(self) -> bool:
        had = bool(self.marks)
        for key in list(self.marks):
            self.toggle_mark(key)
        return had

    def chosen(self) -> list[str]:
        """The marked rows (in table order), else the cursor row."""
        if self.marks:
            return [k for k in self._order if k in self.marks]
        return [self.cursor_key] if self.cursor_key else []

    # ------------------------------------------------------------------ events

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(self.Opened(self, event.row_key.value))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self.post_message(self.Highlighted(self, event.row_key.value))
